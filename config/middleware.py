"""Request-size guard that answers before any parser reads the body."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from config.errors import error_response


class BodySizeLimitMiddleware:
    """Refuse bodies over CDS_HOOKS['MAX_BODY_BYTES'] with a 413 in the common error shape.

    Django would raise RequestDataTooBig lazily inside the view; answering here keeps the
    error shape uniform and spends nothing on a body we will not read.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.limit = int(settings.CDS_HOOKS["MAX_BODY_BYTES"])

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
        except ValueError:
            return error_response(400, "bad_request", "Content-Length is not a number.")
        if length > self.limit:
            return error_response(
                413,
                "payload_too_large",
                "Request body exceeds the size limit.",
                {"limit_bytes": self.limit, "content_length": length},
            )
        return self.get_response(request)
