"""Replay what a real CDS Hooks Sandbox sent (cds-hooks-sandbox/observed/), byte for byte:
its raw Authorization header, its body, its path. The tokens are expired, so the verifier's
clock is frozen inside each token's lifetime; keys are the Sandbox's published JWKS, pinned
out of band (its `jku` is not allowlisted and is never fetched)."""

from __future__ import annotations

from typing import Any

import pytest

from cds.catalog import PATIENT_PREFETCH, ServiceDefinition
from tests.conformance.fixtures import SANDBOX, fixture_load

pytestmark = pytest.mark.django_db

OBSERVED = SANDBOX / "observed"
SANDBOX_BASE = "http://127.0.0.1:8001"
CALLS = [
    "patient-view-request.json",
    "order-select-request.json",
    "feedback-accepted.json",
    "feedback-overridden-with-reason.json",
]


@pytest.fixture
def sandbox_world(settings: Any, monkeypatch: Any, db: Any) -> None:
    """Our service as the Sandbox saw it: its public URL, the mock's service ids, and the
    Sandbox registered as an EHR with its public key pinned."""
    import cds.catalog
    from ehr_integration.services import ehr_client_register

    settings.CDS_HOOKS = {**settings.CDS_HOOKS, "PUBLIC_BASE_URL": SANDBOX_BASE}
    served = fixture_load(OBSERVED / "mock-service-discovery-served.json")["services"]
    for s in served:
        monkeypatch.setitem(
            cds.catalog._SERVICES,
            s["id"],
            ServiceDefinition(
                id=s["id"],
                hook=s["hook"],
                title=s.get("title", s["id"]),
                description=s["description"],
                prefetch={k: PATIENT_PREFETCH[k] for k in s.get("prefetch", {})},
            ),
        )
    ehr_client_register(
        issuer="https://sandbox.cds-hooks.org",
        jwks=fixture_load(SANDBOX / "jwks.json"),
        name="CDS Hooks Sandbox",
        allowed_algorithms=["ES384"],
    )


def _freeze_clock(monkeypatch: Any, at: float) -> None:
    import ehr_integration.jwt_verify

    monkeypatch.setattr(ehr_integration.jwt_verify, "clock_now", lambda: at)


@pytest.mark.req(176, 199, 201, 203, 205, 148)
@pytest.mark.parametrize("name", CALLS)
def test_the_sandbox_call_replayed_with_a_frozen_clock_is_answered_200(
    name: str, sandbox_world: None, api: Any, monkeypatch: Any
) -> None:
    call = fixture_load(OBSERVED / name)
    _freeze_clock(monkeypatch, call["jwt_decoded"]["payload"]["iat"] + 5)
    response = api.post(
        call["path"],
        call["body"],
        format="json",
        HTTP_AUTHORIZATION=call["authorization_header"],
        HTTP_ORIGIN=call["origin_header"],
    )
    assert response.status_code == 200, response.content
    assert response["Access-Control-Allow-Origin"] == "*"
    if "feedback" not in name:
        assert response.json() == {"cards": []}


def test_the_sandbox_discovery_call_is_answered(sandbox_world: None, api: Any) -> None:
    call = fixture_load(OBSERVED / "discovery-get.json")
    response = api.get(
        call["path"],
        HTTP_AUTHORIZATION=call["authorization_header"],
        HTTP_ORIGIN=call["origin_header"],
    )
    assert response.status_code == 200
    assert {"demo-pv", "demo-os"} <= {s["id"] for s in response.json()["services"]}


@pytest.mark.parametrize("name", CALLS[:1])
def test_the_same_sandbox_call_is_refused_without_the_frozen_clock(
    name: str, sandbox_world: None, api: Any
) -> None:
    call = fixture_load(OBSERVED / name)
    response = api.post(
        call["path"], call["body"], format="json", HTTP_AUTHORIZATION=call["authorization_header"]
    )
    assert response.status_code == 401


def test_a_replayed_sandbox_call_is_refused_the_second_time(
    sandbox_world: None, api: Any, monkeypatch: Any
) -> None:
    call = fixture_load(OBSERVED / "patient-view-request.json")
    _freeze_clock(monkeypatch, call["jwt_decoded"]["payload"]["iat"] + 5)
    statuses = [
        api.post(
            call["path"],
            call["body"],
            format="json",
            HTTP_AUTHORIZATION=call["authorization_header"],
        ).status_code
        for _ in range(2)
    ]
    assert statuses == [200, 401]


def test_a_sandbox_call_at_another_public_url_is_refused(
    sandbox_world: None, api: Any, monkeypatch: Any, settings: Any
) -> None:
    settings.CDS_HOOKS = {**settings.CDS_HOOKS, "PUBLIC_BASE_URL": "https://cds.example.org"}
    call = fixture_load(OBSERVED / "patient-view-request.json")
    _freeze_clock(monkeypatch, call["jwt_decoded"]["payload"]["iat"] + 5)
    response = api.post(
        call["path"], call["body"], format="json", HTTP_AUTHORIZATION=call["authorization_header"]
    )
    assert response.status_code == 401
