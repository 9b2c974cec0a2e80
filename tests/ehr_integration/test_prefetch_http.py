"""Prefetch over real HTTP: a loopback FHIR server in a thread plays the EHR's fhirServer.

What the EHR did not send (missing key, null, OperationOutcome, a first page only) is read
with its fhirAuthorization bearer; what cannot be had is a 412 in the error shape."""

from __future__ import annotations

import time
from typing import Any

import pytest

from cds.catalog import PATIENT_PREFETCH, ServiceDefinition, ServiceOutcome
from tests.conftest import patient_view_body
from tests.loopback import Loopback, loopback_server

pytestmark = pytest.mark.django_db

SERVICE = "prefetch-probe"
PATH = f"/cds-services/{SERVICE}"
TOKEN = "opaque-fhir-token-123"
PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1960-01-01"}


def _bundle(*ids: str, next_url: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": {"resourceType": "Observation", "id": i}} for i in ids],
    }
    if next_url:
        out["link"] = [{"relation": "next", "url": next_url}]
    return out


@pytest.fixture
def seen_prefetch(monkeypatch: Any) -> list[dict[str, Any]]:
    """A service that records the prefetch it was given, so tests see what was resolved."""
    import cds.catalog

    captured: list[dict[str, Any]] = []

    def evaluate(call: Any) -> ServiceOutcome:
        captured.append(call.prefetch)
        return ServiceOutcome()

    monkeypatch.setitem(
        cds.catalog._SERVICES,
        SERVICE,
        ServiceDefinition(
            id=SERVICE,
            hook="patient-view",
            title="t",
            description="d",
            prefetch=PATIENT_PREFETCH,
            evaluate=evaluate,
        ),
    )
    return captured


@pytest.fixture
def fhir(trusted_ehr: Any) -> Any:
    with loopback_server() as server:
        trusted_ehr.fhir_base_url = server.base_url + "/r4"
        trusted_ehr.save()
        server.json("/r4/Patient/p1", PATIENT)
        for kind in ("Condition", "Observation", "MedicationRequest"):
            server.json(f"/r4/{kind}?patient=p1", _bundle())
        yield server


def _body(
    fhir: Loopback, *, drop: tuple[str, ...] = (), auth: bool = True, **prefetch: Any
) -> dict[str, Any]:
    body = patient_view_body("p1")
    body["fhirServer"] = fhir.base_url + "/r4"
    if auth:
        body["fhirAuthorization"] = {
            "access_token": TOKEN,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "cds-service",
        }
    for key in drop:
        del body["prefetch"][key]
    body["prefetch"].update(prefetch)
    return body


def _call(api: Any, make_token: Any, body: dict[str, Any]) -> Any:
    return api.post(PATH, body, format="json", HTTP_AUTHORIZATION=f"Bearer {make_token(PATH)}")


@pytest.mark.req(28, 34, 60, 61)
def test_missing_keys_are_read_from_fhir_server_with_the_bearer_token(
    api: Any, make_token: Any, fhir: Loopback, seen_prefetch: list[Any]
) -> None:
    fhir.json("/r4/Observation?patient=p1", _bundle("o1", "o2"))
    response = _call(api, make_token, _body(fhir, drop=("patient", "observations")))
    assert response.status_code == 200, response.content
    assert seen_prefetch[0]["patient"] == PATIENT
    assert [e["resource"]["id"] for e in seen_prefetch[0]["observations"]["entry"]] == ["o1", "o2"]
    assert {s.path for s in fhir.seen} == {"/r4/Patient/p1", "/r4/Observation?patient=p1"}
    assert all(s.headers["authorization"] == f"Bearer {TOKEN}" for s in fhir.seen)


@pytest.mark.req(52)
def test_null_and_operation_outcome_values_are_read_again(
    api: Any, make_token: Any, fhir: Loopback, seen_prefetch: list[Any]
) -> None:
    fhir.json("/r4/Condition?patient=p1", _bundle("c1"))
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "x"}]}
    body = _body(fhir, conditions=outcome, medications=None)
    response = _call(api, make_token, body)
    assert response.status_code == 200, response.content
    assert seen_prefetch[0]["conditions"]["entry"][0]["resource"]["id"] == "c1"
    assert {s.path for s in fhir.seen} == {
        "/r4/Condition?patient=p1",
        "/r4/MedicationRequest?patient=p1",
    }


def test_an_open_fhir_server_is_read_without_authorization(
    api: Any, make_token: Any, fhir: Loopback, seen_prefetch: list[Any]
) -> None:
    response = _call(api, make_token, _body(fhir, drop=("patient",), auth=False))
    assert response.status_code == 200
    assert "authorization" not in fhir.seen[0].headers


def test_every_page_of_a_search_is_merged(
    api: Any, make_token: Any, fhir: Loopback, seen_prefetch: list[Any]
) -> None:
    base = fhir.base_url + "/r4"
    fhir.json("/r4/Observation?patient=p1", _bundle("o1", next_url=f"{base}/page2"))
    fhir.json("/r4/page2", _bundle("o2", next_url="page3"))  # relative next link
    fhir.json("/r4/page3", _bundle("o3"))
    response = _call(api, make_token, _body(fhir, drop=("observations",)))
    assert response.status_code == 200, response.content
    assert [e["resource"]["id"] for e in seen_prefetch[0]["observations"]["entry"]] == [
        "o1",
        "o2",
        "o3",
    ]


