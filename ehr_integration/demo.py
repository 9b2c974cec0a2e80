"""The demo EHR: a key pair kept under var/demo so a first request can be signed locally.

Only for the README's first run; a real EHR registers its own public keys.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from joserfc import jwt
from joserfc.jwk import ECKey

DEMO_ISSUER = "https://demo-ehr.invalid"
DEMO_KID = "demo-ehr-es384"


def _key_path() -> Path:
    return Path(settings.VAR_DIR) / "demo" / "demo-ehr-private.jwk.json"


def demo_key_load_or_create() -> ECKey:
    path = _key_path()
    if path.exists():
        return ECKey.import_key(json.loads(path.read_text()))
    key = ECKey.generate_key("P-384", parameters={"kid": DEMO_KID, "alg": "ES384"}, private=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(key.as_dict(private=True)))
    path.chmod(0o600)
    return key


def demo_public_jwks() -> dict[str, Any]:
    key = demo_key_load_or_create()
    return {"keys": [key.as_dict(private=False)]}


def demo_token(*, audience: str, lifetime: int = 300) -> str:
    key = demo_key_load_or_create()
    now = int(time.time())
    claims = {
        "iss": DEMO_ISSUER,
        "aud": audience,
        "iat": now,
        "exp": now + lifetime,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(
        {"alg": "ES384", "typ": "JWT", "kid": DEMO_KID}, claims, key, algorithms=["ES384"]
    )


def _coded(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def demo_prefetch(*, today: date, patient_id: str = "demo-1") -> dict[str, Any]:
    """A made-up patient for the README's first call: type 2 diabetes on metformin with
    HbA1c above goal, stage 3a CKD with albuminuria and stage 2 hypertension, so the first
    request a new user makes shows real guideline-checked, model-ranked cards (an empty
    chart shows nearly nothing). Dates are relative to `today` so values are never stale.
    """
    ref = {"reference": f"Patient/{patient_id}"}

    def when(days: int) -> str:
        return (today - timedelta(days=days)).isoformat()

    def obs(oid: str, code: str, display: str, value: float, unit: str, days: int) -> dict:
        return {
            "resourceType": "Observation",
            "id": oid,
            "status": "final",
            "code": _coded(LOINC, code, display),
            "subject": ref,
            "effectiveDateTime": when(days),
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org"},
        }

    def bp(oid: str, sbp: float, dbp: float, days: int) -> dict:
        def part(code: str, display: str, v: float) -> dict:
            return {
                "code": _coded(LOINC, code, display),
                "valueQuantity": {"value": v, "unit": "mm[Hg]"},
            }

        return {
            "resourceType": "Observation",
            "id": oid,
            "status": "final",
            "code": _coded(LOINC, "85354-9", "Blood pressure panel"),
            "subject": ref,
            "effectiveDateTime": when(days),
            "component": [
                part("8480-6", "Systolic blood pressure", sbp),
                part("8462-4", "Diastolic blood pressure", dbp),
            ],
        }

    def condition(cid: str, code: str, display: str, days: int) -> dict:
        return {
            "resourceType": "Condition",
            "id": cid,
            "clinicalStatus": _coded(
                "http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"
            ),
            "code": _coded(SNOMED, code, display),
            "subject": ref,
            "onsetDateTime": when(days),
        }

    def searchset(resources: list[dict]) -> dict:
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": r} for r in resources],
        }

    observations = [
        obs("a1c-1", "4548-4", "Hemoglobin A1c", 8.6, "%", 20),
        obs("a1c-0", "4548-4", "Hemoglobin A1c", 8.1, "%", 200),
        obs("egfr-1", "33914-3", "eGFR", 52, "mL/min/{1.73_m2}", 20),
        obs("egfr-0", "33914-3", "eGFR", 58, "mL/min/{1.73_m2}", 380),
        obs("uacr-1", "9318-7", "Albumin/Creatinine ratio", 96, "mg/g", 20),
        obs("ldl-1", "18262-6", "LDL cholesterol", 128, "mg/dL", 20),
        obs("hdl-1", "2085-9", "HDL cholesterol", 44, "mg/dL", 20),
        obs("tc-1", "2093-3", "Total cholesterol", 212, "mg/dL", 20),
        obs("bmi-1", "39156-5", "Body mass index", 33.4, "kg/m2", 20),
        bp("bp-1", 152, 94, 20),
        bp("bp-2", 156, 96, 60),
        bp("bp-3", 150, 92, 100),
    ]
    metformin = {
        "resourceType": "MedicationRequest",
        "id": "med-metformin",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": _coded(
            RXNORM, "860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet"
        ),
        "subject": ref,
        "authoredOn": when(400),
    }
    return {
        "patient": {
            "resourceType": "Patient",
            "id": patient_id,
            "gender": "female",
            "birthDate": date(today.year - 62, 4, 2).isoformat(),
        },
        "conditions": searchset(
            [
                condition("dm2", "44054006", "Diabetes mellitus type 2", 3000),
                condition("htn", "38341003", "Hypertension", 2500),
            ]
        ),
        "observations": searchset(observations),
        "medications": searchset([metformin]),
    }
