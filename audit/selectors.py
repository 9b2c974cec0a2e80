"""Reads of the decision log for the review pages (HackSoft selectors; no writes here).

The indexed columns of `DecisionRecord` serve the filters; the canonical body (`record.data`)
is the authority for everything shown in a detail view. Feedback rows point at their
decision by `decision_seq`, so "accepted"/"overridden" are answered by a subquery on the
same table rather than a second store that could disagree with the chain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from django.db.models import Exists, OuterRef, QuerySet, Subquery

from audit.models import DecisionCard, DecisionRecord

FeedbackOutcome = Literal["", "accepted", "overridden", "none"]
StatsBy = Literal["service", "rule", "model", "day", "week"]
STATS_BY: tuple[str, ...] = ("service", "rule", "model", "day", "week")

# Trace results that mean a rule did not take part in the decision; every other result
# (concordant, discordant, alert, must-not, ...) counts the rule as having shaped the cards.
_NOT_FIRED = {"", "not_applicable", "n/a", "skipped", "unknown", "false", "none"}


@dataclass(frozen=True)
class DecisionFilters:
    """The review list's filters; empty values mean "any"."""

    date_from: date | None = None
    date_to: date | None = None
    service_id: str = ""
    user: str = ""
    patient_pseudonym: str = ""
    model_artifact_sha256: str = ""  # a prefix is enough, as people copy the first 12 hex
    outcome: FeedbackOutcome = ""
    indicator: str = ""

    def as_details(self) -> dict[str, str]:
        """The filters that were set, as small JSON for the access record."""
        out = {}
        for key, value in self.__dict__.items():
            if value not in (None, ""):
                out[key] = value.isoformat() if isinstance(value, date) else str(value)
        return out


def _feedback(outcome: str | None = None) -> QuerySet[DecisionRecord]:
    rows = DecisionRecord.objects.filter(
        kind=DecisionRecord.KIND_FEEDBACK, decision_seq=OuterRef("seq")
    )
    return rows.filter(outcome=outcome) if outcome else rows


def decision_list(*, filters: DecisionFilters | None = None) -> QuerySet[DecisionRecord]:
    """Hook decisions matching `filters`, newest first, annotated with `last_outcome`."""
    f = filters or DecisionFilters()
    rows = DecisionRecord.objects.filter(kind=DecisionRecord.KIND_HOOK)
    if f.date_from:
        rows = rows.filter(time__date__gte=f.date_from)
    if f.date_to:
        rows = rows.filter(time__date__lte=f.date_to)
    if f.service_id:
        rows = rows.filter(service_id=f.service_id)
    if f.user:
        rows = rows.filter(user=f.user)
    if f.patient_pseudonym:
        rows = rows.filter(patient_pseudonym=f.patient_pseudonym.lstrip("~"))
    if f.model_artifact_sha256:
        rows = rows.filter(model_artifact_sha256__startswith=f.model_artifact_sha256.lower())
    if f.outcome in ("accepted", "overridden"):
        rows = rows.filter(Exists(_feedback(f.outcome)))
    elif f.outcome == "none":
        rows = rows.exclude(Exists(_feedback()))
    if f.indicator:
        rows = rows.filter(
            Exists(DecisionCard.objects.filter(record=OuterRef("seq"), indicator=f.indicator))
        )
    last = _feedback().order_by("-seq").values("outcome")[:1]
    return rows.annotate(last_outcome=Subquery(last)).order_by("-seq")


def decision_get(*, seq: int) -> DecisionRecord | None:
    """One hook decision by its sequence number (None for other kinds or unknown)."""
    return DecisionRecord.objects.filter(seq=seq, kind=DecisionRecord.KIND_HOOK).first()


def decision_feedback(*, seq: int) -> list[DecisionRecord]:
    """The feedback records joined to decision `seq`, oldest first."""
    return list(DecisionRecord.objects.filter(kind=DecisionRecord.KIND_FEEDBACK, decision_seq=seq))


