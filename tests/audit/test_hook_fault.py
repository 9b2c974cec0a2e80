"""No card without its record: a database failing mid-append withholds the decision."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError, connection

import audit.services
from audit.models import DecisionCard, DecisionRecord
from cds.models import CardFeedback
from tests.conftest import patient_view_body

PATH = "/cds-services/diabetes-therapy"


def _fail_after_insert(monkeypatch: pytest.MonkeyPatch, breaker: Any) -> list[int]:
    """Let the record row be inserted, then fail: the half-written record must vanish."""
    written: list[int] = []
    original = audit.services._append_locked

    def append_then_fail(*args: Any) -> Any:
        record = original(*args)
        written.append(record.seq)
        breaker()
        raise AssertionError("the breaker should have raised")

    monkeypatch.setattr(audit.services, "_append_locked", append_then_fail)
    return written


def _raise() -> None:
    raise OperationalError("server closed the connection unexpectedly")


@pytest.mark.django_db
def test_a_failed_append_answers_503_with_no_card_and_no_record(
    api: Any, trusted_ehr: Any, make_token: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = _fail_after_insert(monkeypatch, _raise)
    response = api.post(
        PATH, patient_view_body(), format="json", HTTP_AUTHORIZATION=f"Bearer {make_token(PATH)}"
    )
    assert written == [1]  # the row really was inserted before the failure
    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "audit_unavailable"
    assert "cards" not in body
    assert not DecisionRecord.objects.exists()
    assert not DecisionCard.objects.exists()


@pytest.mark.django_db
def test_failed_feedback_audit_rolls_back_the_stored_feedback(
    api: Any, trusted_ehr: Any, make_token: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_after_insert(monkeypatch, _raise)
    path = PATH + "/feedback"
    body = {
        "feedback": [
            {"card": "c1", "outcome": "accepted", "outcomeTimestamp": "2026-01-01T00:00:00Z"}
        ]
    }
    response = api.post(path, body, format="json", HTTP_AUTHORIZATION=f"Bearer {make_token(path)}")
    assert response.status_code == 503
    assert not CardFeedback.objects.exists()
    assert not DecisionRecord.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_broken_mid_append_leaves_nothing_half_written(
    api: Any, trusted_ehr: Any, make_token: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("breaks a real server connection: PostgreSQL only")

    def break_connection() -> None:
        connection.connection.close()  # the socket goes; the next statement fails
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    written = _fail_after_insert(monkeypatch, break_connection)
    response = api.post(
        PATH, patient_view_body(), format="json", HTTP_AUTHORIZATION=f"Bearer {make_token(PATH)}"
    )
    assert written == [1]
    assert response.status_code == 503
    assert response.json()["error"] == "audit_unavailable"
    monkeypatch.undo()
    connection.close()
    assert not DecisionRecord.objects.exists()
    # and the log still works afterwards: the next call gets seq 1, no gap
    ok = api.post(
        PATH, patient_view_body(), format="json", HTTP_AUTHORIZATION=f"Bearer {make_token(PATH)}"
    )
    assert ok.status_code == 200
    assert list(DecisionRecord.objects.values_list("seq", flat=True)) == [1]
