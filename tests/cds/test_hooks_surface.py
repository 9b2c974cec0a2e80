from __future__ import annotations

from typing import Any

import pytest

from cds.cards import cards_response_validate
from tests.conftest import patient_view_body

pytestmark = pytest.mark.django_db


def test_discovery_lists_services_with_prefetch(api: Any) -> None:
    response = api.get("/cds-services")
    assert response.status_code == 200
    services = {s["id"]: s for s in response.json()["services"]}
    assert services["diabetes-therapy"]["hook"] == "patient-view"
    assert services["medication-order-sign"]["hook"] == "order-sign"
    assert "{{context.patientId}}" in services["diabetes-therapy"]["prefetch"]["patient"]


def test_cors_preflight_is_answered_without_credentials(api: Any) -> None:
    response = api.options(
        "/cds-services/diabetes-therapy",
        HTTP_ORIGIN="http://sandbox.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "authorization" in response["Access-Control-Allow-Headers"]


def test_it_answers_a_signed_patient_view_with_valid_cards(
    api: Any, trusted_ehr: Any, make_token: Any
) -> None:
    path = "/cds-services/diabetes-therapy"
    response = api.post(
        path, patient_view_body(), format="json", HTTP_AUTHORIZATION=f"Bearer {make_token(path)}"
    )
    assert response.status_code == 200, response.content
    cards_response_validate(response.json())


def test_it_rejects_replayed_jti(api: Any, trusted_ehr: Any, make_token: Any) -> None:
    path = "/cds-services/diabetes-therapy"
    token = make_token(path)
    first = api.post(path, patient_view_body(), format="json", HTTP_AUTHORIZATION=f"Bearer {token}")
    second = api.post(
        path, patient_view_body(), format="json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert first.status_code == 200
    assert second.status_code == 401
    assert second.json() == {
        "error": "unauthorized",
        "message": "Authentication failed.",
        "details": None,
    }
    assert second["WWW-Authenticate"].startswith("Bearer")


def test_it_rejects_a_token_for_another_endpoint(
    api: Any, trusted_ehr: Any, make_token: Any
) -> None:
    token = make_token("/cds-services/statin-therapy")
    response = api.post(
        "/cds-services/diabetes-therapy",
        patient_view_body(),
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 401


def test_it_answers_412_when_prefetch_is_missing_and_no_fhir_server(
    api: Any, trusted_ehr: Any, make_token: Any
) -> None:
    path = "/cds-services/diabetes-therapy"
    body = patient_view_body()
    body["prefetch"]["observations"] = None
    response = api.post(path, body, format="json", HTTP_AUTHORIZATION=f"Bearer {make_token(path)}")
    assert response.status_code == 412
    assert response.json()["error"] == "prefetch_unavailable"


def test_it_explains_an_invalid_context(api: Any, trusted_ehr: Any, make_token: Any) -> None:
    path = "/cds-services/diabetes-therapy"
    body = patient_view_body()
    del body["context"]["patientId"]
    response = api.post(path, body, format="json", HTTP_AUTHORIZATION=f"Bearer {make_token(path)}")
    assert response.status_code == 400
    assert response.json()["details"] == {"context.patientId": "is required"}


def test_it_stores_override_feedback(api: Any, trusted_ehr: Any, make_token: Any) -> None:
    from cds.models import CardFeedback

    path = "/cds-services/diabetes-therapy/feedback"
    body = {
        "feedback": [
            {
                "card": "9368d37b",
                "outcome": "overridden",
                "overrideReason": {"reason": {"code": "x", "system": "https://s"}},
                "outcomeTimestamp": "2020-12-11T00:00:00Z",
            }
        ]
    }
    response = api.post(path, body, format="json", HTTP_AUTHORIZATION=f"Bearer {make_token(path)}")
    assert response.status_code == 200
    assert CardFeedback.objects.get().outcome == "overridden"
