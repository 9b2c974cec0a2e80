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


def _string_list(value: Any, field: str) -> list[str]:
    """JSON list fields arrive untyped from the API: refuse anything but a list of strings."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ApiError(
            f"{field} must be a list of non-empty strings.",
            code="invalid_request",
            details={field: "must be a list of non-empty strings"},
        )
    return value


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
    instance: EhrClient | None = None,
) -> EhrClient:
    """Create or update the client for `issuer` (or update `instance`, issuer included);
    at least one way to get its keys is required."""
    _jwks_validate(jwks)
    jku_allowlist = _string_list(jku_allowlist, "jku_allowlist")
    enabled_services = _string_list(enabled_services, "enabled_services")
    allowed_algorithms = _string_list(allowed_algorithms, "allowed_algorithms") or None
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
    fields = {
        "jwks": jwks,
        "jku_allowlist": list(jku_allowlist or []),
        "tenant": tenant,
        "fhir_base_url": fhir_base_url,
        "name": name,
        "allowed_algorithms": algorithms,
        "enabled_services": list(enabled_services or []),
        "is_active": True,
    }
    with transaction.atomic():
        if instance is not None:
            # An update through the API edits that client, even when its issuer changes;
            # matching on the new issuer would silently create a second client instead.
            for key, value in {"issuer": issuer, **fields}.items():
                setattr(instance, key, value)
            instance.save()
            return instance
        client, _ = EhrClient.objects.update_or_create(issuer=issuer, defaults=fields)
    return client
