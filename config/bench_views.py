"""A bare DRF endpoint for bench/hooks.py: the same stack (middleware, DRF, JSON parser and
renderer, gunicorn) doing no CDS work, so hook latency is read against what the framework
alone costs on the same machine in the same run. Routed only when CDS_BENCH_BARE_ENDPOINT
is on; config.checks refuses that setting in production."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class BareView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        return Response({"services": []})

    @extend_schema(exclude=True)
    def post(self, request: Request) -> Response:
        # Parse the body like a hook does, answer like an empty hook answer.
        return Response(
            {"cards": [], "keys": len(request.data) if isinstance(request.data, dict) else 0}
        )
