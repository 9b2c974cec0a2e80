"""Shared personas: a trusted EHR (registered ES384 key), another tenant, an outsider."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from rest_framework.test import APIClient

# ../shared sits beside the clone in CI; CDS_SHARED_DATA points at its data/ folder from
# anywhere else (a git worktree, a developer's checkout elsewhere).
SHARED_DATA = Path(
    os.environ.get("CDS_SHARED_DATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data"
)
SHARED = SHARED_DATA.parent
BASE = "http://127.0.0.1:8000"


@pytest.fixture(scope="session")
def ehr_key() -> ECKey:
    return ECKey.generate_key(
        "P-384", parameters={"kid": "trusted-ehr-1", "alg": "ES384"}, private=True
    )


@pytest.fixture(scope="session")
def outsider_key() -> ECKey:
    return ECKey.generate_key(
        "P-384", parameters={"kid": "trusted-ehr-1", "alg": "ES384"}, private=True
    )


@pytest.fixture(autouse=True)
def _public_base_url(settings: Any) -> None:
    settings.CDS_HOOKS = {**settings.CDS_HOOKS, "PUBLIC_BASE_URL": BASE}


@pytest.fixture
def trusted_ehr(db: Any, ehr_key: ECKey) -> Any:
    from ehr_integration.services import ehr_client_register

    return ehr_client_register(
        issuer="https://ehr.example.org",
        jwks={"keys": [ehr_key.as_dict(private=False)]},
        name="Trusted EHR",
        fhir_base_url="https://fhir.example.org/r4",
    )


@pytest.fixture
def make_token(ehr_key: ECKey) -> Callable[..., str]:
    def make(
        path: str,
        *,
        key: ECKey | None = None,
        header: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload = {
            "iss": "https://ehr.example.org",
            "aud": BASE + path,
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        hdr = {"alg": "ES384", "typ": "JWT", "kid": "trusted-ehr-1", **(header or {})}
        return jwt.encode(hdr, payload, key or ehr_key, algorithms=[hdr["alg"]])

    return make


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def patient_view_body(patient_id: str = "p1", **overrides: Any) -> dict[str, Any]:
    empty = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    body: dict[str, Any] = {
        "hookInstance": str(uuid.uuid4()),
        "hook": "patient-view",
        "context": {"userId": "Practitioner/123", "patientId": patient_id},
        "prefetch": {
            "patient": {
                "resourceType": "Patient",
                "id": patient_id,
                "gender": "female",
                "birthDate": "1960-01-01",
            },
            "conditions": empty,
            "observations": empty,
            "medications": empty,
        },
    }
    body.update(overrides)
    return body