def decision_choices() -> dict[str, list[str]]:
    """Distinct services, model hashes and indicators in the log, for the filter form."""
    hooks = DecisionRecord.objects.filter(kind=DecisionRecord.KIND_HOOK)
    return {
        "service_id": sorted(s for s in hooks.values_list("service_id", flat=True).distinct() if s),
        "model_artifact_sha256": sorted(
            m for m in hooks.values_list("model_artifact_sha256", flat=True).distinct() if m
        ),
        "indicator": sorted(
            i for i in DecisionCard.objects.values_list("indicator", flat=True).distinct() if i
        ),
    }


# --- override analytics ---------------------------------------------------------------------


@dataclass
class OverrideRow:
    """Feedback counts for one group (a service, rule, model version or period)."""

    key: str
    decisions: int = 0
    accepted: int = 0
    overridden: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def answered(self) -> int:
        return self.accepted + self.overridden

    @property
    def override_rate(self) -> float | None:
        """Overridden / (accepted + overridden); None when no card got feedback."""
        return self.overridden / self.answered if self.answered else None


def _rules_fired(data: dict[str, Any]) -> list[str]:
    trace = ((data.get("event") or {}).get("decision") or {}).get("guideline_trace") or []
    rules = []
    for step in trace if isinstance(trace, list) else []:
        if not isinstance(step, dict) or not step.get("rule"):
            continue
        if str(step.get("result", "")).strip().lower() in _NOT_FIRED:
            continue
        if step["rule"] not in rules:
            rules.append(str(step["rule"]))
    return rules or ["(no rule)"]


def _group_keys(row: DecisionRecord, by: str) -> Iterable[str]:
    if by == "service":
        return [row.service_id or "(none)"]
    if by == "model":
        return [row.model_artifact_sha256[:12] or "(no model)"]
    if by == "day":
        return [row.time.date().isoformat()]
    if by == "week":
        year, week, _ = row.time.isocalendar()
        return [f"{year}-W{week:02d}"]
    return _rules_fired(row.data)


def override_stats(
    *,
    by: StatsBy,
    date_from: date | None = None,
    date_to: date | None = None,
    service_id: str = "",
) -> list[OverrideRow]:
    """Override rate per group over hook decisions in the window, sorted by key.

    Feedback is counted per card against the decision it answers; a decision counts once
    per group (for `rule`, once for each rule that fired in its guideline trace, since
    cards are built from the rules that applied).
    """
    if by not in STATS_BY:
        raise ValueError(f"unknown grouping {by!r}")
    decisions = decision_list(
        filters=DecisionFilters(date_from=date_from, date_to=date_to, service_id=service_id)
    ).order_by("seq")
    if by != "rule":
        decisions = decisions.defer("body")
    groups: dict[str, OverrideRow] = {}
    keys_of: dict[int, list[str]] = {}
    for row in decisions.iterator(chunk_size=500):
        keys = list(_group_keys(row, by))
        keys_of[row.seq] = keys
        for key in keys:
            groups.setdefault(key, OverrideRow(key)).decisions += 1
    feedback = DecisionRecord.objects.filter(
        kind=DecisionRecord.KIND_FEEDBACK, decision_seq__in=list(keys_of)
    ).order_by("seq")
    reasons: dict[str, dict[str, int]] = defaultdict(dict)
    for item in feedback.iterator(chunk_size=500):
        for key in keys_of.get(item.decision_seq or 0, []):
            group = groups[key]
            if item.outcome == "accepted":
                group.accepted += 1
            elif item.outcome == "overridden":
                group.overridden += 1
                reason = ((item.data.get("event") or {}).get("feedback") or {}).get(
                    "overrideReason"
                ) or {}
                code = ((reason.get("reason") or {}) if isinstance(reason, dict) else {}).get(
                    "display"
                ) or "(no reason given)"
                reasons[key][code] = reasons[key].get(code, 0) + 1
    for key, counts in reasons.items():
        groups[key].reasons = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return [groups[k] for k in sorted(groups)]
