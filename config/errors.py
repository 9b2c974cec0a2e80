"""One error shape for every client error: {"error": code, "message": ..., "details": ...}.

Domain code raises `ApiError` subclasses (or DRF's exceptions); this handler is the only
place that turns them into HTTP, so a client never sees a stack trace or a second shape.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """A domain error with a stable machine-readable code and an HTTP status."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code


class NotFound(ApiError):
    status_code = 404
    code = "not_found"


class Forbidden(ApiError):
    status_code = 403
    code = "forbidden"


class PreconditionFailed(ApiError):
    """CDS Hooks: the service cannot get the FHIR data it needs (spec: 412)."""

    status_code = 412
    code = "prefetch_unavailable"


class UnsupportedMediaType(ApiError):
    status_code = 415
    code = "unsupported_media_type"


class PayloadTooLarge(ApiError):
    status_code = 413
    code = "payload_too_large"


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": code, "message": message, "details": details}


def error_response(status: int, code: str, message: str, details: Any = None) -> JsonResponse:
    return JsonResponse(error_body(code, message, details), status=status)


_DRF_CODES: dict[type[Exception], str] = {
    drf_exceptions.ParseError: "malformed_json",
    drf_exceptions.ValidationError: "invalid_request",
    drf_exceptions.NotAuthenticated: "unauthorized",
    drf_exceptions.AuthenticationFailed: "unauthorized",
    drf_exceptions.PermissionDenied: "forbidden",
    drf_exceptions.NotFound: "not_found",
    drf_exceptions.MethodNotAllowed: "method_not_allowed",
    drf_exceptions.NotAcceptable: "not_acceptable",
    drf_exceptions.UnsupportedMediaType: "unsupported_media_type",
    drf_exceptions.Throttled: "throttled",
}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApiError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("payload_too_large", "Request body exceeds the size limit."), status=413
        )
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real server fault: Django's 500 handler answers in the same shape
    code = next((c for t, c in _DRF_CODES.items() if isinstance(exc, t)), "bad_request")
    if isinstance(exc, drf_exceptions.ValidationError):
        message, details = "The request is not valid.", exc.detail
    elif isinstance(exc, drf_exceptions.AuthenticationFailed | drf_exceptions.NotAuthenticated):
        # 401 bodies are generic on purpose: the reason is logged, never told to the caller.
        message, details = "Authentication failed.", None
    else:
        message, details = str(exc.detail), None
    response.data = error_body(code, message, details)
    return response


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(400, "bad_request", "The request could not be understood.")


def handler403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(403, "forbidden", "You are not allowed to do this.")


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(404, "not_found", "No such resource.")


def handler500(request: HttpRequest) -> JsonResponse:
    return error_response(500, "server_error", "The server failed; the error has been logged.")
