"""Strict validation of CDS Hooks request bodies (hook request and feedback).

Every field is checked for type and size; a problem becomes a 400 with a `details` map of
JSON paths to messages. Hook contexts follow CDS Hooks Library 1.0.1.
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlsplit

from config.errors import ApiError

MAX_ID = 256
MAX_PREFETCH_KEYS = 64
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
USER_REFERENCE = re.compile(
    r"^(Practitioner|PractitionerRole|Patient|RelatedPerson)/[A-Za-z0-9\-.]{1,64}$"
)

# Library 1.0.1 contexts: field -> (required, kind)
HOOK_CONTEXTS: dict[str, dict[str, tuple[bool, str]]] = {
    "patient-view": {
        "userId": (True, "user"),
        "patientId": (True, "id"),
        "encounterId": (False, "id"),
    },
    "order-select": {
        "userId": (True, "user"),
        "patientId": (True, "id"),
        "encounterId": (False, "id"),
        "selections": (True, "references"),
        "draftOrders": (True, "bundle"),
    },
    "order-sign": {
        "userId": (True, "user"),
        "patientId": (True, "id"),
        "encounterId": (False, "id"),
        "draftOrders": (True, "bundle"),
    },
}


class RequestInvalid(ApiError):
    status_code = 400
    code = "invalid_request"


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 64:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _url_ok(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 2048:
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _context_validate(hook: str, context: Any, errors: dict[str, str]) -> None:
    if not isinstance(context, dict):
        errors["context"] = "must be an object"
        return
    spec = HOOK_CONTEXTS[hook]
    for name, (required, kind) in spec.items():
        if name not in context:
            if required:
                errors[f"context.{name}"] = "is required"
            continue
        value = context[name]
        if kind == "id" and not (isinstance(value, str) and FHIR_ID.match(value)):
            errors[f"context.{name}"] = "must be a FHIR id"
        elif kind == "user" and not (isinstance(value, str) and USER_REFERENCE.match(value)):
            errors[f"context.{name}"] = "must be a reference like Practitioner/123"
        elif kind == "references" and not (
            isinstance(value, list)
            and len(value) <= 100
            and all(isinstance(v, str) and 0 < len(v) <= MAX_ID and "/" in v for v in value)
        ):
            errors[f"context.{name}"] = "must be an array of references like MedicationRequest/1"
        elif kind == "bundle" and not _bundle_ok(value):
            errors[f"context.{name}"] = "must be a FHIR Bundle whose entries hold resources"
    selections, drafts = context.get("selections"), context.get("draftOrders")
    if (
        "selections" in spec
        and "context.selections" not in errors
        and "context.draftOrders" not in errors
        and isinstance(selections, list)
        and _bundle_ok(drafts)
    ):
        # Library 1.0.1: selections reference resources in the draftOrders Bundle.
        drafted = {
            f"{e['resource']['resourceType']}/{e['resource'].get('id')}"
            for e in drafts.get("entry", [])
        }
        unknown = [s for s in selections if s not in drafted]
        if unknown:
            errors["context.selections"] = f"not in draftOrders: {unknown[:5]}"


def _bundle_ok(value: Any) -> bool:
    if not (isinstance(value, dict) and value.get("resourceType") == "Bundle"):
        return False
    entries = value.get("entry", [])
    return isinstance(entries, list) and all(
        isinstance(e, dict)
        and isinstance(e.get("resource"), dict)
        and isinstance(e["resource"].get("resourceType"), str)
        for e in entries
    )


def hook_request_validate(*, body: Any, expected_hook: str) -> dict[str, Any]:
    """Return the body when it is a valid request for `expected_hook`, else raise 400."""
    if not isinstance(body, dict):
        raise RequestInvalid("The request body must be a JSON object.")
    errors: dict[str, str] = {}
    hook = body.get("hook")
    if hook != expected_hook:
        errors["hook"] = f"must be {expected_hook!r} for this service"
    if not _is_uuid(body.get("hookInstance")):
        errors["hookInstance"] = "must be a UUID"
    if "fhirServer" in body and not _url_ok(body["fhirServer"]):
        errors["fhirServer"] = "must be an absolute http(s) URL"
    auth = body.get("fhirAuthorization")
    if auth is not None:
        if "fhirServer" not in body:
            errors["fhirAuthorization"] = "needs fhirServer"
        if not isinstance(auth, dict):
            errors["fhirAuthorization"] = "must be an object"
        else:
            for key in ("access_token", "token_type", "scope", "subject"):
                if not isinstance(auth.get(key), str) or not auth.get(key):
                    errors[f"fhirAuthorization.{key}"] = "is required (string)"
            if isinstance(auth.get("token_type"), str) and auth["token_type"].lower() != "bearer":
                errors["fhirAuthorization.token_type"] = "must be Bearer"
            if "expires_in" in auth and (
                isinstance(auth["expires_in"], bool) or not isinstance(auth["expires_in"], int)
            ):
                errors["fhirAuthorization.expires_in"] = "must be an integer"
    prefetch = body.get("prefetch")
    if prefetch is not None and not (
        isinstance(prefetch, dict)
        and len(prefetch) <= MAX_PREFETCH_KEYS
        and all(v is None or isinstance(v, dict) for v in prefetch.values())
    ):
        errors["prefetch"] = "must be an object of FHIR resources (or null values)"
    if "extension" in body and not isinstance(body["extension"], dict):
        # CDS Hooks §Extensions: the value is a pre-coordinated JSON object.
        errors["extension"] = "must be an object"
    if isinstance(hook, str) and hook in HOOK_CONTEXTS:
        _context_validate(hook, body.get("context"), errors)
    if errors:
        raise RequestInvalid("The hook request is not valid.", details=errors)
    return body


FEEDBACK_OUTCOMES = ("accepted", "overridden")


def feedback_request_validate(*, body: Any) -> list[dict[str, Any]]:
    """Return the feedback items of a valid feedback body, else raise 400."""
    if not isinstance(body, dict) or not isinstance(body.get("feedback"), list):
        raise RequestInvalid("The body must be an object with a `feedback` array.")
    items = body["feedback"]
    if not items or len(items) > 100:
        raise RequestInvalid("`feedback` must hold 1 to 100 items.")
    errors: dict[str, str] = {}
    for i, item in enumerate(items):
        path = f"feedback[{i}]"
        if not isinstance(item, dict):
            errors[path] = "must be an object"
            continue
        if not isinstance(item.get("card"), str) or not 0 < len(item["card"]) <= MAX_ID:
            errors[f"{path}.card"] = "is required (the card uuid)"
        outcome = item.get("outcome")
        if outcome not in FEEDBACK_OUTCOMES:
            errors[f"{path}.outcome"] = f"must be one of {FEEDBACK_OUTCOMES}"
        ts = item.get("outcomeTimestamp")
        if not isinstance(ts, str) or not re.match(r"^\d{4}-\d{2}-\d{2}T", ts):
            errors[f"{path}.outcomeTimestamp"] = "must be an ISO 8601 instant"
        accepted = item.get("acceptedSuggestions")
        if accepted is not None:
            if outcome != "accepted":
                errors[f"{path}.acceptedSuggestions"] = "only with outcome accepted"
            elif not (
                isinstance(accepted, list)
                and all(isinstance(s, dict) and isinstance(s.get("id"), str) for s in accepted)
            ):
                errors[f"{path}.acceptedSuggestions"] = "must be an array of {id}"
        override = item.get("overrideReason")
        if override is not None:
            if outcome != "overridden":
                errors[f"{path}.overrideReason"] = "only with outcome overridden"
            elif not isinstance(override, dict):
                errors[f"{path}.overrideReason"] = "must be an object"
            else:
                reason = override.get("reason")
                if reason is not None and not (
                    isinstance(reason, dict)
                    and isinstance(reason.get("code"), str)
                    and isinstance(reason.get("system"), str)
                ):
                    errors[f"{path}.overrideReason.reason"] = "must be a Coding with code, system"
                comment = override.get("userComment")
                if comment is not None and not (isinstance(comment, str) and len(comment) <= 4000):
                    errors[f"{path}.overrideReason.userComment"] = "must be a string"
    if errors:
        raise RequestInvalid("The feedback is not valid.", details=errors)
    return items
