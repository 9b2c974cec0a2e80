"""Review pages: roles, filters, detail with plot, analytics, exports, access records."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from audit.keys import patient_pseudonymize
from audit.models import DecisionRecord
from audit.roles import ROLES
from audit.services import AuditUnavailable
from audit.verification import audit_log_verify
from tests.audit.review_seed import MODEL_A, MODEL_B, review_user, seed_log

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # PBKDF2's deliberate slowness is the point in production and pure cost in these tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def seeded() -> list[Any]:
    return seed_log(decisions=12)


def _client(username: str, *roles: str) -> Client:
    review_user(username, *roles)
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


@pytest.fixture
def auditor() -> Client:
    return _client("alice", "auditor")


def _access_records() -> list[dict[str, Any]]:
    return [r.data for r in DecisionRecord.objects.filter(kind=DecisionRecord.KIND_ACCESS)]


def _seqs(response: Any) -> list[int]:
    return [
        int(m) for m in re.findall(r'href="/audit/decisions/(\d+)/"', response.content.decode())
    ]


# --- who may see what ---------------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_the_login_page(seeded) -> None:
    for path in (
        "/audit/",
        "/audit/decisions/",
        "/audit/decisions/1/",
        "/audit/analytics/",
        "/audit/export.csv",
    ):
        response = Client().get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/audit/login/")
    assert _access_records() == []


def test_it_refuses_a_logged_in_user_without_a_review_role(seeded) -> None:
    client = _client("mallory")
    for path in ("/audit/decisions/", f"/audit/decisions/{seeded[0].seq}/", "/audit/analytics/"):
        response = client.get(path)
        assert response.status_code == 403
        assert b"Not allowed" in response.content
        assert b"pat-" not in response.content
    response = client.get("/audit/export.csv")
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert _access_records() == []


def test_an_integrator_sees_analytics_but_no_patient_data(seeded) -> None:
    client = _client("ivan", "integrator")
    assert client.get("/audit/").url == "/audit/analytics/"
    assert client.get("/audit/analytics/").status_code == 200
    for path in (
        "/audit/decisions/",
        f"/audit/decisions/{seeded[0].seq}/",
        "/audit/export.csv",
        "/audit/export.fhir.json",
    ):
        assert client.get(path).status_code == 403
    assert _access_records() == []


def test_login_page_logs_an_auditor_in(seeded) -> None:
    review_user("alice", "auditor")
    client = Client()
    response = client.post("/audit/login/", {"username": "alice", "password": "review-pass-1234"})
    assert response.status_code == 302
    assert client.get(response["Location"], follow=True).status_code == 200
    bad = Client().post("/audit/login/", {"username": "alice", "password": "wrong"})
    assert bad.status_code == 200 and b"did not match" in bad.content


# --- list ---------------------------------------------------------------------------------


def test_list_shows_decisions_newest_first_and_records_the_access(seeded, auditor) -> None:
    response = auditor.get("/audit/decisions/")
    assert response.status_code == 200
    shown = _seqs(response)
    assert shown == sorted((s.seq for s in seeded), reverse=True)
    html = response.content.decode()
    assert html.count('<option value="diabetes-therapy">') == 1  # filter suggestions, once
    assert html.count(f'<option value="{MODEL_A}">') == 1
    (access,) = _access_records()
    assert access["user"] == "alice"
    assert access["event"]["action"] == "decision.list"
    assert access["event"]["details"]["seqs"] == shown
    assert audit_log_verify().ok


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"service": "diabetes-therapy"}, lambda s: s.service_id == "diabetes-therapy"),
        ({"outcome": "overridden"}, lambda s: s.outcome == "overridden"),
        ({"outcome": "accepted"}, lambda s: s.outcome == "accepted"),
        ({"outcome": "none"}, lambda s: s.outcome == ""),
        (
            {"indicator": "critical"},
            lambda s: s.seq and s.patient_id.endswith(("000", "004", "008")),
        ),
        ({"model": MODEL_B[:12]}, lambda s: s.model == MODEL_B),
        ({"clinician": "Practitioner/dr-lee"}, lambda s: True),
        ({"clinician": "Practitioner/other"}, lambda s: False),
    ],
)
def test_list_filters(seeded, auditor, query, expected) -> None:
    response = auditor.get("/audit/decisions/", query)
    assert response.status_code == 200
    assert sorted(_seqs(response)) == sorted(s.seq for s in seeded if expected(s))


def test_list_filters_by_patient_pseudonym_and_date(seeded, auditor) -> None:
    target = seeded[5]
    pseudonym = patient_pseudonymize(f"Patient/{target.patient_id}")
    response = auditor.get("/audit/decisions/", {"patient": pseudonym})
    assert _seqs(response) == [target.seq]
    assert target.patient_id.encode() not in response.content  # pseudonyms only
    today = timezone.now().date()
    assert len(_seqs(auditor.get("/audit/decisions/", {"date_from": today}))) == 12
    tomorrow = today + timedelta(days=1)
    assert _seqs(auditor.get("/audit/decisions/", {"date_from": tomorrow})) == []
    yesterday = today - timedelta(days=1)
    assert _seqs(auditor.get("/audit/decisions/", {"date_to": yesterday})) == []


@pytest.mark.parametrize(
    "query",
    [
        {"date_from": "2026-02-01", "date_to": "2026-01-01"},
        {"date_from": "yesterday"},
        {"model": "not-hex"},
        {"outcome": "maybe"},
        {"page": "0"},
        {"service": "x" * 101},
    ],
)
def test_list_rejects_bad_filters_without_showing_data(seeded, auditor, query) -> None:
    response = auditor.get("/audit/decisions/", query)
    assert response.status_code == 400
    assert _seqs(response) == []
    assert _access_records() == []


def test_list_paginates(auditor) -> None:
    seeded = seed_log(decisions=55)
    first = _seqs(auditor.get("/audit/decisions/"))
    second = _seqs(auditor.get("/audit/decisions/", {"page": 2}))
    assert len(first) == 50 and len(second) == 5
    assert sorted(first + second) == sorted(s.seq for s in seeded)


# --- detail -------------------------------------------------------------------------------


def test_detail_shows_cards_plot_trace_and_records_the_view(seeded, auditor) -> None:
    target = seeded[3]
    response = auditor.get(f"/audit/decisions/{target.seq}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<svg" in html and "shap-waterfall-0" in html
    assert "Consider an SGLT2 inhibitor (case 3)" in html  # the card as shown
    assert "Why an SGLT2 inhibitor" in html  # the factors in words inside the card detail
    assert "ada-9.2-sglt2i-hf-ckd" in html  # guideline trace
    assert "eGFR" in html and "mL/min/1.73m2" in html
    assert "Declined" in html  # feedback joined with its override reason
    assert 'id="hash-ok"' in html
    assert MODEL_A in html
    assert target.patient_id not in html
    (access,) = _access_records()
    assert access["event"]["action"] == "decision.view"
    assert access["decision_seq"] == target.seq
    assert access["patient_pseudonym"] == patient_pseudonymize(f"Patient/{target.patient_id}")


def test_detail_of_a_missing_or_non_decision_record_is_404(seeded, auditor) -> None:
    feedback_seq = DecisionRecord.objects.filter(kind="feedback").first().seq
    for seq in (99_999, feedback_seq):
        response = auditor.get(f"/audit/decisions/{seq}/")
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
    assert _access_records() == []


def test_detail_escapes_card_content(auditor) -> None:
    from audit.services import decision_record_append

    seq = int(
        decision_record_append(
            event={
                "kind": "hook",
                "service_id": "diabetes-therapy",
                "client_id": "ehr-main",
                "hook_instance": "h-x",
                "context": {"patientId": "p-x"},
                "response": {
                    "cards": [
                        {
                            "uuid": "u-x",
                            "summary": "<script>alert(1)</script>",
                            "indicator": "info",
                            "detail": "**bold** <img src=x onerror=alert(2)>",
                            "source": {"label": "<b>src</b>"},
                        }
                    ]
                },
                "decision": {"features": {"egfr": 40.0}},
            }
        )
    )
    html = auditor.get(f"/audit/decisions/{seq}/").content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "<strong>bold</strong>" in html
    assert "<b>src</b>" not in html


def test_no_data_is_shown_when_the_access_record_cannot_be_written(
    seeded, auditor, monkeypatch
) -> None:
    def broken(**kwargs: Any) -> int:
        raise AuditUnavailable("log down")

    monkeypatch.setattr("audit.views.audit_access_record", broken)
    for path in (f"/audit/decisions/{seeded[0].seq}/", "/audit/decisions/", "/audit/export.csv"):
        response = auditor.get(path)
        assert response.status_code == 503
        assert response.json()["error"] == "audit_unavailable"
        assert b"pat-" not in response.content and b"SGLT2" not in response.content


# --- analytics ----------------------------------------------------------------------------


def _row(html: str, table: str, key: str) -> list[str]:
    part = html.split(f'id="table-{table}"')[1].split("</table>")[0]
    for tr in part.split("<tr>")[1:]:
        cells = [c.split(">", 1)[1].split("</td")[0] for c in tr.split("<td")[1:]]
        if cells and cells[0] == key:
            return cells
    raise AssertionError(f"no row {key} in {table}")


def test_analytics_gives_override_rates_by_service_rule_model_and_time(seeded, auditor) -> None:
    response = auditor.get("/audit/analytics/")
    assert response.status_code == 200
    html = response.content.decode()
    for plot in ("override-by-service", "override-by-rule", "override-by-model", "override-trend"):
        assert f"id='{plot}'" in html
    # i = 0..11; even -> diabetes (0,2,4,6,8,10): overridden 0,6; accepted 4,10 -> 50 %
    assert _row(html, "service", "diabetes-therapy")[1:4] == ["2", "2", "50%"]
    # odd -> hypertension (1,3,5,7,9,11): overridden 3,9; accepted 1,7 -> 50 %
    assert _row(html, "service", "hypertension-therapy")[1:4] == ["2", "2", "50%"]
    # model A: i 0..5: overridden 0,3; accepted 1,4; model B: i 6..11: overridden 6,9; acc 7,10
    assert _row(html, "model", MODEL_A[:12])[1:4] == ["2", "2", "50%"]
    # rules follow the service here; the not_applicable BP rule never counts
    assert _row(html, "rule", "ada-9.1-metformin-first")[1:4] == ["2", "2", "50%"]
    assert "acc-aha-bp-1" not in html
    assert timezone.now().date().isoformat() in html  # the trend's day axis
    assert _access_records() == []  # aggregates only: no patient data


def test_analytics_rate_follows_the_feedback(auditor) -> None:
    seeded = seed_log(decisions=4)  # i=0 overridden, 1 accepted, 2 none, 3 overridden
    html = auditor.get("/audit/analytics/").content.decode()
    assert _row(html, "service", "hypertension-therapy")[1:4] == ["1", "1", "50%"]
    assert _row(html, "service", "diabetes-therapy")[1:4] == ["0", "1", "100%"]
    assert len(seeded) == 4


def test_analytics_rejects_a_bad_window(auditor) -> None:
    response = auditor.get(
        "/audit/analytics/", {"date_from": "2026-05-01", "date_to": "2026-01-01"}
    )
    assert response.status_code == 400


# --- exports ------------------------------------------------------------------------------


def test_csv_export_has_every_filtered_decision_and_records_the_export(seeded, auditor) -> None:
    response = auditor.get("/audit/export.csv", {"outcome": "overridden"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    expected = sorted((s.seq for s in seeded if s.outcome == "overridden"), reverse=True)
    assert [int(r["seq"]) for r in rows] == expected
    assert all(r["last_outcome"] == "overridden" for r in rows)
    assert all(len(r["hash"]) == 64 and r["top_factors"].startswith("sglt2i:") for r in rows)
    (access,) = _access_records()
    assert access["event"]["action"] == "export.csv"
    assert access["event"]["details"]["rows"] == len(expected)
    assert access["event"]["details"]["filters"] == {"outcome": "overridden"}


def test_csv_export_defuses_spreadsheet_formulas(auditor) -> None:
    from audit.services import decision_record_append

    decision_record_append(
        event={
            "kind": "hook",
            "service_id": '=HYPERLINK("http://evil")',
            "client_id": "ehr-main",
            "response": {"cards": []},
        }
    )
    rows = list(csv.reader(io.StringIO(auditor.get("/audit/export.csv").content.decode())))
    assert rows[1][2].startswith("'=")


def test_fhir_export_is_a_bundle_of_audit_events_and_provenance(seeded, auditor) -> None:
    response = auditor.get("/audit/export.fhir.json", {"service": "diabetes-therapy"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    bundle = json.loads(response.content)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds.count("AuditEvent") == 6 and kinds.count("Provenance") == 6
    assert all(e["fullUrl"] == f"urn:uuid:{e['resource']['id']}" for e in bundle["entry"])
    assert b"pat-0" not in response.content
    (access,) = _access_records()
    assert access["event"]["action"] == "export.fhir"


def test_exports_are_capped_and_reject_bad_filters(seeded, auditor, settings) -> None:
    settings.CDS_AUDIT = {**settings.CDS_AUDIT, "EXPORT_MAX_ROWS": 5}
    response = auditor.get("/audit/export.csv")
    assert response.status_code == 400
    assert response.json()["error"] == "export_too_large"
    assert (
        auditor.get(
            "/audit/export.csv", {"service": "hypertension-therapy", "outcome": "overridden"}
        ).status_code
        == 200
    )
    bad = auditor.get("/audit/export.fhir.json", {"date_from": "never"})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_filters"
    assert [a["event"]["action"] for a in _access_records()] == ["export.csv"]


# --- roles command ------------------------------------------------------------------------


def test_audit_roles_command_creates_groups_and_grants_roles() -> None:
    from django.contrib.auth.models import Group, User

    out = io.StringIO()
    call_command("audit_roles", stdout=out)
    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLES)
    call_command("audit_roles", stdout=out)  # idempotent
    User.objects.create_user(username="bob", password="x-pass-12345")
    call_command("audit_roles", "--user", "bob", "--role", "auditor", stdout=out)
    assert User.objects.get(username="bob").groups.filter(name="auditor").exists()
    call_command("audit_roles", "--user", "bob", "--role", "auditor", "--revoke", stdout=out)
    assert not User.objects.get(username="bob").groups.exists()
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("audit_roles", "--user", "nobody", "--role", "auditor", stdout=out)
