"""Reads of the decision log for the review pages (HackSoft selectors: no writes here).

The pages must also write an access record for every view of patient data; that is
`audit.services.audit_access_record`, called by the view, not hidden in a selector.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import UTC, date, datetime, time
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone

from audit import chain
from audit.models import DecisionCard, DecisionRecord
from config.errors import NotFound

OUTCOMES = ("accepted", "overridden")


def _as_datetime(value: date | datetime, *, end: bool) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.combine(value, time.max if end else time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    return moment


def decision_list(
    *,
    date_from: date | datetime | None = None,
    date_to: date | datetime | None = None,
    service_id: str = "",
    clinician: str = "",
    patient_pseudonym: str = "",
    model_version: str = "",
    outcome: str = "",
    indicator: str = "",
    tenants: Collection[str] | None = None,
) -> QuerySet[DecisionRecord]:
    """Hook decisions, newest first, filtered.

    Args:
        date_from, date_to: inclusive; a date covers the whole day (UTC).
        clinician: the user the EHR named (e.g. "Practitioner/123"), exact.
        model_version: model artifact sha256 or a prefix of it (>= 6 hex).
        outcome: "accepted" or "overridden" (some feedback on the decision says so), or
            "none" (no feedback yet).
        indicator: a card indicator shown ("info", "warning", "critical").
        tenants: only these tenants' decisions (a scoped reviewer); None: every tenant.
    """
    rows = DecisionRecord.objects.filter(kind=DecisionRecord.KIND_HOOK)
    if tenants is not None:
        rows = rows.filter(tenant__in=list(tenants))
    if date_from is not None:
        rows = rows.filter(time__gte=_as_datetime(date_from, end=False))
    if date_to is not None:
        rows = rows.filter(time__lte=_as_datetime(date_to, end=True))
    if service_id:
        rows = rows.filter(service_id=service_id)
    if clinician:
        rows = rows.filter(user=clinician)
    if patient_pseudonym:
        rows = rows.filter(patient_pseudonym=patient_pseudonym)
    if model_version:
        rows = rows.filter(model_artifact_sha256__startswith=model_version.lower())
    if outcome:
        feedback = DecisionRecord.objects.filter(
            kind=DecisionRecord.KIND_FEEDBACK, decision_seq=OuterRef("seq")
        )
        if outcome == "none":
            rows = rows.filter(~Exists(feedback))
        elif outcome in OUTCOMES:
            rows = rows.filter(Exists(feedback.filter(outcome=outcome)))
        else:
            raise ValueError(f"outcome must be one of accepted, overridden, none; not {outcome!r}")
    if indicator:
        rows = rows.filter(
            Exists(DecisionCard.objects.filter(record=OuterRef("seq"), indicator=indicator))
        )
    return rows.order_by("-seq")


def decision_get(*, seq: int, tenants: Collection[str] | None = None) -> dict[str, Any]:
    """One hook decision with everything the detail page shows.

    Returns a dict: `record` (the row), `data` (its body), the decision facts by name
    (`features`, `cards`, `explanations`, `guideline_trace`, `candidates`, `risks`, `model`,
    `guideline_version`, `latency_ms`, `context`), `feedback` (the feedback records joined
    to it, oldest first) and `hash_ok` (this record's hash and link recomputed).

    Raises:
        NotFound: no hook decision with this number (for a scoped reviewer: none in their
            tenants; another tenant's decision is not even confirmed to exist).
    """
    records = DecisionRecord.objects.filter(seq=seq, kind=DecisionRecord.KIND_HOOK)
    if tenants is not None:
        records = records.filter(tenant__in=list(tenants))
    record = records.first()
    if record is None:
        raise NotFound("No decision with this number.", details={"seq": seq})
    data = record.data
    event = data.get("event") or {}
    decision = event.get("decision") or {}
    response = event.get("response") or {}
    previous = (
        DecisionRecord.objects.filter(seq=seq - 1).values_list("hash", flat=True).first()
        if seq > 1
        else chain.GENESIS_HASH
    )
    hash_ok = (
        record.prev_hash == previous
        and chain.record_hash(record.prev_hash, record.body.encode("utf-8")) == record.hash
    )
    feedback = list(
        DecisionRecord.objects.filter(kind=DecisionRecord.KIND_FEEDBACK, decision_seq=seq).order_by(
            "seq"
        )
    )
    return {
        "record": record,
        "data": data,
        "context": event.get("context") or {},
        "features": decision.get("features") or {},
        "cards": response.get("cards") or [],
        "system_actions": response.get("systemActions") or [],
        "explanations": decision.get("explanations") or [],
        "guideline_trace": decision.get("guideline_trace") or [],
        "candidates": decision.get("candidates") or [],
        "risks": decision.get("risks") or {},
        "model": decision.get("model") or {},
        "guideline_version": record.guideline_version,
        "latency_ms": record.latency_ms,
        "feedback": feedback,
        "hash_ok": hash_ok,
    }


def _rate(accepted: int, overridden: int) -> float | None:
    total = accepted + overridden
    return overridden / total if total else None


def override_stats(
    *,
    date_from: date | datetime | None = None,
    date_to: date | datetime | None = None,
    service_id: str = "",
    tenants: Collection[str] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Override rates of feedback items, by service, guideline rule, model version and day.

    Each row: {"key", "accepted", "overridden", "rate"} where rate = overridden /
    (accepted + overridden), None when no feedback. A rule counts for a decision when its
    trace entry's result is "fired" or True (the rule contributed to the cards).
    """
    feedback = DecisionRecord.objects.filter(
        kind=DecisionRecord.KIND_FEEDBACK, outcome__in=OUTCOMES
    )
    if date_from is not None:
        feedback = feedback.filter(time__gte=_as_datetime(date_from, end=False))
    if date_to is not None:
        feedback = feedback.filter(time__lte=_as_datetime(date_to, end=True))
    if service_id:
        feedback = feedback.filter(service_id=service_id)
    if tenants is not None:
        feedback = feedback.filter(tenant__in=list(tenants))

    def grouped(field: Any) -> list[dict[str, Any]]:
        rows = (
            feedback.annotate(key=field)
            .values("key")
            .annotate(
                accepted=Count("seq", filter=Q(outcome="accepted")),
                overridden=Count("seq", filter=Q(outcome="overridden")),
            )
            .order_by("key")
        )
        return [
            {
                "key": str(r["key"]) if r["key"] is not None else "",
                "accepted": r["accepted"],
                "overridden": r["overridden"],
                "rate": _rate(r["accepted"], r["overridden"]),
            }
            for r in rows
        ]

    by_rule: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    outcomes_by_decision: dict[int, list[str]] = defaultdict(list)
    for decision_seq, outcome in feedback.exclude(decision_seq=None).values_list(
        "decision_seq", "outcome"
    ):
        outcomes_by_decision[decision_seq].append(outcome)
    decisions = DecisionRecord.objects.filter(seq__in=list(outcomes_by_decision)).values_list(
        "seq", "body"
    )
    for seq, body in decisions.iterator(chunk_size=500):
        trace = (((chain.canonical_load(body).get("event") or {}).get("decision")) or {}).get(
            "guideline_trace"
        ) or []
        rules = {
            str(step.get("rule"))
            for step in trace
            # "true" is what cds.guidelines writes for a rule whose population holds
            if isinstance(step, dict) and step.get("result") in ("fired", True, "true")
        }
        for rule in rules:
            for outcome in outcomes_by_decision[seq]:
                by_rule[rule][0 if outcome == "accepted" else 1] += 1
    return {
        "by_service": grouped(F("service_id")),
        "by_model": grouped(F("model_artifact_sha256")),
        "by_day": grouped(TruncDate("time")),
        "by_rule": [
            {"key": rule, "accepted": a, "overridden": o, "rate": _rate(a, o)}
            for rule, (a, o) in sorted(by_rule.items())
        ],
    }


# --- helpers for the review pages (engineer e) ------------------------------------------


def decision_outcomes_annotate(rows: QuerySet[DecisionRecord]) -> QuerySet[DecisionRecord]:
    """Add `last_outcome`: the outcome of the newest feedback on each decision (or None)."""
    latest = (
        DecisionRecord.objects.filter(
            kind=DecisionRecord.KIND_FEEDBACK, decision_seq=OuterRef("seq")
        )
        .order_by("-seq")
        .values("outcome")[:1]
    )
    return rows.annotate(last_outcome=Subquery(latest))


def decision_filter_choices(*, tenants: Collection[str] | None = None) -> dict[str, list[str]]:
    """Distinct services and model hashes among hook decisions, for the filter form."""
    # order_by(): the model's default ordering by seq would make DISTINCT keep every row
    hooks = DecisionRecord.objects.filter(kind=DecisionRecord.KIND_HOOK).order_by()
    if tenants is not None:
        hooks = hooks.filter(tenant__in=list(tenants))
    return {
        "service_id": sorted(
            {s for s in hooks.values_list("service_id", flat=True).distinct() if s}
        ),
        "model_artifact_sha256": sorted(
            {m for m in hooks.values_list("model_artifact_sha256", flat=True).distinct() if m}
        ),
    }


def patient_pseudonym_for(*, patient_ref: str) -> str:
    """The pseudonym the log uses for a patient id or "Patient/<id>" (for the list filter:
    a reviewer who knows the id finds the records without the log ever storing it)."""
    from audit.keys import patient_pseudonymize

    return patient_pseudonymize(patient_ref.strip())
