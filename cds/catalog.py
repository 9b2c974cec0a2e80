"""The CDS services this product offers: what discovery lists and what each hook call runs.

A service is data plus one `evaluate` function. The clinical content (guideline engine,
model ranking, SHAP) plugs in through `evaluate`; the HTTP surface never changes for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PATIENT_PREFETCH: dict[str, str] = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
    "medications": "MedicationRequest?patient={{context.patientId}}",
}

USAGE = (
    "Send the prefetch keys listed, or fhirServer with fhirAuthorization (scopes: "
    "patient/Patient.read patient/Condition.read patient/Observation.read "
    "patient/MedicationRequest.read) so the service can read what is missing."
)


@dataclass(frozen=True)
class HookCall:
    """A validated hook request, with prefetch resolved (every template key present)."""

    service_id: str
    hook: str
    hook_instance: str
    context: dict[str, Any]
    prefetch: dict[str, Any]
    fhir_server: str
    caller_client_id: str
    caller_tenant: str


@dataclass
class ServiceOutcome:
    """What a service decided: the cards for the EHR and the facts the audit log keeps."""

    cards: list[dict[str, Any]] = field(default_factory=list)
    system_actions: list[dict[str, Any]] = field(default_factory=list)
    decision: dict[str, Any] = field(default_factory=dict)


Evaluator = Callable[[HookCall], ServiceOutcome]


def _no_content_yet(call: HookCall) -> ServiceOutcome:
    """Until the guideline and model content is wired in a service shows nothing (never a
    fake recommendation)."""
    return ServiceOutcome(decision={"note": "no clinical content configured"})


@dataclass(frozen=True)
class ServiceDefinition:
    id: str
    hook: str
    title: str
    description: str
    prefetch: dict[str, str]
    evaluate: Evaluator = _no_content_yet
    usage_requirements: str = USAGE

    def discovery_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "hook": self.hook,
            "title": self.title,
            "description": self.description,
            "prefetch": dict(self.prefetch),
            "usageRequirements": self.usage_requirements,
        }


_SERVICES: dict[str, ServiceDefinition] = {}


def service_register(definition: ServiceDefinition) -> ServiceDefinition:
    """Add or replace a service (later apps replace the content-free defaults)."""
    _SERVICES[definition.id] = definition
    return definition


def service_get(service_id: str) -> ServiceDefinition | None:
    return _SERVICES.get(service_id)


def services_all() -> list[ServiceDefinition]:
    return list(_SERVICES.values())


for _id, _hook, _title, _description in (
    (
        "diabetes-therapy",
        "patient-view",
        "Type 2 diabetes therapy",
        "Guideline-concordant glucose-lowering therapy (ADA Standards of Care), per patient.",
    ),
    (
        "hypertension-therapy",
        "patient-view",
        "Hypertension therapy",
        "Blood pressure stage and antihypertensive therapy per the 2017 ACC/AHA guideline.",
    ),
    (
        "statin-therapy",
        "patient-view",
        "Statin therapy",
        "Statin benefit group and intensity per the 2018 ACC/AHA cholesterol guideline.",
    ),
    (
        "care-gaps",
        "patient-view",
        "Monitoring care gaps",
        "Overdue HbA1c, eGFR and urine albumin-creatinine ratio.",
    ),
    (
        "medication-order-select",
        "order-select",
        "Medication order check (select)",
        "Checks each draft MedicationRequest against the guidelines as it is selected.",
    ),
    (
        "medication-order-sign",
        "order-sign",
        "Medication order check (sign)",
        "Catches guideline contraindications (MUST-NOT) in draft MedicationRequests.",
    ),
):
    service_register(
        ServiceDefinition(
            id=_id, hook=_hook, title=_title, description=_description, prefetch=PATIENT_PREFETCH
        )
    )
