"""Decision-log records as FHIR R4 AuditEvent + Provenance (pure Python, no Django).

Follows the patterns of IHE Basic Audit Log Patterns (BALP): the calling EHR is the
Source Role ID agent (DICOM 110153) and this service the Destination Role ID (110152), the
clinician is the user agent (v3 ParticipationType IRCP: the one who receives the advice),
the patient entity carries object-role 1 "Patient", and the hookInstance is the request id
entity (BALP `XrequestId`). Patients appear only by their keyed pseudonym, never by id.

Each decision also gets a Provenance of the advice shown: the CDS service as assembler,
the model artifact (sha256) and guideline set version as sources, so "which model and
guideline version decided" is answerable from the export alone. The chain hash of each
record is carried in the AuditEvent's entity detail so an export can be matched against a
verified log.

This is structural FHIR R4 (required elements, bound code systems); it was not run through
the IG's validator (no network here): see docs/review-pages.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

DCM = "http://dicom.nema.org/resources/ontology/DCM"
AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
BALP_ENTITY_TYPE = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"
PROVENANCE_AGENT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
BALP_POLICY = "https://profiles.ihe.net/ITI/BALP/"

# Identifier systems of this service (URNs: no resolvable registry exists for them).
SYS_CLIENT = "urn:privacy-cds:ehr-client"
SYS_PSEUDONYM = "urn:privacy-cds:patient-pseudonym"
SYS_RECORD = "urn:privacy-cds:audit-record"
SYS_HOOK_INSTANCE = "urn:privacy-cds:hook-instance"
SYS_MODEL = "urn:privacy-cds:model-artifact-sha256"
SYS_GUIDELINES = "urn:privacy-cds:guideline-set-version"
SYS_USER = "urn:privacy-cds:review-user"

_NS = uuid.UUID("6f1c1f52-6a0e-4d55-9a3b-0b7b4f0c2e11")


def _coding(system: str, code: str, display: str = "") -> dict[str, str]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _uuid_for(record_hash: str, kind: str) -> str:
    """Stable ids: exporting the same record twice gives the same resources."""
    return str(uuid.uuid5(_NS, f"{kind}:{record_hash}"))


def _event(data: Mapping[str, Any]) -> Mapping[str, Any]:
    event = data.get("event")
    return event if isinstance(event, Mapping) else {}


def _patient_entity(pseudonym: str) -> dict[str, Any]:
    return {
        "what": {"identifier": {"system": SYS_PSEUDONYM, "value": pseudonym}},
        "type": _coding(ENTITY_TYPE, "1", "Person"),
        "role": _coding(OBJECT_ROLE, "1", "Patient"),
    }


def _record_entity(data: Mapping[str, Any], record_hash: str, prev_hash: str) -> dict[str, Any]:
    return {
        "what": {"identifier": {"system": SYS_RECORD, "value": str(data.get("seq", ""))}},
        "type": _coding(ENTITY_TYPE, "2", "System Object"),
        "role": _coding(OBJECT_ROLE, "13", "Security Resource"),
        "detail": [
            {"type": "record-hash", "valueString": record_hash},
            {"type": "prev-hash", "valueString": prev_hash},
        ],
    }


def audit_event_from_record(
    data: Mapping[str, Any], *, record_hash: str, prev_hash: str, server_name: str
) -> dict[str, Any]:
    """One AuditEvent for a hook call, feedback or access record (`data` = record body)."""
    kind = data.get("kind")
    event = _event(data)
    agents: list[dict[str, Any]] = []
    entities: list[dict[str, Any]] = []
    server = {
        "type": {"coding": [_coding(DCM, "110152", "Destination Role ID")]},
        "who": {"display": server_name},
        "requestor": False,
    }
    if kind in ("hook", "feedback"):
        subtype = [_coding(RESTFUL_INTERACTION, "operation" if kind == "hook" else "create")]
        if kind == "hook" and event.get("hook"):
            subtype.append(_coding("https://cds-hooks.org/hooks", str(event["hook"])))
        action = "E" if kind == "hook" else "C"
        agents.append(
            {
                "type": {"coding": [_coding(DCM, "110153", "Source Role ID")]},
                "who": {"identifier": {"system": SYS_CLIENT, "value": str(data.get("client_id"))}},
                "requestor": not data.get("user"),
            }
        )
        if data.get("user"):
            agents.append(
                {
                    "type": {"coding": [_coding(PARTICIPATION, "IRCP", "information recipient")]},
                    "who": {"reference": str(data["user"])}
                    if "/" in str(data["user"])
                    else {"display": str(data["user"])},
                    "requestor": True,
                }
            )
        agents.append(server)
        if data.get("hook_instance"):
            entities.append(
                {
                    "what": {
                        "identifier": {"system": SYS_HOOK_INSTANCE, "value": data["hook_instance"]}
                    },
                    "type": _coding(BALP_ENTITY_TYPE, "XrequestId", "X-Request-Id"),
                }
            )
    else:  # access to patient data through the review pages
        action_name = str(event.get("action", ""))
        subtype = [
            _coding(RESTFUL_INTERACTION, "read" if action_name.endswith(".view") else "search-type")
        ]
        action = "R"
        agents.append(
            {
                "type": {"coding": [_coding(PARTICIPATION, "IRCP", "information recipient")]},
                "who": {"identifier": {"system": SYS_USER, "value": str(data.get("user"))}},
                "requestor": True,
            }
        )
        agents.append({**server, "type": {"coding": [_coding(DCM, "110153", "Source Role ID")]}})
        entities.append(
            {
                "what": {"display": action_name},
                "type": _coding(ENTITY_TYPE, "2", "System Object"),
                "role": _coding(OBJECT_ROLE, "24", "Query"),
            }
        )
    if data.get("patient_pseudonym"):
        entities.append(_patient_entity(str(data["patient_pseudonym"])))
    entities.append(_record_entity(data, record_hash, prev_hash))
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": _uuid_for(record_hash, "AuditEvent"),
        "type": _coding(AUDIT_EVENT_TYPE, "rest", "RESTful Operation"),
        "subtype": subtype,
        "action": action,
        "recorded": str(data["time"]),
        "outcome": "0",
        "agent": agents,
        "source": {
            "observer": {"display": server_name},
            "type": [_coding(SOURCE_TYPE, "4", "Application Server")],
        },
        "entity": entities,
    }
    if data.get("tenant"):
        resource["source"]["site"] = str(data["tenant"])
    return resource


def provenance_from_record(
    data: Mapping[str, Any], *, record_hash: str, server_name: str
) -> dict[str, Any] | None:
    """Provenance of the advice a hook call showed (None for other record kinds)."""
    if data.get("kind") != "hook":
        return None
    event = _event(data)
    raw_decision = event.get("decision")
    decision: Mapping[str, Any] = raw_decision if isinstance(raw_decision, Mapping) else {}
    sources = []
    if data.get("model_artifact_sha256"):
        raw_model = decision.get("model")
        model: Mapping[str, Any] = raw_model if isinstance(raw_model, Mapping) else {}
        sources.append(
            {
                "role": "source",
                "what": {
                    "identifier": {"system": SYS_MODEL, "value": data["model_artifact_sha256"]},
                    "display": f"model for task {model.get('task', '?')}",
                },
            }
        )
    if data.get("guideline_version"):
        sources.append(
            {
                "role": "source",
                "what": {
                    "identifier": {"system": SYS_GUIDELINES, "value": data["guideline_version"]},
                    "display": "guideline rule set",
                },
            }
        )
    provenance: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": _uuid_for(record_hash, "Provenance"),
        "target": [
            {
                "identifier": {
                    "system": SYS_HOOK_INSTANCE,
                    "value": str(data.get("hook_instance")),
                },
                "display": f"CDS cards of {data.get('service_id')} (record {data.get('seq')})",
            }
        ],
        "recorded": str(data["time"]),
        "policy": [BALP_POLICY],
        "activity": {"coding": [_coding(DATA_OPERATION, "CREATE", "create")]},
        "agent": [
            {
                "type": {"coding": [_coding(PROVENANCE_AGENT, "assembler", "Assembler")]},
                "who": {"display": f"{server_name} service {data.get('service_id')}"},
            }
        ],
    }
    if sources:
        provenance["entity"] = sources
    return provenance


def export_bundle(
    records: Iterable[tuple[Mapping[str, Any], str, str]], *, server_name: str, timestamp: str
) -> dict[str, Any]:
    """A collection Bundle: for each (body, hash, prev_hash) its AuditEvent (+ Provenance)."""
    entries = []
    for data, record_hash, prev_hash in records:
        event = audit_event_from_record(
            data, record_hash=record_hash, prev_hash=prev_hash, server_name=server_name
        )
        entries.append({"fullUrl": f"urn:uuid:{event['id']}", "resource": event})
        provenance = provenance_from_record(data, record_hash=record_hash, server_name=server_name)
        if provenance is not None:
            entries.append({"fullUrl": f"urn:uuid:{provenance['id']}", "resource": provenance})
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": timestamp,  # no `total`: R4 bdl-1 allows it only on search/history
        "entry": entries,
    }
