"""The review pages' reads: filters, the detail bundle, override rates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.keys import patient_pseudonymize
from audit.selectors import decision_get, decision_list, override_stats
from audit.services import decision_record_append
from config.errors import NotFound
from tests.audit.test_services import hook_event

pytestmark = pytest.mark.django_db


def feedback(card: str, outcome: str) -> None:
    decision_record_append(
        event={
            "kind": "feedback",
            "service_id": "diabetes-therapy",
            "client_id": "client-1",
            "tenant": "t1",
            "feedback": {"card": card, "outcome": outcome, "outcomeTimestamp": "x"},
        }
    )


@pytest.fixture
def log() -> dict[str, int]:
    seqs = {}
    seqs["a"] = int(decision_record_append(event=hook_event(patient="pa", card_uuid="ca")))
    other = hook_event(patient="pb", card_uuid="cb", service_id="statin-therapy")
    other["decision"]["model"]["artifact_sha256"] = "b" * 64
    other["decision"]["user"] = "Practitioner/9"
    other["response"]["cards"][0]["indicator"] = "warning"
    seqs["b"] = int(decision_record_append(event=other))
    seqs["c"] = int(decision_record_append(event=hook_event(patient="pa", card_uuid="cc")))
    feedback("ca", "accepted")
    feedback("cc", "overridden")
    return seqs


def seqs_of(rows) -> list[int]:  # type: ignore[no-untyped-def]
    return [r.seq for r in rows]


def test_every_filter_narrows_the_list(log: dict[str, int]) -> None:
    assert seqs_of(decision_list()) == [log["c"], log["b"], log["a"]]
    assert seqs_of(decision_list(service_id="statin-therapy")) == [log["b"]]
    assert seqs_of(decision_list(clinician="Practitioner/9")) == [log["b"]]
    assert seqs_of(decision_list(patient_pseudonym=patient_pseudonymize("pa"))) == [
        log["c"],
        log["a"],
    ]
    assert seqs_of(decision_list(model_version="bbbbbbbb")) == [log["b"]]
    assert seqs_of(decision_list(outcome="accepted")) == [log["a"]]
    assert seqs_of(decision_list(outcome="overridden")) == [log["c"]]
    assert seqs_of(decision_list(outcome="none")) == [log["b"]]
    assert seqs_of(decision_list(indicator="warning")) == [log["b"]]
    today = timezone.now().date()
    assert len(decision_list(date_from=today, date_to=today)) == 3
    assert len(decision_list(date_to=today - timedelta(days=1))) == 0
    with pytest.raises(ValueError):
        decision_list(outcome="maybe")


def test_the_detail_bundles_facts_cards_and_feedback(log: dict[str, int]) -> None:
    detail = decision_get(seq=log["c"])
    assert detail["features"]["egfr"] == 38.0
    assert detail["cards"][0]["uuid"] == "cc"
    assert detail["explanations"][0]["base_value"] == 0.1
    assert detail["guideline_trace"][0]["rule"] == "r1"
    assert [f.outcome for f in detail["feedback"]] == ["overridden"]
    assert detail["hash_ok"] is True
    with pytest.raises(NotFound):
        decision_get(seq=999)


def test_override_rates_by_service_rule_model_and_day(log: dict[str, int]) -> None:
    stats = override_stats()
    assert stats["by_service"] == [
        {"key": "diabetes-therapy", "accepted": 1, "overridden": 1, "rate": 0.5}
    ]
    assert stats["by_rule"] == [{"key": "r1", "accepted": 1, "overridden": 1, "rate": 0.5}]
    assert stats["by_model"][0]["key"] == "a" * 64
    assert stats["by_day"][0]["rate"] == 0.5


def test_a_reviewer_can_filter_by_patient_id_through_its_pseudonym(log: dict[str, int]) -> None:
    from audit.selectors import patient_pseudonym_for

    pseudonym = patient_pseudonym_for(patient_ref="Patient/pb")
    assert pseudonym == patient_pseudonym_for(patient_ref="pb")
    assert seqs_of(decision_list(patient_pseudonym=pseudonym)) == [log["b"]]
