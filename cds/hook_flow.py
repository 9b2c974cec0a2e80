"""The flow of one decision: validate, resolve prefetch, evaluate, record, answer.

The audit record is written in the same transaction as the decision, so no card leaves the
service without its record: if the record cannot be written the call fails.
"""

from __future__ import annotations

import time
from typing import Any

from django.db import transaction

from audit.services import decision_record_append
from cds.cards import cards_response_validate
from cds.catalog import HookCall, ServiceDefinition
from cds.hook_request import feedback_request_validate, hook_request_validate
from cds.models import CardFeedback
from config.errors import Forbidden
from ehr_integration.jwt_verify import VerifiedCaller
from ehr_integration.prefetch import prefetch_resolve


def _allowed_hosts(caller: VerifiedCaller, fhir_server: str | None) -> list[str]:
    from urllib.parse import urlsplit

    hosts = []
    if caller.fhir_base_url:
        hosts.append(urlsplit(caller.fhir_base_url).hostname or "")
    # The fhirServer of a request from an authenticated EHR is trusted only when the EHR
    # registered no base URL; otherwise it must match the registered host.
    if fhir_server and not caller.fhir_base_url:
        hosts.append(urlsplit(fhir_server).hostname or "")
    return [h for h in hosts if h]


def service_access_check(*, service: ServiceDefinition, caller: VerifiedCaller) -> None:
    if caller.enabled_services and service.id not in caller.enabled_services:
        raise Forbidden(
            "This EHR client is not enabled for the service.", details={"service": service.id}
        )


def hook_call_handle(
    *, service: ServiceDefinition, caller: VerifiedCaller, body: Any
) -> dict[str, Any]:
    """Answer one hook call with {"cards": [...]} and leave its audit record."""
    started = time.perf_counter()
    service_access_check(service=service, caller=caller)
    request = hook_request_validate(body=body, expected_hook=service.hook)
    fhir_server = request.get("fhirServer")
    prefetch = prefetch_resolve(
        templates=service.prefetch,
        prefetch=request.get("prefetch"),
        context=request["context"],
        fhir_server=fhir_server,
        fhir_authorization=request.get("fhirAuthorization"),
        allowed_hosts=_allowed_hosts(caller, fhir_server),
    )
    call = HookCall(
        service_id=service.id,
        hook=service.hook,
        hook_instance=request["hookInstance"],
        context=request["context"],
        prefetch=prefetch,
        fhir_server=fhir_server or "",
        caller_client_id=caller.client_id,
        caller_tenant=caller.tenant,
    )
    outcome = service.evaluate(call)
    response: dict[str, Any] = {"cards": outcome.cards}
    if outcome.system_actions:
        response["systemActions"] = outcome.system_actions
    cards_response_validate(response)  # a service bug must never reach the EHR as a bad card
    with transaction.atomic():
        decision_record_append(
            event={
                "kind": "hook",
                "service_id": service.id,
                "hook": service.hook,
                "hook_instance": call.hook_instance,
                "client_id": caller.client_id,
                "tenant": caller.tenant,
                "jti": caller.jti,
                "context": call.context,
                "response": response,
                "decision": outcome.decision,
                "latency_ms": (time.perf_counter() - started) * 1000.0,
            }
        )
    return response


def feedback_handle(*, service: ServiceDefinition, caller: VerifiedCaller, body: Any) -> int:
    """Store each feedback item and its audit record in one transaction; return the count."""
    service_access_check(service=service, caller=caller)
    items = feedback_request_validate(body=body)
    with transaction.atomic():
        for item in items:
            CardFeedback.objects.create(
                service_id=service.id,
                card_uuid=item["card"],
                outcome=item["outcome"],
                outcome_timestamp=item["outcomeTimestamp"],
                accepted_suggestions=item.get("acceptedSuggestions") or [],
                override_reason=item.get("overrideReason"),
                client_id=caller.client_id,
                tenant=caller.tenant,
            )
            decision_record_append(
                event={
                    "kind": "feedback",
                    "service_id": service.id,
                    "client_id": caller.client_id,
                    "tenant": caller.tenant,
                    "jti": caller.jti,
                    "feedback": item,
                }
            )
    return len(items)
