"""CDS Hooks HTTP surface: discovery, hook calls, feedback. Views validate, call, serialize."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cds.catalog import ServiceDefinition, service_get, services_all
from cds.hook_flow import feedback_handle, hook_call_handle
from config.errors import NotFound
from ehr_integration.authentication import CdsHooksJwtAuthentication


def _service(service_id: str) -> ServiceDefinition:
    service = service_get(service_id)
    if service is None:
        raise NotFound("No CDS service with this id.", details={"service": service_id})
    return service


class DiscoveryView(APIView):
    """GET /cds-services: the services, their hooks and prefetch templates (no auth needed)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(summary="CDS Hooks discovery", responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response({"services": [s.discovery_json() for s in services_all()]})


class HookView(APIView):
    """POST /cds-services/{id}: one hook call from an authenticated EHR."""

    authentication_classes = [CdsHooksJwtAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(summary="Call a CDS service", request=dict, responses={200: dict})
    def post(self, request: Request, service_id: str) -> Response:
        service = _service(service_id)
        return Response(hook_call_handle(service=service, caller=request.user, body=request.data))


class FeedbackView(APIView):
    """POST /cds-services/{id}/feedback: what the clinician did with the cards."""

    authentication_classes = [CdsHooksJwtAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(summary="Card feedback", request=dict, responses={200: dict})
    def post(self, request: Request, service_id: str) -> Response:
        service = _service(service_id)
        feedback_handle(service=service, caller=request.user, body=request.data)
        return Response({})
