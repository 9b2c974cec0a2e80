"""Writes to the EHR client registry (HackSoft style: views and commands call these)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from config.errors import ApiError
from ehr_integration.models import EhrClient

ASYMMETRIC = ("ES", "RS", "PS", "Ed")


def _jwks_validate(jwks: Any) -> None:
    if jwks is None:
        return
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise ApiError("jwks must be a JWK Set with a non-empty `keys` list.", code="invalid_jwks")
    for key in jwks["keys"]:
        if not isinstance(key, dict) or key.get("kty") not in {"EC", "RSA", "OKP"}:
            raise ApiError("Only EC, RSA and OKP public keys are accepted.", code="invalid_jwks")
        if "d" in key:
            raise ApiError(
                "A private key was sent; register only public keys.", code="invalid_jwks"
            )


def ehr_client_register(
    *,
    issuer: str,
    jwks: dict[str, Any] | None = None,
    jku_allowlist: list[str] | None = None,
    tenant: str = "",
    fhir_base_url: str = "",
    name: str = "",
    allowed_algorithms: list[str] | None = None,
    enabled_services: list[str] | None = None,
) -> EhrClient:
    """Create or update the client for `issuer`; at least one way to get its keys is required."""
    _jwks_validate(jwks)
    if not jwks and not jku_allowlist:
        raise ApiError("Give pinned jwks or at least one jku URL.", code="no_key_source")
    for jku in jku_allowlist or []:
        if not jku.startswith("https://"):
            raise ApiError("jku URLs must be https.", code="invalid_jku", details={"jku": jku})
    algorithms = allowed_algorithms or ["ES384", "RS384"]
    bad = [a for a in algorithms if not a.startswith(ASYMMETRIC)]
    if bad:
        raise ApiError(
            "Only asymmetric algorithms are allowed.",
            code="invalid_algorithms",
            details={"rejected": bad},
        )
    with transaction.atomic():
        client, _ = EhrClient.objects.update_or_create(
            issuer=issuer,
            defaults={
                "jwks": jwks,
                "jku_allowlist": list(jku_allowlist or []),
                "tenant": tenant,
                "fhir_base_url": fhir_base_url,
                "name": name,
                "allowed_algorithms": algorithms,
                "enabled_services": list(enabled_services or []),
                "is_active": True,
            },
        )
    return client
