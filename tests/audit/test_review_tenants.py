"""Reviewers scoped to a tenant (a hospital sharing a deployment) see only its decisions:
list, detail, exports, filter choices and analytics; unscoped reviewers see every tenant."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from tests.audit.review_seed import review_user, seed_log

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def two_tenants() -> dict[str, list[Any]]:
    return {
        "general-hospital": seed_log(decisions=6, tenant="general-hospital"),
        "st-elsewhere": seed_log(decisions=4, tenant="st-elsewhere", first=100, seed=1),
    }


def _login(username: str, *roles: str, tenants: tuple[str, ...] = ()) -> Client:
    review_user(username, *roles)
    for tenant in tenants:
        call_command("audit_roles", user=username, tenant=[tenant], stdout=io.StringIO())
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


def _seqs(response: Any) -> set[int]:
    return {
        int(m) for m in re.findall(r'href="/audit/decisions/(\d+)/"', response.content.decode())
    }


def test_a_scoped_auditor_lists_only_their_tenants_decisions(two_tenants) -> None:
    ours = {d.seq for d in two_tenants["general-hospital"]}
    theirs = {d.seq for d in two_tenants["st-elsewhere"]}
    scoped = _login("gina", "auditor", tenants=("general-hospital",))
    assert _seqs(scoped.get("/audit/decisions/")) == ours
    unscoped = _login("ursula", "auditor")
    assert _seqs(unscoped.get("/audit/decisions/")) == ours | theirs


def test_another_tenants_decision_is_404_for_a_scoped_auditor(two_tenants) -> None:
    scoped = _login("gina", "auditor", tenants=("general-hospital",))
    other = two_tenants["st-elsewhere"][0].seq
    own = two_tenants["general-hospital"][0].seq
    assert scoped.get(f"/audit/decisions/{own}/").status_code == 200
    response = scoped.get(f"/audit/decisions/{other}/")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_exports_hold_only_the_scoped_tenants_decisions(two_tenants) -> None:
    scoped = _login("gina", "auditor", tenants=("st-elsewhere",))
    text = scoped.get("/audit/export.csv").content.decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows, text[:300]
    seq_column = next(c for c in rows[0] if c.lower() in ("seq", "sequence"))
    assert {int(r[seq_column]) for r in rows} == {d.seq for d in two_tenants["st-elsewhere"]}
    bundle = scoped.get("/audit/export.fhir.json").json()
    assert "general-hospital" not in str(bundle)


def test_analytics_count_only_the_scoped_tenants_feedback(two_tenants) -> None:
    def total(client: Client) -> int:
        html = client.get("/audit/analytics/").content.decode()
        # the by-service table: accepted + overridden over all services
        numbers = re.findall(r"<td[^>]*>(\d+)</td>\s*<td[^>]*>(\d+)</td>", html)
        return sum(int(a) + int(o) for a, o in numbers)

    feedback = {
        tenant: sum(1 for d in decisions if d.outcome) for tenant, decisions in two_tenants.items()
    }
    scoped = _login("gina", "auditor", tenants=("st-elsewhere",))
    unscoped = _login("ursula", "auditor")
    # every grouping (service, rule, model, day) counts the same feedback items
    assert total(scoped) * sum(feedback.values()) == total(unscoped) * feedback["st-elsewhere"]


def test_audit_roles_grants_and_revokes_a_tenant() -> None:
    review_user("gina", "auditor")
    out = io.StringIO()
    call_command("audit_roles", user="gina", tenant=["general-hospital"], stdout=out)
    assert "granted tenant:general-hospital to gina" in out.getvalue()
    user = User.objects.get(username="gina")
    assert list(user.groups.filter(name__startswith="tenant:").values_list("name", flat=True)) == [
        "tenant:general-hospital"
    ]
    call_command("audit_roles", user="gina", tenant=["general-hospital"], revoke=True, stdout=out)
    assert not user.groups.filter(name__startswith="tenant:").exists()
