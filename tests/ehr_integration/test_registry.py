"""The EHR client registry as integrators use it: REST API (token, staff only), its
OpenAPI schema, the `register_ehr_client` command and the Django admin.

Personas: an integrator (staff token), a clinician account (token, not staff), anonymous."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from joserfc.jwk import ECKey
from rest_framework.test import APIClient

from ehr_integration.models import EhrClient
from tests.conftest import patient_view_body

pytestmark = pytest.mark.django_db

URL = "/api/v1/ehr-clients"


def _token_client(*, staff: bool, name: str) -> APIClient:
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    user = User.objects.create_user(name, password="p" * 20, is_staff=staff)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def integrator() -> APIClient:
    return _token_client(staff=True, name="integrator")


@pytest.fixture
def clinician() -> APIClient:
    return _token_client(staff=False, name="clinician")


def _payload(ehr_key: ECKey, **over: Any) -> dict[str, Any]:
    body = {
        "issuer": "https://new-ehr.example.org",
        "name": "New EHR",
        "jwks": {"keys": [ehr_key.as_dict(private=False)]},
        "allowed_algorithms": ["ES384"],
        "tenant": "hospital-a",
        "fhir_base_url": "https://fhir.new-ehr.example.org/r4",
        "enabled_services": ["diabetes-therapy"],
    }
    body.update(over)
    return body


def test_anonymous_and_non_staff_callers_are_refused(clinician: APIClient) -> None:
    anonymous = APIClient().get(URL)
    assert anonymous.status_code == 401
    assert anonymous.json() == {
        "error": "unauthorized",
        "message": "Authentication failed.",
        "details": None,
    }
    assert anonymous["WWW-Authenticate"] == "Token"
    forbidden = clinician.post(URL, {"issuer": "https://x"}, format="json")
    assert forbidden.status_code == 403
    assert forbidden.json()["error"] == "forbidden"
    assert not EhrClient.objects.exists()


def test_an_integrator_registers_lists_updates_and_deactivates_a_client(
    integrator: APIClient, ehr_key: ECKey, api: Any, make_token: Any
) -> None:
    created = integrator.post(URL, _payload(ehr_key), format="json")
    assert created.status_code == 201, created.content
    client_id = created.json()["id"]
    assert created.json()["is_active"] is True
    assert [c["issuer"] for c in integrator.get(URL).json()] == ["https://new-ehr.example.org"]

    updated = integrator.put(
        f"{URL}/{client_id}", _payload(ehr_key, issuer="https://renamed.example.org"), format="json"
    )
    assert updated.status_code == 200, updated.content
    assert EhrClient.objects.count() == 1
    assert EhrClient.objects.get().issuer == "https://renamed.example.org"

    path = "/cds-services/diabetes-therapy"
    token = make_token(path, iss="https://renamed.example.org", tenant="hospital-a")
    body = patient_view_body()
    assert (
        api.post(path, body, format="json", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    )
    assert integrator.delete(f"{URL}/{client_id}").status_code == 204
    token = make_token(path, iss="https://renamed.example.org", tenant="hospital-a")
    assert (
        api.post(path, body, format="json", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    )


def test_a_client_enabled_for_one_service_is_refused_the_others(
    integrator: APIClient, ehr_key: ECKey, api: Any, make_token: Any
) -> None:
    integrator.post(URL, _payload(ehr_key, tenant=""), format="json")
    path = "/cds-services/statin-therapy"
    token = make_token(path, iss="https://new-ehr.example.org")
    response = api.post(
        path, patient_view_body(), format="json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}, "invalid_jwks"),
        ({"jwks": "not-a-jwks"}, "invalid_jwks"),
        ({"jwks": {"keys": []}}, "invalid_jwks"),
        ({"allowed_algorithms": ["HS256"]}, "invalid_algorithms"),
        ({"allowed_algorithms": ["none"]}, "invalid_algorithms"),
        ({"allowed_algorithms": "ES384"}, "invalid_request"),
        ({"allowed_algorithms": [1]}, "invalid_request"),
        ({"jwks": None, "jku_allowlist": ["http://plain.example.org/jwks"]}, "invalid_jku"),
        ({"jwks": None, "jku_allowlist": {"a": 1}}, "invalid_request"),
        ({"jwks": None, "jku_allowlist": [5]}, "invalid_request"),
        ({"jwks": None}, "no_key_source"),
        ({"enabled_services": "diabetes-therapy"}, "invalid_request"),
        ({"fhir_base_url": "not a url"}, "invalid_request"),
        ({"issuer": ""}, "invalid_request"),
    ],
)
def test_unsafe_or_malformed_registrations_are_refused(
    change: dict[str, Any], code: str, integrator: APIClient, ehr_key: ECKey
) -> None:
    response = integrator.post(URL, _payload(ehr_key, **change), format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"] == code
    assert set(response.json()) == {"error", "message", "details"}
    assert not EhrClient.objects.exists()


def test_a_private_key_is_never_stored(integrator: APIClient, ehr_key: ECKey) -> None:
    response = integrator.post(
        URL, _payload(ehr_key, jwks={"keys": [ehr_key.as_dict(private=True)]}), format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_jwks"
    assert not EhrClient.objects.exists()


def test_the_openapi_schema_is_valid_and_documents_the_surfaces(integrator: APIClient) -> None:
    from openapi_spec_validator import validate

    response = integrator.get("/api/schema/")
    assert response.status_code == 200
    schema = json.loads(response.content)
    validate(schema)
    assert {
        "/api/v1/ehr-clients",
        "/api/v1/ehr-clients/{id}",
        "/cds-services",
        "/cds-services/{service_id}",
        "/cds-services/{service_id}/feedback",
    } <= set(schema["paths"])
    post = schema["paths"]["/api/v1/ehr-clients"]["post"]
    assert any("tokenAuth" in s for s in post["security"])
    yaml = integrator.get("/api/schema/?format=yaml")
    assert yaml.status_code == 200 and yaml.content.startswith(b"openapi:")


def test_the_command_registers_a_client_that_can_then_call(
    tmp_path: Path, ehr_key: ECKey, api: Any, make_token: Any
) -> None:
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [ehr_key.as_dict(private=False)]}))
    call_command(
        "register_ehr_client",
        "--issuer",
        "https://cli-ehr.example.org",
        "--jwks-file",
        str(jwks_file),
        "--tenant",
        "t-cli",
        "--fhir-base",
        "https://fhir.cli.example.org/r4",
        "--algorithms",
        "ES384",
    )
    client = EhrClient.objects.get(issuer="https://cli-ehr.example.org")
    assert (client.tenant, client.allowed_algorithms) == ("t-cli", ["ES384"])
    path = "/cds-services/diabetes-therapy"
    token = make_token(path, iss="https://cli-ehr.example.org", tenant="t-cli")
    response = api.post(
        path, patient_view_body(), format="json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 200


def test_the_command_takes_jku_urls(capsys: Any) -> None:
    call_command(
        "register_ehr_client",
        "--issuer",
        "https://jku-ehr.example.org",
        "--jku",
        "https://jku-ehr.example.org/a.json",
        "--jku",
        "https://jku-ehr.example.org/b.json",
    )
    client = EhrClient.objects.get()
    assert client.jku_allowlist == [
        "https://jku-ehr.example.org/a.json",
        "https://jku-ehr.example.org/b.json",
    ]
    assert "registered EHR client" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args",
    [
        ["--issuer", "https://x", "--jwks-file", "/no/such/file.json"],
        ["--issuer", "https://x", "--jku", "http://insecure.example.org/jwks"],
        ["--issuer", "https://x", "--jku", "https://x/j", "--algorithms", "HS256"],
    ],
)
def test_the_command_refuses_bad_input_without_registering(args: list[str]) -> None:
    with pytest.raises(CommandError):
        call_command("register_ehr_client", *args)
    assert not EhrClient.objects.exists()


def test_the_admin_lists_searches_and_edits_clients(trusted_ehr: Any) -> None:
    from django.contrib.auth.models import User
    from django.test import Client

    admin = User.objects.create_superuser("admin", password="a" * 20)
    browser = Client()
    browser.force_login(admin)
    changelist = browser.get("/admin/ehr_integration/ehrclient/?q=ehr.example")
    assert changelist.status_code == 200
    assert b"https://ehr.example.org" in changelist.content
    change = browser.get(f"/admin/ehr_integration/ehrclient/{trusted_ehr.pk}/change/")
    assert change.status_code == 200
    assert browser.get("/admin/ehr_integration/ehrclient/add/").status_code == 200
    assert Client().get("/admin/ehr_integration/ehrclient/").status_code == 302


def test_the_bench_endpoint_is_refused_in_production(settings: Any) -> None:
    from config.checks import cds_configuration_check

    settings.IS_PRODUCTION = True
    settings.CDS_BENCH_BARE_ENDPOINT = True
    ids = {p.id for p in cds_configuration_check(None)}
    assert "cds.E006" in ids
    settings.CDS_BENCH_BARE_ENDPOINT = False
    assert "cds.E006" not in {p.id for p in cds_configuration_check(None)}


def test_the_bench_endpoint_is_not_routed_by_default(api: Any) -> None:
    assert api.get("/bench/bare").status_code == 404