def test_a_paginated_prefetch_bundle_is_completed_from_the_fhir_server(
    api: Any, make_token: Any, fhir: Loopback, seen_prefetch: list[Any]
) -> None:
    fhir.json("/r4/obs-page2", _bundle("o2"))
    first = _bundle("o1", next_url=fhir.base_url + "/r4/obs-page2")
    response = _call(api, make_token, _body(fhir, observations=first))
    assert response.status_code == 200, response.content
    assert [e["resource"]["id"] for e in seen_prefetch[0]["observations"]["entry"]] == ["o1", "o2"]
    assert [s.path for s in fhir.seen] == ["/r4/obs-page2"]


def test_a_paginated_prefetch_bundle_without_fhir_server_is_412(
    api: Any, make_token: Any, fhir: Loopback, seen_prefetch: list[Any]
) -> None:
    body = patient_view_body("p1")
    body["prefetch"]["observations"] = _bundle("o1", next_url="https://fhir.example.org/r4/p2")
    response = _call(api, make_token, body)
    assert response.status_code == 412
    assert response.json()["details"] == {"missing": [], "incomplete": ["observations"]}


@pytest.mark.req(54)
@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (
            lambda f: f.routes.update({"/r4/Observation?patient=p1": (500, {}, b"{}")}),
            "fhir_bad_response",
        ),
        (
            lambda f: f.routes.update({"/r4/Observation?patient=p1": (401, {}, b"{}")}),
            "fhir_error_status",
        ),
        (
            lambda f: f.routes.update({"/r4/Observation?patient=p1": (403, {}, b"{}")}),
            "fhir_error_status",
        ),
        (lambda f: f.routes.pop("/r4/Observation?patient=p1"), "fhir_error_status"),
        (
            lambda f: f.routes.update({"/r4/Observation?patient=p1": (200, {}, b"<html>")}),
            "fhir_bad_response",
        ),
        (lambda f: f.json("/r4/Observation?patient=p1", [1, 2]), "fhir_bad_response"),
        (
            lambda f: f.json("/r4/Observation?patient=p1", {"resourceType": "OperationOutcome"}),
            "fhir_operation_outcome",
        ),
        (
            lambda f: f.routes.update(
                {"/r4/Observation?patient=p1": (302, {"Location": "/r4/x"}, b"")}
            ),
            "fhir_redirect_refused",
        ),
        (
            lambda f: f.json(
                "/r4/Observation?patient=p1", _bundle("o1", next_url="/r4/Observation?patient=p1")
            ),
            "fhir_too_many_pages",
        ),
        (
            lambda f: f.json(
                "/r4/Observation?patient=p1",
                _bundle("o1", next_url="https://elsewhere.example.org/p2"),
            ),
            "host_not_allowed",
        ),
        (
            lambda f: f.json("/r4/Observation?patient=p1", _bundle("o1", next_url="/r4/missing")),
            "fhir_bad_page",
        ),
    ],
    ids=[
        "500",
        "401",
        "403",
        "404",
        "not-json",
        "not-object",
        "operation-outcome",
        "redirect",
        "endless-pages",
        "next-on-other-host",
        "next-page-missing",
    ],
)
def test_data_that_cannot_be_had_is_412(
    setup: Any, reason: str, api: Any, make_token: Any, fhir: Loopback, seen_prefetch: list[Any]
) -> None:
    setup(fhir)
    response = _call(api, make_token, _body(fhir, drop=("observations",)))
    assert response.status_code == 412, response.content
    assert response.json()["error"] == "prefetch_unavailable"
    assert response.json()["details"]["reason"] == reason
    assert not seen_prefetch


def test_a_fhir_server_on_a_host_the_ehr_did_not_register_is_never_contacted(
    api: Any, make_token: Any, fhir: Loopback, trusted_ehr: Any, seen_prefetch: list[Any]
) -> None:
    trusted_ehr.fhir_base_url = "https://fhir.example.org/r4"
    trusted_ehr.save()
    response = _call(api, make_token, _body(fhir, drop=("observations",)))
    assert response.status_code == 412
    assert response.json()["details"]["reason"] == "host_not_allowed"
    assert fhir.seen == []


def test_a_slow_fhir_server_times_out_as_412(
    api: Any, make_token: Any, fhir: Loopback, settings: Any, seen_prefetch: list[Any]
) -> None:
    settings.CDS_HOOKS = {**settings.CDS_HOOKS, "FHIR_TIMEOUT_SECONDS": 0.3}

    def slow(_: Any) -> Any:
        time.sleep(1.0)
        return 200, {}, b"{}"

    fhir.routes["/r4/Observation?patient=p1"] = slow
    started = time.monotonic()
    response = _call(api, make_token, _body(fhir, drop=("observations",)))
    assert response.status_code == 412
    assert response.json()["details"]["reason"] == "fhir_unreachable"
    assert time.monotonic() - started < 0.9


def test_a_response_over_the_size_cap_is_412(
    api: Any, make_token: Any, fhir: Loopback, settings: Any, seen_prefetch: list[Any]
) -> None:
    settings.CDS_HOOKS = {**settings.CDS_HOOKS, "FHIR_MAX_BYTES": 2048}
    fhir.json("/r4/Observation?patient=p1", _bundle(*[f"o{i}" for i in range(200)]))
    response = _call(api, make_token, _body(fhir, drop=("observations",)))
    assert response.status_code == 412
    assert response.json()["details"]["reason"] == "fhir_response_too_large"


def test_plain_http_fhir_is_refused_when_not_allowed(
    api: Any, make_token: Any, fhir: Loopback, settings: Any, seen_prefetch: list[Any]
) -> None:
    settings.CDS_HOOKS = {**settings.CDS_HOOKS, "ALLOW_HTTP_FHIR": False}
    response = _call(api, make_token, _body(fhir, drop=("observations",)))
    assert response.status_code == 412
    assert response.json()["details"]["reason"] == "fhir_scheme_refused"
    assert fhir.seen == []
