"""Hypothesis sends malformed requests to every endpoint: bodies (random bytes, random
JSON, valid hook bodies with one field broken, deep nesting, bad UTF-8), methods, content
types and headers. No response may be a 5xx, and every 4xx carries the one error shape.

The runs are derandomized so CI is repeatable; the example counts are asserted, so the
tier cannot silently send fewer requests than it claims (>= 1,200 in all)."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import patient_view_body

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

FUZZ = settings(
    max_examples=450,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

HOOK_PATHS = [
    "/cds-services/diabetes-therapy",
    "/cds-services/medication-order-select",
    "/cds-services/medication-order-sign",
]
PATHS = [
    "/cds-services",
    *HOOK_PATHS,
    "/cds-services/diabetes-therapy/feedback",
    "/cds-services/no-such-service",
    "/cds-services/no-such-service/feedback",
    "/cds-services/" + "a" * 300,
    "/cds-services/%00",
    "/cds-services/..%2f..%2fetc",
    "/api/v1/ehr-clients",
    f"/api/v1/ehr-clients/{uuid.uuid4()}",
    "/api/v1/ehr-clients/not-a-uuid",
    "/api/schema/",
    "/no/such/path",
]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "application/json; charset=no-such-charset",
    "application/fhir+json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "",
    "garbage",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=15,
)


def _deep(n: int, opener: str) -> bytes:
    closer = {"[": "]", "{": "}"}[opener]
    if opener == "{":
        return ('{"a":' * n + "1" + "}" * n).encode()
    return (opener * n + closer * n).encode()


raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(_deep, st.integers(min_value=50, max_value=50000), st.sampled_from(["[", "{"])),
    st.sampled_from(
        [
            b"",
            b"null",
            b"[]",
            b"{}",
            b'"str"',
            b"NaN",
            b'{"a": Infinity}',
            b"\xff\xfe{}",
            b'{"hook": "patient-view\\u0000"}',
            b"{" * 3,
            b'{"a":1,"a":2}',
            b"1e999999",
        ]
    ),
)


def _assert_error_shape(response: Any, path: str) -> None:
    assert response.status_code < 500, (path, response.status_code, response.content[:300])
    if 400 <= response.status_code < 500 and response.content:
        body = json.loads(response.content)
        assert set(body) == {"error", "message", "details"}, (path, body)
        assert isinstance(body["error"], str) and body["error"]
        assert isinstance(body["message"], str) and body["message"]


@pytest.fixture
def staff_token(db: Any) -> str:
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    user = User.objects.create_user("integrator", password="x" * 20, is_staff=True)
    return Token.objects.create(user=user).key


@pytest.fixture
def fuzz_client() -> Client:
    return Client(raise_request_exception=False)


COUNTS: dict[str, int] = {}


def _count(name: str) -> None:
    COUNTS[name] = COUNTS.get(name, 0) + 1


@pytest.mark.req(14, 76)
def test_raw_bodies_methods_content_types_and_headers_never_5xx(
    fuzz_client: Client, trusted_ehr: Any, make_token: Any, staff_token: str
) -> None:
    @FUZZ
    @given(
        method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]),
        path=st.sampled_from(PATHS),
        content_type=st.sampled_from(CONTENT_TYPES),
        body=raw_bodies,
        auth=st.sampled_from(["none", "jwt", "garbage", "api-token", "jwt-other-path"]),
        accept=st.sampled_from([None, "application/json", "text/html", "*/*", "image/png"]),
    )
    def run(
        method: str, path: str, content_type: str, body: bytes, auth: str, accept: str | None
    ) -> None:
        _count("raw")
        headers: dict[str, str] = {}
        if auth == "jwt":
            headers["Authorization"] = f"Bearer {make_token(path)}"
        elif auth == "jwt-other-path":
            headers["Authorization"] = f"Bearer {make_token('/cds-services/statin-therapy')}"
        elif auth == "garbage":
            headers["Authorization"] = "Bearer \x00\x01garbage"
        elif auth == "api-token":
            headers["Authorization"] = f"Token {staff_token}"
        if accept:
            headers["Accept"] = accept
        response = fuzz_client.generic(
            method, path, data=body, content_type=content_type, headers=headers
        )
        _assert_error_shape(response, path)

    run()
    assert COUNTS["raw"] >= 450


def _broken_hook_bodies() -> st.SearchStrategy[dict[str, Any]]:
    fields = [
        ("hook",),
        ("hookInstance",),
        ("fhirServer",),
        ("fhirAuthorization",),
        ("context",),
        ("prefetch",),
        ("extension",),
        ("context", "userId"),
        ("context", "patientId"),
        ("context", "encounterId"),
        ("context", "selections"),
        ("context", "draftOrders"),
        ("prefetch", "patient"),
        ("prefetch", "observations"),
        ("fhirAuthorization", "access_token"),
        ("fhirAuthorization", "expires_in"),
    ]

    def build(field: tuple[str, ...], value: Any, delete: bool) -> dict[str, Any]:
        body = copy.deepcopy(patient_view_body())
        body["fhirAuthorization"] = {
            "access_token": "t",
            "token_type": "Bearer",
            "scope": "s",
            "subject": "x",
        }
        body["fhirServer"] = "https://fhir.example.org/r4"
        target = body
        for part in field[:-1]:
            if not isinstance(target.get(part), dict):
                target[part] = {}
            target = target[part]
        if delete:
            target.pop(field[-1], None)
        else:
            target[field[-1]] = value
        return body

    return st.builds(build, st.sampled_from(fields), json_values, st.booleans())


@pytest.mark.req(14, 76)
def test_valid_hook_bodies_with_one_field_broken_never_5xx(
    fuzz_client: Client, trusted_ehr: Any, make_token: Any, settings: Any
) -> None:
    # Outbound reads go nowhere: the registered FHIR host is not resolvable offline, and a
    # host check refuses anything else, so a broken prefetch ends as 412, never a hang.
    settings.CDS_HOOKS = {**settings.CDS_HOOKS, "FHIR_HOST_ALLOWLIST": []}
    trusted_ehr.fhir_base_url = "https://fhir.invalid/r4"
    trusted_ehr.save()

    @FUZZ
    @given(path=st.sampled_from(HOOK_PATHS), body=_broken_hook_bodies())
    def run(path: str, body: dict[str, Any]) -> None:
        _count("hook")
        response = fuzz_client.post(
            path,
            json.dumps(body),
            content_type="application/json",
            headers={"Authorization": f"Bearer {make_token(path)}"},
        )
        _assert_error_shape(response, path)

    run()
    assert COUNTS["hook"] >= 450


@pytest.mark.req(148)
def test_feedback_bodies_never_5xx(fuzz_client: Client, trusted_ehr: Any, make_token: Any) -> None:
    path = "/cds-services/diabetes-therapy/feedback"
    item = st.fixed_dictionaries(
        {},
        optional={
            "card": json_values | st.text(max_size=300),
            "outcome": st.sampled_from(["accepted", "overridden", "maybe"]) | json_values,
            "outcomeTimestamp": st.sampled_from(["2020-12-11T00:00:00Z", "yesterday"])
            | json_values,
            "acceptedSuggestions": json_values | st.just([{"id": "x"}]),
            "overrideReason": json_values | st.just({"reason": {"code": "c", "system": "s"}}),
        },
    )
    bodies = st.one_of(
        st.fixed_dictionaries({"feedback": st.lists(item | json_values, max_size=3)}),
        json_values,
    )

    @FUZZ
    @given(body=bodies)
    def run(body: Any) -> None:
        _count("feedback")
        response = fuzz_client.post(
            path,
            json.dumps(body),
            content_type="application/json",
            headers={"Authorization": f"Bearer {make_token(path)}"},
        )
        _assert_error_shape(response, path)

    run()
    assert COUNTS["feedback"] >= 300


def test_a_body_over_the_size_limit_is_413_in_the_error_shape(
    fuzz_client: Client, trusted_ehr: Any, make_token: Any, settings: Any
) -> None:
    limit = settings.CDS_HOOKS["MAX_BODY_BYTES"]
    for path in ("/cds-services/diabetes-therapy", "/api/v1/ehr-clients"):
        response = fuzz_client.post(
            path, b"{" + b" " * limit + b"}", content_type="application/json"
        )
        assert response.status_code == 413
        _assert_error_shape(response, path)
