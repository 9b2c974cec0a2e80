"""Appending to the decision log: hook records, feedback joined to them, access records."""

from __future__ import annotations

import json
import os
import stat
from typing import Any

import pytest
from django.db import connection, transaction

from audit import chain
from audit.keys import patient_pseudonymize
from audit.models import AppendOnlyError, Checkpoint, DecisionCard, DecisionRecord
from audit.services import audit_access_record, checkpoint_create, decision_record_append
from audit.verification import audit_log_verify

pytestmark = pytest.mark.django_db


def hook_event(patient: str = "p1", card_uuid: str = "card-1", **extra: Any) -> dict[str, Any]:
    event = {
        "kind": "hook",
        "service_id": "diabetes-therapy",
        "hook": "patient-view",
        "hook_instance": "hi-1",
        "client_id": "client-1",
        "tenant": "t1",
        "jti": "j1",
        "context": {"userId": "Practitioner/123", "patientId": patient},
        "response": {
            "cards": [
                {
                    "uuid": card_uuid,
                    "summary": "Consider metformin",
                    "indicator": "info",
                    "source": {"label": "x"},
                }
            ]
        },
        "decision": {
            "patient_ref": f"Patient/{patient}",
            "user": "Practitioner/123",
            "features": {"egfr": 38.0, "hba1c": 8.1},
            "guideline_version": "g" * 16,
            "guideline_trace": [{"rule": "r1", "result": "fired", "why": "hba1c high"}],
            "candidates": [{"action": "metformin", "concordant": True, "score": 0.7}],
            "model": {"task": "t2d_next", "artifact_sha256": "a" * 64},
            "explanations": [
                {"target": "metformin", "base_value": 0.1, "values": {"egfr": 0.2}, "output": 0.3}
            ],
        },
        "latency_ms": 3.25,
    }
    event.update(extra)
    return event


def test_it_appends_a_chained_record_with_a_pseudonym_and_no_patient_id() -> None:
    with transaction.atomic():
        seq = decision_record_append(event=hook_event(patient="patient-xyz"))
    record = DecisionRecord.objects.get(seq=int(seq))
    assert record.seq == 1
    assert record.prev_hash == chain.GENESIS_HASH
    assert record.hash == chain.record_hash(record.prev_hash, record.body.encode())
    assert record.patient_pseudonym == patient_pseudonymize("Patient/patient-xyz")
    assert "patient-xyz" not in record.body
    assert record.model_artifact_sha256 == "a" * 64
    assert record.data["event"]["decision"]["features"] == {"egfr": 38.0, "hba1c": 8.1}
    assert DecisionCard.objects.get().card_uuid == "card-1"


def test_feedback_is_joined_to_the_decision_by_card_uuid() -> None:
    decision_seq = int(decision_record_append(event=hook_event(card_uuid="c-9")))
    seq = decision_record_append(
        event={
            "kind": "feedback",
            "service_id": "diabetes-therapy",
            "client_id": "client-1",
            "tenant": "t1",
            "jti": "j2",
            "feedback": {"card": "c-9", "outcome": "overridden", "outcomeTimestamp": "x"},
        }
    )
    feedback = DecisionRecord.objects.get(seq=int(seq))
    assert feedback.decision_seq == decision_seq
    assert feedback.outcome == "overridden"
    assert (
        feedback.patient_pseudonym == DecisionRecord.objects.get(seq=decision_seq).patient_pseudonym
    )
    assert feedback.prev_hash == DecisionRecord.objects.get(seq=decision_seq).hash


def test_access_records_name_the_viewer_and_the_patient() -> None:
    decision_seq = int(decision_record_append(event=hook_event()))
    seq = audit_access_record(user="auditor1", action="decision.view", decision_seq=decision_seq)
    access = DecisionRecord.objects.get(seq=seq)
    assert access.kind == "access"
    assert access.user == "auditor1"
    assert access.patient_pseudonym == patient_pseudonymize("p1")
    assert access.data["event"]["action"] == "decision.view"


def test_rows_cannot_be_updated_or_deleted_through_the_orm() -> None:
    decision_record_append(event=hook_event())
    record = DecisionRecord.objects.get()
    record.user = "someone else"
    with pytest.raises(AppendOnlyError):
        record.save()
    with pytest.raises(AppendOnlyError):
        record.delete()
    with pytest.raises(AppendOnlyError):
        DecisionRecord.objects.filter(seq=1).update(user="x")
    with pytest.raises(AppendOnlyError):
        DecisionRecord.objects.all().delete()


@pytest.mark.postgres
def test_postgres_refuses_raw_sql_updates_and_deletes() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    from django.db import DatabaseError

    decision_record_append(event=hook_event())
    for sql in (
        "UPDATE audit_decisionrecord SET \"user\" = 'x'",
        "DELETE FROM audit_decisionrecord",
        "DELETE FROM audit_decisioncard",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql)


def test_checkpoints_are_signed_automatically_and_on_demand(settings: Any) -> None:
    settings.CDS_AUDIT = {**settings.CDS_AUDIT, "CHECKPOINT_EVERY": 3}
    for i in range(7):
        decision_record_append(event=hook_event(card_uuid=f"c{i}"))
    assert list(Checkpoint.objects.values_list("tree_size", flat=True)) == [3, 6]
    assert checkpoint_create().tree_size == 7
    assert checkpoint_create() is None  # already signed at this size
    report = audit_log_verify()
    assert report.ok, report.problem
    assert report.checkpoints_checked == 3
    bodies = [
        r.encode() for r in DecisionRecord.objects.order_by("seq").values_list("body", flat=True)
    ]
    root = chain.merkle_root([chain.leaf_hash(b) for b in bodies])
    assert Checkpoint.objects.get(tree_size=7).root == root.hex()


def test_key_files_are_created_once_with_mode_0600(_audit_keys: Any) -> None:
    decision_record_append(event=hook_event())
    checkpoint_create()
    for name in ("audit-pseudonym.key", "audit-signing.pem"):
        mode = stat.S_IMODE(os.stat(_audit_keys / name).st_mode)
        assert mode == 0o600, name


def test_non_finite_numbers_are_recorded_as_words_not_refused() -> None:
    event = hook_event()
    event["decision"]["risks"] = {"ckd": float("nan")}
    decision_record_append(event=event)
    assert json.loads(DecisionRecord.objects.get().body)["event"]["decision"]["risks"] == {
        "ckd": "NaN"
    }


def test_system_checks_refuse_a_short_pseudonym_key_or_a_missing_signing_key(
    settings: Any,
) -> None:
    from audit.checks import audit_keys_check

    settings.CDS_AUDIT = {
        **settings.CDS_AUDIT,
        "PSEUDONYM_KEY": "ab" * 8,
        "SIGNING_KEY_FILE": "/nonexistent/key.pem",
    }
    ids = {p.id for p in audit_keys_check(None)}
    assert ids == {"audit.E001", "audit.E002"}
