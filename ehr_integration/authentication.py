"""DRF authentication class for CDS Hooks calls: Bearer JWT signed by a registered EHR."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from ehr_integration.jwt_verify import JwtRejected, VerifiedCaller, jwt_verify

logger = logging.getLogger("ehr_integration.auth")


def endpoint_audience(path: str) -> str:
    """The `aud` an EHR must use: the public base URL plus the path, never the Host header."""
    return settings.CDS_HOOKS["PUBLIC_BASE_URL"] + path


class CdsHooksJwtAuthentication(BaseAuthentication):
    """Authenticates an EHR by the JWT in `Authorization: Bearer`; 401 + WWW-Authenticate."""

    www_authenticate_realm = "cds-hooks"

    def authenticate(self, request: Request) -> tuple[VerifiedCaller, dict[str, Any]] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            logger.info("cds auth refused reason=missing_bearer path=%s", request.path)
            raise AuthenticationFailed()
        try:
            caller = jwt_verify(token=token.strip(), audience=endpoint_audience(request.path))
        except JwtRejected as exc:
            # Log the reason code only: the token itself never reaches a log line.
            logger.info("cds auth refused reason=%s path=%s", exc.reason, request.path)
            raise AuthenticationFailed() from None
        logger.debug("cds auth ok iss=%s jti=%s", caller.issuer, caller.jti)
        return caller, {"jti": caller.jti}

    def authenticate_header(self, request: Request) -> str:
        return f'Bearer realm="{self.www_authenticate_realm}"'
