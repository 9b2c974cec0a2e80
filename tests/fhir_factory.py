"""Hand-written FHIR R4 resources for tests: one patient, any facts, on any date."""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from ehr_integration.fhir.codemaps import LOINC_SYSTEM, RXNORM_SYSTEM, SNOMED_SYSTEM

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "fhir"
RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
ETHNICITY = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"

# SNOMED codes for the concepts the tests use.
CONDITION_CODES = {
    "diabetes": "44054006",
    "prediabetes": "15777000",
    "hypertension": "59621000",
    "ckd_stage_3": "433144002",
    "ascvd": "53741008",
    "stroke": "230690007",
    "heart_failure": "88805009",
    "pregnancy": "72892002",
    "albuminuria": "90781000119102",
    "retinopathy": "422034002",
}
# LOINC codes and default units per measurement kind.
OBS = {
    "hba1c": ("4548-4", "%"),
    "glucose": ("2339-0", "mg/dL"),
    "egfr": ("33914-3", "mL/min/{1.73_m2}"),
    "creatinine": ("38483-4", "mg/dL"),
    "uacr": ("14959-1", "mg/g"),
    "bmi": ("39156-5", "kg/m2"),
    "ldl": ("18262-6", "mg/dL"),
    "hdl": ("2085-9", "mg/dL"),
    "total_chol": ("2093-3", "mg/dL"),
    "lvef": ("10230-1", "%"),
}
# RxNorm codes per drug class (a product from the data where there is one).
DRUGS = {
    "metformin": "860975",
    "insulin": "106892",
    "sglt2i": "1545653",
    "glp1ra": "1991302",
    "dpp4i": "593411",
    "sulfonylurea": "4821",
    "tzd": "33738",
    "acei": "29046",
    "arb": "52175",
    "renin_inhibitor": "325646",
    "ccb_dhp": "197361",
    "ccb_nondhp": "897718",
    "thiazide": "310798",
    "beta_blocker": "866414",
    "mra": "9997",
    "loop_diuretic": "315971",
    "statin": "259255",
    "statin_moderate": "312961",
    "statin_low": "314231",
    "ezetimibe": "341248",
}


def _id() -> str:
    return str(uuid.uuid4())


def patient(
    *,
    pid: str = "p1",
    sex: str = "female",
    birth: str = "1960-01-01",
    race: str | None = "2106-3",
    hispanic: bool | None = False,
) -> dict[str, Any]:
    ext = []
    if race:
        ext.append(
            {"url": RACE, "extension": [{"url": "ombCategory", "valueCoding": {
                "system": "urn:oid:2.16.840.1.113883.6.238", "code": race}}]}
        )  # fmt: skip
    if hispanic is not None:
        code = "2135-2" if hispanic else "2186-5"
        ext.append(
            {"url": ETHNICITY, "extension": [{"url": "ombCategory", "valueCoding": {
                "system": "urn:oid:2.16.840.1.113883.6.238", "code": code}}]}
        )  # fmt: skip
    return {"resourceType": "Patient", "id": pid, "gender": sex, "birthDate": birth,
            "extension": ext}  # fmt: skip


def condition(
    concept: str, onset: str = "2015-01-01", *, abated: str | None = None, status: str = "active"
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Condition",
        "id": _id(),
        "clinicalStatus": {"coding": [{"code": status}]},
        "verificationStatus": {"coding": [{"code": "confirmed"}]},
        "code": {"coding": [{"system": SNOMED_SYSTEM, "code": CONDITION_CODES[concept]}]},
        "subject": {"reference": "Patient/p1"},
        "onsetDateTime": onset,
    }
    if abated:
        out["abatementDateTime"] = abated
    return out


def observation(kind: str, value: float, when: str, *, unit: str | None = None) -> dict[str, Any]:
    code, default_unit = OBS[kind]
    return {
        "resourceType": "Observation",
        "id": _id(),
        "status": "final",
        "code": {"coding": [{"system": LOINC_SYSTEM, "code": code}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit or default_unit,
                          "system": "http://unitsofmeasure.org", "code": unit or default_unit},
    }  # fmt: skip


def bp(sbp: float, dbp: float, when: str) -> dict[str, Any]:
    def comp(code: str, value: float) -> dict[str, Any]:
        return {
            "code": {"coding": [{"system": LOINC_SYSTEM, "code": code}]},
            "valueQuantity": {"value": value, "unit": "mm[Hg]", "code": "mm[Hg]"},
        }

    return {
        "resourceType": "Observation",
        "id": _id(),
        "status": "final",
        "code": {"coding": [{"system": LOINC_SYSTEM, "code": "85354-9"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": when,
        "component": [comp("8480-6", sbp), comp("8462-4", dbp)],
    }


def smoking(status_code: str, when: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": _id(),
        "status": "final",
        "code": {"coding": [{"system": LOINC_SYSTEM, "code": "72166-2"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": when,
        "valueCodeableConcept": {"coding": [{"system": SNOMED_SYSTEM, "code": status_code}]},
    }


def medication(
    drug: str, authored: str = "2020-01-01", *, status: str = "active", rid: str | None = None
) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": rid or _id(),
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM_SYSTEM, "code": DRUGS.get(drug, drug)}]
        },
        "subject": {"reference": "Patient/p1"},
        "authoredOn": authored,
    }


def searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
    }


def prefetch(patient_resource: dict[str, Any], *resources: dict[str, Any]) -> dict[str, Any]:
    """The services' prefetch shape: patient + three searchsets."""
    by = {"Condition": [], "Observation": [], "MedicationRequest": []}
    for r in resources:
        by[r["resourceType"]].append(r)
    return {
        "patient": patient_resource,
        "conditions": searchset(by["Condition"]),
        "observations": searchset(by["Observation"]),
        "medications": searchset(by["MedicationRequest"]),
    }


def fixture_bundle(name: str) -> dict[str, Any]:
    with gzip.open(FIXTURES / f"{name}.json.gz", "rt", encoding="utf-8") as fh:
        return json.load(fh)


def day(value: str) -> date:
    return date.fromisoformat(value)
