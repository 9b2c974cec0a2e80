"""Prefetch resolution: use what the EHR sent, read what is missing from its FHIR server.

The spec lets an EHR omit keys, send `null`, or send an OperationOutcome where it failed;
in each case the service reads the data itself from `fhirServer` with `fhirAuthorization`.
When it cannot, the call is answered 412 (CDS Hooks 2.0 §Prefetch).
"""

from __future__ import annotations

import re
from typing import Any

from config.errors import PreconditionFailed
from ehr_integration.fhir_fetch import (
    FhirFetchError,
    bundle_has_next,
    fhir_bundle_complete,
    fhir_search_all,
)

TOKEN = re.compile(r"\{\{\s*context\.([A-Za-z]+)\s*\}\}")


def prefetch_template_render(template: str, context: dict[str, Any]) -> str:
    def substitute(match: re.Match[str]) -> str:
        value = context.get(match.group(1))
        if not isinstance(value, str):
            raise PreconditionFailed(
                "A prefetch template needs a context value the request lacks.",
                details={"template": template, "missing": match.group(1)},
            )
        return value

    return TOKEN.sub(substitute, template)


def _usable(value: Any) -> bool:
    return isinstance(value, dict) and value.get("resourceType") not in (None, "OperationOutcome")


def prefetch_resolve(
    *,
    templates: dict[str, str],
    prefetch: dict[str, Any] | None,
    context: dict[str, Any],
    fhir_server: str | None,
    fhir_authorization: dict[str, Any] | None,
    allowed_hosts: list[str],
) -> dict[str, Any]:
    """Return {key: resource-or-Bundle} for every template key, fetching what is missing."""
    sent = prefetch or {}
    resolved: dict[str, Any] = {}
    missing: list[str] = []
    partial: list[str] = []
    for key in templates:
        value = sent.get(key)
        if not _usable(value):
            missing.append(key)
        elif bundle_has_next(value):
            partial.append(key)  # a first page only: the rest is read from fhirServer
        else:
            resolved[key] = value
    if not missing and not partial:
        return {key: resolved[key] for key in templates}
    if not fhir_server:
        raise PreconditionFailed(
            "Prefetch data is missing and no fhirServer was given to read it from.",
            details={"missing": missing, "incomplete": partial},
        )
    token = (fhir_authorization or {}).get("access_token")
    for key in partial:
        try:
            resolved[key] = fhir_bundle_complete(
                bundle=sent[key],
                base_url=fhir_server,
                access_token=token,
                allowed_hosts=allowed_hosts,
            )
        except FhirFetchError as exc:
            raise PreconditionFailed(
                "A paginated prefetch Bundle could not be completed from the FHIR server.",
                details={"incomplete": key, "reason": exc.reason},
            ) from exc
    for key in missing:
        query = prefetch_template_render(templates[key], context)
        try:
            resolved[key] = fhir_search_all(
                base_url=fhir_server, query=query, access_token=token, allowed_hosts=allowed_hosts
            )
        except FhirFetchError as exc:
            raise PreconditionFailed(
                "Prefetch data is missing and could not be read from the FHIR server.",
                details={"missing": key, "reason": exc.reason},
            ) from exc
    return {key: resolved[key] for key in templates}
