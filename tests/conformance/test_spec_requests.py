"""The spec's 2.0.1 request examples, the Library 1.0.1 hook contexts and the Inferno CRD
requests are accepted by the running surface; where an example is incomplete on purpose
(a documented quirk) the test says what was added and proves that only that was missing."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from cds.cards import cards_response_validate
from cds.catalog import services_all
from cds.hook_request import hook_request_validate
from tests.conformance.fixtures import (
    INFERNO,
    SPEC,
    fixture_load,
    hook_body,
    library_contexts,
    prefetch_for,
)

pytestmark = pytest.mark.django_db

HOOKS = ("patient-view", "order-select", "order-sign")


def _service_for(hook: str) -> Any:
    return next(s for s in services_all() if s.hook == hook)


def _post(api: Any, make_token: Any, service_id: str, body: Any) -> Any:
    path = f"/cds-services/{service_id}"
    return api.post(path, body, format="json", HTTP_AUTHORIZATION=f"Bearer {make_token(path)}")


@pytest.mark.req(4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 29, 36, 55, 59, 1)
def test_discovery_describes_every_service_as_the_spec_example_does(api: Any) -> None:
    example = fixture_load(SPEC / "01-discovery-response.json")["services"][0]
    response = api.get("/cds-services", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    services = response.json()["services"]
    assert isinstance(services, list) and services
    for service in services:
        assert set(example) - {"prefetch"} <= set(service)
        for key in ("id", "hook", "title", "description", "usageRequirements"):
            assert isinstance(service[key], str) and service[key], key
        assert service["hook"] in HOOKS
        for template in service.get("prefetch", {}).values():
            # every token is {{context.<root primitive field>}} of the service's hook
            assert "{{" not in template.replace("{{context.patientId}}", "")
    ids = [s["id"] for s in services]
    assert len(ids) == len(set(ids))
    for service_id in ids:
        # {baseUrl}/cds-services/{id} is the service: without a token it demands one
        assert api.post(f"/cds-services/{service_id}", {}, format="json").status_code == 401


@pytest.mark.req(208)
def test_every_service_url_answers_cors_preflight_without_credentials(api: Any) -> None:
    for service in services_all():
        for suffix in ("", "/feedback"):
            response = api.options(
                f"/cds-services/{service.id}{suffix}",
                HTTP_ORIGIN="http://127.0.0.1:8080",
                HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
                HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type",
            )
            assert response.status_code == 200
            assert response["Access-Control-Allow-Origin"] == "*"
            assert "Access-Control-Allow-Credentials" not in response


def test_the_spec_patient_view_request_passes_validation_verbatim() -> None:
    body = fixture_load(SPEC / "02-request-patient-view.json")
    assert hook_request_validate(body=body, expected_hook="patient-view") is body


@pytest.mark.req(28, 74, 77, 80)
def test_the_spec_patient_view_request_is_answered_when_our_prefetch_keys_are_added(
    api: Any, trusted_ehr: Any, make_token: Any
) -> None:
    service = _service_for("patient-view")
    body = fixture_load(SPEC / "02-request-patient-view.json")
    body["prefetch"].update(prefetch_for(service.prefetch, body["context"]["patientId"]))
    response = _post(api, make_token, service.id, body)
    assert response.status_code == 200, response.content
    cards_response_validate(response.json())


@pytest.mark.req(54, 34)
def test_the_spec_patient_view_request_verbatim_gets_412_as_its_fhir_server_is_not_ours(
    api: Any, trusted_ehr: Any, make_token: Any
) -> None:
    # Its prefetch holds only `patientToGreet`; our keys must come from its fhirServer,
    # which is not the host this EHR registered, so the data cannot be had: 412.
    body = fixture_load(SPEC / "02-request-patient-view.json")
    response = _post(api, make_token, _service_for("patient-view").id, body)
    assert response.status_code == 412
    assert response.json()["error"] == "prefetch_unavailable"


@pytest.mark.req(214, 215)
def test_the_spec_request_with_extension_is_accepted_and_only_lacks_patient_id(
    api: Any, trusted_ehr: Any, make_token: Any
) -> None:
    service = _service_for("patient-view")
    body = fixture_load(SPEC / "28-request-with-extension.json")
    body["prefetch"] = prefetch_for(service.prefetch, "1288992")
    verbatim = _post(api, make_token, service.id, copy.deepcopy(body))
    # Quirk: the example shows `extension` only; Library 1.0.1 requires patientId.
    assert verbatim.status_code == 400
    assert verbatim.json()["details"] == {"context.patientId": "is required"}
    body["context"]["patientId"] = "1288992"
    response = _post(api, make_token, service.id, body)
    assert response.status_code == 200, response.content


def test_a_non_object_extension_is_refused(api: Any, trusted_ehr: Any, make_token: Any) -> None:
    service = _service_for("patient-view")
    body = hook_body("patient-view", {"userId": "Practitioner/1", "patientId": "1"}, {})
    body["prefetch"] = prefetch_for(service.prefetch, "1")
    body["extension"] = ["not", "an", "object"]
    response = _post(api, make_token, service.id, body)
    assert response.status_code == 400
    assert "extension" in response.json()["details"]


def test_the_spec_hook_context_example_is_accepted(
    api: Any, trusted_ehr: Any, make_token: Any
) -> None:
    service = _service_for("patient-view")
    context = fixture_load(SPEC / "30-hook-context-patient-view.json")["context"]
    response = _post(
        api, make_token, service.id, hook_body("patient-view", context, service.prefetch)
    )
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("hook", "name", "context"),
    [(hook, name, ctx) for hook in HOOKS for name, ctx in library_contexts(hook)],
    ids=lambda v: v if isinstance(v, str) else "",
)
@pytest.mark.req(75, 74)
def test_every_library_context_example_is_answered_by_every_service_of_its_hook(
    hook: str, name: str, context: dict[str, Any], api: Any, trusted_ehr: Any, make_token: Any
) -> None:
    for service in [s for s in services_all() if s.hook == hook]:
        response = _post(api, make_token, service.id, hook_body(hook, context, service.prefetch))
        assert response.status_code == 200, (service.id, name, response.content[:300])
        cards_response_validate(response.json())


@pytest.mark.parametrize("name", ["order_select_hook_request.json", "order_sign_hook_request.json"])
def test_the_inferno_crd_order_requests_are_answered(
    name: str, api: Any, trusted_ehr: Any, make_token: Any
) -> None:
    body = fixture_load(INFERNO / name)
    service = _service_for(body["hook"])
    body["prefetch"] = {
        **(body.get("prefetch") or {}),
        **prefetch_for(service.prefetch, body["context"]["patientId"]),
    }
    response = _post(api, make_token, service.id, body)
    assert response.status_code == 200, response.content
    cards_response_validate(response.json())


@pytest.mark.req(148, 82)
@pytest.mark.parametrize(
    "name",
    [
        "21-feedback-accepted.json",
        "22-feedback-overridden.json",
        "23-feedback-overridden-with-reason.json",
    ],
)
def test_the_spec_feedback_examples_are_stored(
    name: str, api: Any, trusted_ehr: Any, make_token: Any
) -> None:
    from cds.models import CardFeedback

    body = fixture_load(SPEC / name)
    service = _service_for("patient-view")
    path = f"/cds-services/{service.id}/feedback"
    response = api.post(path, body, format="json", HTTP_AUTHORIZATION=f"Bearer {make_token(path)}")
    assert response.status_code == 200, response.content
    stored = CardFeedback.objects.get()
    assert stored.card_uuid == body["feedback"][0]["card"]
    assert stored.outcome == body["feedback"][0]["outcome"]


PREFETCH_TOKEN = re.compile(r"\{\{(.*?)\}\}")
USER_TOKENS = {
    "userPractitionerId",
    "userPractitionerRoleId",
    "userPatientId",
    "userRelatedPersonId",
}


@pytest.mark.req(35, 55, 56, 57, 58, 59, 36)
def test_every_prefetch_template_uses_only_root_primitive_context_tokens_and_simple_queries() -> (
    None
):
    from cds.hook_request import HOOK_CONTEXTS

    for service in services_all():
        primitives = {
            name
            for name, (_, kind) in HOOK_CONTEXTS[service.hook].items()
            if kind in ("id", "user")
        }
        for key, template in service.prefetch.items():
            assert re.fullmatch(r"[A-Za-z0-9_-]+", key), key
            for token in PREFETCH_TOKEN.findall(template):
                token = token.strip()
                assert token in USER_TOKENS or (
                    token.startswith("context.") and token.removeprefix("context.") in primitives
                ), (service.id, template)
            # instance read (Type/{{id}}) or a type search with plain parameters
            resource, _, query = template.partition("?")
            assert re.fullmatch(r"[A-Z][A-Za-z]+(/\{\{[^}]+\}\})?", resource), template
            for param in filter(None, query.split("&")):
                name, _, _ = param.partition("=")
                assert re.fullmatch(r"[a-z][a-z-]*", name), template


@pytest.mark.req(2, 168, 200, 205, 206, 207, 201, 203)
def test_production_refuses_plain_http_and_symmetric_jwt_algorithms(settings: Any) -> None:
    from config.checks import cds_configuration_check

    settings.IS_PRODUCTION = True
    settings.SECRET_KEY = "x" * 50
    settings.CDS_HOOKS = {
        **settings.CDS_HOOKS,
        "PUBLIC_BASE_URL": "http://cds.example.org",
        "JWT_ALGORITHMS": ["ES384", "HS256"],
    }
    ids = {p.id for p in cds_configuration_check(None)}
    assert {"cds.E002", "cds.E004"} <= ids
    settings.CDS_HOOKS = {
        **settings.CDS_HOOKS,
        "PUBLIC_BASE_URL": "https://cds.example.org",
        "JWT_ALGORITHMS": ["ES384", "RS384"],
        "ALLOW_HTTP_FHIR": False,
    }
    assert not {p.id for p in cds_configuration_check(None)} & {"cds.E002", "cds.E004"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"selections": ["MedicationRequest/not-drafted"]}, "context.selections"),
        (
            {"draftOrders": {"resourceType": "Bundle", "entry": [{"resource": "x"}]}},
            "context.draftOrders",
        ),
        ({"draftOrders": {"resourceType": "Bundle", "entry": [{}]}}, "context.draftOrders"),
        ({"draftOrders": {"resourceType": "Parameters"}}, "context.draftOrders"),
    ],
)
def test_order_select_context_must_be_consistent(change: dict[str, Any], field: str) -> None:
    from config.errors import ApiError

    _, context = library_contexts("order-select")[0]
    body = hook_body("order-select", {**context, **change}, {})
    with pytest.raises(ApiError) as caught:
        hook_request_validate(body=body, expected_hook="order-select")
    assert field in caught.value.details
