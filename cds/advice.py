"""What each clinical service says, as cards plus decision facts (pure Python, no Django).

The guideline engine decides what is indicated and what is forbidden; this module turns
those verdicts into CDS Hooks cards (through cds.cards only) and the decision record the
audit log keeps (keys listed in docs/architecture.md). Model ranking and explanation text
come in as plain callables so this module stays testable without models or Django.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cds.cards import Action, Card, Coding, Link, Source, Suggestion
from cds.guidelines.engine import (
    INTENSITY_RANK,
    Context,
    Recommendation,
    Rule,
    RuleSet,
    Verdict,
    context_build,
)
from ehr_integration.fhir.codemaps import (
    LOINC_SYSTEM,
    RXNORM_SYSTEM,
    rxnorm_drugs,
    suggestion_codes,
)
from ehr_integration.fhir.contract import TASK_CANDIDATES
from ehr_integration.fhir.derive import Features
from ehr_integration.fhir.record import PatientRecord

SOURCE_LABEL = "Privacy-preserving CDS (guideline engine)"
OVERRIDE_SYSTEM = "urn:privacy-cds:override-reason"
OVERRIDE_REASONS = (
    Coding("patient-declined", OVERRIDE_SYSTEM, "Patient declined"),
    Coding("contraindication-not-recorded", OVERRIDE_SYSTEM, "Contraindication not in record"),
    Coding("already-treated-elsewhere", OVERRIDE_SYSTEM, "Already treated elsewhere"),
    Coding("cost-or-access", OVERRIDE_SYSTEM, "Cost or access"),
    Coding("clinical-judgment", OVERRIDE_SYSTEM, "Clinical judgment, documented in note"),
)
SERVICE_TASK = {"diabetes-therapy": "t2d_drug", "hypertension-therapy": "htn_drug"}
CLASS_WORDS = {
    "metformin": "metformin",
    "sglt2i": "SGLT2 inhibitor",
    "glp1ra": "GLP-1 receptor agonist",
    "dpp4i": "DPP-4 inhibitor",
    "sulfonylurea": "sulfonylurea",
    "tzd": "thiazolidinedione",
    "insulin": "insulin",
    "acei": "ACE inhibitor",
    "arb": "ARB",
    "ccb_dhp": "dihydropyridine CCB",
    "ccb_nondhp": "non-dihydropyridine CCB",
    "thiazide": "thiazide-type diuretic",
    "beta_blocker": "beta blocker",
    "mra": "mineralocorticoid receptor antagonist",
    "renin_inhibitor": "renin inhibitor",
    "loop_diuretic": "loop diuretic",
    "statin": "statin",
    "ezetimibe": "ezetimibe",
    "pcsk9i": "PCSK9 inhibitor",
}
# feature -> the measurement kind whose age is shown next to it in card details
FEATURE_KIND = {
    "hba1c_pct": "hba1c",
    "egfr": "egfr",
    "uacr_mg_g": "uacr",
    "ldl_mg_dl": "ldl",
    "glucose_mg_dl": "glucose",
    "lvef_pct": "lvef",
    "creatinine_mg_dl": "creatinine",
    "sbp_mean": "sbp",
    "dbp_mean": "dbp",
    "total_chol_mg_dl": "total_chol",
    "hdl_mg_dl": "hdl",
}
TEST_WORDS = {
    "hba1c": "HbA1c",
    "egfr": "eGFR",
    "uacr": "urine albumin-creatinine ratio",
    "ldl": "LDL cholesterol",
    "creatinine": "serum creatinine",
}
TEST_LOINC = {
    "hba1c": "4548-4",
    "egfr": "33914-3",
    "uacr": "14959-1",
    "ldl": "18262-6",
    "creatinine": "2160-0",
}

Ranker = Callable[..., Any]  # privacy.serving.candidates_rank signature
Explainer = Callable[[Sequence[Any], Mapping[str, float | None]], str]


@dataclass
class Advice:
    cards: list[dict[str, Any]] = field(default_factory=list)
    decision: dict[str, Any] = field(default_factory=dict)
    shown: list[dict[str, Any]] = field(default_factory=list)  # for guideline_report
    card_rules: dict[str, str] = field(default_factory=dict)  # card uuid -> deciding rule id


def _short(text: str, limit: int = 139) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _words(cls: str) -> str:
    return CLASS_WORDS.get(cls, cls)


def _source(rule: Rule) -> Source:
    return Source(label=f"{rule.guideline} {rule.edition}, {rule.section}"[:200], url=rule.url)


def _link(rule: Rule) -> Link:
    return Link(label=f"Guideline: {rule.guideline} ({rule.edition})", url=rule.url)


def _fmt(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _facts(rule: Rule, ctx: Context) -> str:
    """The patient facts the rule looked at, with the age of each measurement."""
    parts = []
    latest = ctx.features.latest if ctx.features else {}
    for name in sorted(rule.population.names):
        value = ctx.env.get(name)
        text = f"{name} = {_fmt(value)}"
        kind = FEATURE_KIND.get(name)
        if kind and kind in latest:
            text += f" ({latest[kind].age_days} days ago)"
        parts.append(text)
    return "; ".join(parts)


def medication_request(key: str, patient_id: str) -> dict[str, Any]:
    """A draft MedicationRequest coded in RxNorm for a suggestion key (drug class or
    statin_high/statin_moderate), from codemaps/rxnorm.csv `suggest`."""
    drug = suggestion_codes()[key]
    return {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "proposal",
        "subject": {"reference": f"Patient/{patient_id}"},
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM_SYSTEM, "code": drug.code, "display": drug.display}],
            "text": drug.display,
        },
    }


def _suggest_key(cls: str, rule: Rule) -> str:
    if cls in rule.suggest:
        return rule.suggest[cls]
    if cls == "statin":
        return "statin_high" if rule.intensity == "high" else "statin_moderate"
    return cls


def _ordered_options(
    rec: Recommendation, task: str | None, features: Features, ranker: Ranker | None
) -> tuple[list[str], Any]:
    options = list(rec.options)
    if task is None or ranker is None or len(options) < 2:
        return options, None
    if not set(options) <= set(TASK_CANDIDATES[task]):
        return options, None
    result = ranker(task=task, features=features.as_dict(), candidates=tuple(options))
    if result is None:
        return options, None  # no active model: keep the guideline's preference order
    ranked = [c.action for c in result.ranked if c.action in options]
    return ranked + [o for o in options if o not in ranked], result


def _combination(options: list[str], k: int) -> list[str]:
    """k classes of different kinds; never ACEi together with ARB."""
    chosen: list[str] = []
    for cls in options:
        if cls in ("acei", "arb") and {"acei", "arb"} & set(chosen):
            continue
        chosen.append(cls)
        if len(chosen) == k:
            break
    return chosen


# Every shown candidate and risk is explained and logged; the card's words keep to the top
# candidate and the highest risks so the detail stays readable inside the EHR.
CARD_EXPLAINED_RISKS = 2


def _card_explanations(explanations: Sequence[Any]) -> list[Any]:
    """The explanations the card text puts in words: the first (top-ranked) candidate and
    the highest risks (serving lists risks highest first)."""
    drugs = [e for e in explanations if not str(e.target).startswith("risk:")]
    risks = [e for e in explanations if str(e.target).startswith("risk:")]
    return drugs[:1] + risks[:CARD_EXPLAINED_RISKS]


def recommendation_card(
    *,
    rec: Recommendation,
    ctx: Context,
    patient_id: str,
    version: str,
    task: str | None,
    ranker: Ranker | None,
    explainer: Explainer | None,
) -> tuple[Card, dict[str, Any]]:
    rule = rec.rule
    features = ctx.features
    assert features is not None
    options, ranking = _ordered_options(rec, task, features, ranker)
    lines = [rule.rationale or rule.summary, "", f"**Patient facts:** {_facts(rule, ctx)}"]
    suggestions: list[Suggestion] = []
    if rule.combination > 1 and len(options) >= rule.combination:
        combo = _combination(options, rule.combination)
        names = " + ".join(_words(c) for c in combo)
        summary = f"Start {names}: {rule.summary}"
        suggestions.append(
            Suggestion(
                label=f"Order {names}",
                is_recommended=True,
                actions=tuple(
                    Action(
                        "create",
                        f"Order {_words(c)}",
                        resource=medication_request(_suggest_key(c, rule), patient_id),
                    )
                    for c in combo
                ),
            )
        )
    else:
        top = options[0]
        verb = "Increase statin to" if rec.upgrade_from else "Start"
        what = (
            f"{rule.intensity}-intensity statin"
            if top == "statin" and rule.intensity
            else (_words(top))
        )
        summary = f"{verb} {what}: {rule.summary}"
        for i, cls in enumerate(options[:3]):
            key = _suggest_key(cls, rule)
            drug = suggestion_codes()[key]
            suggestions.append(
                Suggestion(
                    label=f"Order {drug.display}",
                    is_recommended=i == 0,
                    actions=(
                        Action(
                            "create",
                            f"Order {drug.display} ({_words(cls)})",
                            resource=medication_request(key, patient_id),
                        ),
                    ),
                )
            )
    if len(options) > 1 and rule.combination == 1:
        lines.append(f"**Options (in order):** {', '.join(_words(o) for o in options)}")
    if rec.upgrade_from:
        lines.append(f"**Current statin intensity:** {rec.upgrade_from}")
    for verdict in rec.blocked:
        why = ", ".join(verdict.deciding_rules)
        lines.append(f"**Not offered:** {_words(verdict.action)} (MUST-NOT: `{why}`)")
    for verdict in rec.needs_data:
        lines.append(
            f"**Needs data first:** {_words(verdict.action)} "
            f"(`{', '.join(verdict.deciding_rules)}` cannot be checked)"
        )
    model_facts: dict[str, Any] = {}
    if ranking is not None:
        scored = {c.action: c.score for c in ranking.ranked}
        lines.append(
            f"**Model ranking** (artifact `{ranking.artifact_sha256[:12]}`): "
            + "; ".join(f"{_words(o)} {scored[o]:.2f}" for o in options if o in scored)
        )
        if ranking.risks:
            lines.append(
                "**Predicted risks:** "
                + ", ".join(f"{k} {v:.0%}" for k, v in sorted(ranking.risks.items()))
            )
        if explainer is not None and ranking.explanations:
            text = explainer(_card_explanations(ranking.explanations), features.as_dict())
            if text:
                lines += ["", text]
        model_facts = {
            "model": {"task": ranking.task, "artifact_sha256": ranking.artifact_sha256},
            "risks": dict(ranking.risks),
            "explanations": [
                {
                    "target": e.target,
                    "base_value": e.base_value,
                    "values": dict(e.values),
                    "output": e.output,
                }
                for e in ranking.explanations
            ],
            "scores": scored,
        }
    lines += [
        "",
        f"**Guideline:** {rule.citation}. Section {rule.section}. Strength {rule.strength}. "
        f"Rule `{rule.id}`, rule set `{version[:12]}`.",
    ]
    card = Card(
        summary=_short(summary),
        indicator="warning" if rule.priority >= 25 else "info",
        source=_source(rule),
        detail="\n\n".join(line for line in lines if line),
        suggestions=tuple(suggestions),
        selection_behavior="at-most-one",
        override_reasons=OVERRIDE_REASONS,
        links=(_link(rule),),
    )
    return card, {"rule": rule.id, "options": options, **model_facts}


def _base_decision(
    *, features: Features, ruleset: RuleSet, patient_ref: str, user: str | None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "patient_ref": patient_ref,
        "features": features.as_dict(),
        "guideline_version": ruleset.version,
    }
    if user:
        out["user"] = user
    return out


def _trace(ruleset: RuleSet, ctx: Context, service: str) -> list[dict[str, str]]:
    ids = {r.id for r in ruleset.rules if r.service == service}
    return [t.to_json() for t in ruleset.trace_all(ctx) if t.rule in ids]


def _advice_start(
    *, service: str, record: PatientRecord, features: Features, ruleset: RuleSet, user: str | None
) -> tuple[Advice, Context | None]:
    """The decision facts every patient-view service records first, and the rule context;
    no context (nothing to advise) for a deceased patient, with the reason recorded."""
    pid = record.demographics.patient_id
    decision = _base_decision(
        features=features, ruleset=ruleset, patient_ref=f"Patient/{pid}", user=user
    )
    advice = Advice(decision=decision)
    if features.deceased:
        decision["note"] = f"patient deceased: no advice from {service}"
        return advice, None
    ctx = context_build(features)
    decision["guideline_trace"] = _trace(ruleset, ctx, service)
    return advice, ctx


def therapy_advice(
    *,
    service: str,
    record: PatientRecord,
    features: Features,
    ruleset: RuleSet,
    ranker: Ranker | None = None,
    explainer: Explainer | None = None,
    user: str | None = None,
) -> Advice:
    """patient-view therapy services: what is indicated now, forbidden drugs on the list."""
    advice, ctx = _advice_start(
        service=service, record=record, features=features, ruleset=ruleset, user=user
    )
    if ctx is None:
        return advice
    decision = advice.decision
    pid = record.demographics.patient_id
    task = SERVICE_TASK.get(service)
    candidates: list[dict[str, Any]] = []
    shown_options: set[str] = set()
    shown_intensity = 0
    also: dict[str, str] = {}
    for rec in ruleset.recommendations(ctx, service=service):
        rank = INTENSITY_RANK.get(rec.rule.intensity or "", 0)
        if rec.options and set(rec.options) <= shown_options and rank <= shown_intensity:
            # Same drugs already recommended by a higher-priority rule: one card, not two.
            also[rec.rule.id] = "covered by a card already shown"
            continue
        if not rec.options:
            if rec.needs_data:
                card = _needs_data_card(rec, ctx, ruleset.version)
                advice.cards.append(card.to_json())
            continue
        card, facts = recommendation_card(
            rec=rec,
            ctx=ctx,
            patient_id=pid,
            version=ruleset.version,
            task=task,
            ranker=ranker,
            explainer=explainer,
        )
        advice.cards.append(card.to_json())
        advice.card_rules[card.uuid] = rec.rule.id
        shown_options |= set(facts["options"])
        shown_intensity = max(shown_intensity, rank)
        scores = facts.get("scores", {})
        for option in facts["options"]:
            verdict = ruleset.candidate_evaluate(option, ctx)
            candidates.append(
                {
                    "action": option,
                    "concordant": verdict.verdict == "concordant",
                    "score": scores.get(option),
                    "rule": rec.rule.id,
                }
            )
            advice.shown.append({"rule": rec.rule.id, "action": option, "verdict": verdict.verdict})
        for key in ("model", "risks"):  # one model and one risk set per service and patient
            if key in facts and key not in decision:
                decision[key] = facts[key]
        # Each ranked card explains its own options: log every target once (a target's SHAP
        # values do not depend on which other options were ranked beside it).
        logged = decision.setdefault("explanations", []) if "explanations" in facts else []
        seen = {e["target"] for e in logged}
        logged += [e for e in facts.get("explanations", ()) if e["target"] not in seen]
    for rule in ruleset.alerts(ctx, service=service):
        advice.cards.append(
            Card(
                summary=_short(rule.summary),
                indicator="info",
                source=_source(rule),
                detail=f"**Patient facts:** {_facts(rule, ctx)}\n\n**Guideline:** "
                f"{rule.citation}. Rule `{rule.id}`.",
                links=(_link(rule),),
            ).to_json()
        )
    service_rules = {r.id for r in ruleset.rules if r.service == service}
    for verdict in ruleset.current_violations(ctx):
        if not set(verdict.deciding_rules) & service_rules:
            continue
        advice.cards.append(_current_violation_card(verdict, ctx, ruleset).to_json())
    decision["candidates"] = candidates
    if also:
        decision["not_shown_duplicates"] = also
    return advice


def _needs_data_card(rec: Recommendation, ctx: Context, version: str) -> Card:
    rule = rec.rule
    missing = sorted(
        {n for v in rec.needs_data for rid in v.deciding_rules for n in _rule_names(rid, ctx)}
    )
    what = ", ".join(_words(v.action) for v in rec.needs_data)
    return Card(
        summary=_short(f"Check {', '.join(missing) or 'data'} before starting {what}"),
        indicator="info",
        source=_source(rule),
        detail=(
            f"{rule.summary}. A safety rule for {what} cannot be checked because data are "
            f"missing: {', '.join(missing)}. Rule `{rule.id}`, rule set `{version[:12]}`."
        ),
        links=(_link(rule),),
    )


def _rule_names(rule_id: str, ctx: Context) -> list[str]:
    from cds.guidelines.engine import ruleset_default

    try:
        rule = ruleset_default().by_id(rule_id)
    except KeyError:
        return []
    return [n for n in rule.population.names if ctx.env.get(n) is None]


def _current_violation_card(verdict: Verdict, ctx: Context, ruleset: RuleSet) -> Card:
    rule = ruleset.by_id(verdict.deciding_rules[0])
    meds = [
        m
        for m in (ctx.features.current_medications if ctx.features else ())
        if verdict.action in m.drug_classes
    ]
    names = ", ".join(m.display for m in meds) or _words(verdict.action)
    return Card(
        summary=_short(f"Review {_words(verdict.action)}: {rule.summary}"),
        indicator="warning",
        source=_source(rule),
        detail=(
            f"The patient is on {names}. {rule.summary}.\n\n**Patient facts:** "
            f"{_facts(rule, ctx)}\n\n**Guideline:** {rule.citation}. Rule `{rule.id}`."
        ),
        override_reasons=OVERRIDE_REASONS,
        links=(_link(rule),),
    )


def care_gaps_advice(
    *, record: PatientRecord, features: Features, ruleset: RuleSet, user: str | None = None
) -> Advice:
    advice, ctx = _advice_start(
        service="care-gaps", record=record, features=features, ruleset=ruleset, user=user
    )
    if ctx is None:
        return advice
    decision = advice.decision
    pid = record.demographics.patient_id
    gaps = []
    for rule, age in ruleset.care_gaps(ctx):
        test = rule.test or ""
        when = "never measured" if age is None else f"last {age} days ago"
        order = {
            "resourceType": "ServiceRequest",
            "status": "draft",
            "intent": "proposal",
            "subject": {"reference": f"Patient/{pid}"},
            "code": {
                "coding": [
                    {"system": LOINC_SYSTEM, "code": TEST_LOINC[test], "display": TEST_WORDS[test]}
                ]
            },
        }
        advice.cards.append(
            Card(
                summary=_short(f"{TEST_WORDS[test]} overdue ({when})"),
                indicator="info",
                source=_source(rule),
                detail=(
                    f"{rule.summary} (due every {rule.interval_days} days).\n\n**Patient "
                    f"facts:** {_facts(rule, ctx)}\n\n**Guideline:** {rule.citation}. "
                    f"Rule `{rule.id}`."
                ),
                suggestions=(
                    Suggestion(
                        label=f"Order {TEST_WORDS[test]}",
                        is_recommended=True,
                        actions=(Action("create", f"Order {TEST_WORDS[test]}", resource=order),),
                    ),
                ),
                selection_behavior="at-most-one",
                override_reasons=OVERRIDE_REASONS,
                links=(_link(rule),),
            ).to_json()
        )
        gaps.append({"rule": rule.id, "test": test, "days_since": age})
    decision["care_gaps"] = gaps
    return advice


@dataclass(frozen=True)
class DraftMedication:
    resource_id: str  # "MedicationRequest/<id>"
    display: str
    drug_classes: tuple[str, ...]


def draft_medications(draft_orders: Any) -> list[DraftMedication]:
    """MedicationRequests in context.draftOrders (a Bundle), with their drug classes."""
    out: list[DraftMedication] = []
    if not isinstance(draft_orders, dict):
        return out
    drugs = rxnorm_drugs()
    for entry in draft_orders.get("entry") or ():
        resource = (entry or {}).get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or resource.get("resourceType") != "MedicationRequest":
            continue
        concept = resource.get("medicationCodeableConcept") or {}
        classes: tuple[str, ...] = ()
        display = str(concept.get("text") or "")
        for coding in concept.get("coding") or ():
            if isinstance(coding, dict) and coding.get("system") == RXNORM_SYSTEM:
                drug = drugs.get(str(coding.get("code")))
                display = display or str(coding.get("display") or coding.get("code"))
                if drug is not None:
                    classes = drug.drug_classes
                    display = display or drug.display
                    break
        rid = str(resource.get("id") or "")
        out.append(DraftMedication(f"MedicationRequest/{rid}", display or "draft order", classes))
    return out


def order_check_advice(
    *,
    record: PatientRecord,
    features: Features,
    ruleset: RuleSet,
    draft_orders: Any,
    selections: Sequence[str] | None = None,
    user: str | None = None,
) -> Advice:
    """order-select/order-sign: check each draft MedicationRequest against every MUST-NOT.

    On order-select only the selected drafts are checked (the others are context for
    combinations, e.g. an ACE inhibitor selected while an ARB is also drafted).
    """
    pid = record.demographics.patient_id
    decision = _base_decision(
        features=features, ruleset=ruleset, patient_ref=f"Patient/{pid}", user=user
    )
    advice = Advice(decision=decision)
    drafts = draft_medications(draft_orders)
    checked = [d for d in drafts if selections is None or d.resource_id in selections]
    candidates = []
    trace: list[dict[str, str]] = []
    for draft in checked:
        others = [c for d in drafts if d is not draft for c in d.drug_classes]
        for cls in draft.drug_classes:
            co = [*others, *(c for c in draft.drug_classes if c != cls)]
            ctx = context_build(features, co_actions=co)
            starting = cls not in features.current_drug_classes
            verdict = ruleset.candidate_evaluate(cls, ctx, starting=starting)
            trace += [t.to_json() for t in verdict.trace]
            candidates.append(
                {
                    "action": cls,
                    "concordant": verdict.allowed,
                    "score": None,
                    "draft": draft.resource_id,
                    "verdict": verdict.verdict,
                }
            )
            if verdict.verdict == "discordant":
                advice.cards.append(_violation_card(draft, verdict, ctx, ruleset, pid).to_json())
                advice.shown.append(
                    {
                        "rule": verdict.deciding_rules[0],
                        "action": cls,
                        "verdict": "caught",
                        "draft": draft.resource_id,
                    }
                )
            elif verdict.verdict == "indeterminate":
                rule = ruleset.by_id(verdict.deciding_rules[0])
                missing = [n for n in rule.population.names if ctx.env.get(n) is None]
                advice.cards.append(
                    Card(
                        summary=_short(
                            f"Check {', '.join(sorted(missing))} before ordering {draft.display}"
                        ),
                        indicator="warning",
                        source=_source(rule),
                        detail=f"{rule.summary}: cannot be checked, data missing "
                        f"({', '.join(sorted(missing))}). Rule `{rule.id}`.",
                        override_reasons=OVERRIDE_REASONS,
                        links=(_link(rule),),
                    ).to_json()
                )
    decision["guideline_trace"] = trace
    decision["candidates"] = candidates
    decision["drafts_checked"] = len(checked)
    return advice


def _violation_card(
    draft: DraftMedication, verdict: Verdict, ctx: Context, ruleset: RuleSet, pid: str
) -> Card:
    rules = [ruleset.by_id(r) for r in verdict.deciding_rules]
    rule = rules[0]
    suggestions = [
        Suggestion(
            label=f"Remove the draft order for {draft.display}"[:200],
            is_recommended=True,
            actions=(
                Action("delete", f"Delete draft {draft.display}", resource_id=draft.resource_id),
            ),
        )
    ]
    for key in (k for r in rules for k in r.replace_with):
        drug = suggestion_codes()[key]
        alternative = [c for c in drug.drug_classes]
        ok = (
            all(
                ruleset.candidate_evaluate(
                    c, context_build(ctx.features, co_actions=ctx.co_actions)
                ).allowed
                for c in alternative
            )
            if ctx.features
            else False
        )
        if not ok:
            continue
        suggestions.append(
            Suggestion(
                label=f"Replace with {drug.display}"[:200],
                actions=(
                    Action(
                        "delete", f"Delete draft {draft.display}", resource_id=draft.resource_id
                    ),
                    Action(
                        "create", f"Order {drug.display}", resource=medication_request(key, pid)
                    ),
                ),
            )
        )
    why = "\n".join(
        f"- **{r.summary}** ({r.guideline} {r.edition}, section {r.section}; strength "
        f"{r.strength}). Rule `{r.id}`."
        for r in rules
    )
    return Card(
        summary=_short(f"Do not order {draft.display}: {rule.summary}"),
        indicator="critical",
        source=_source(rule),
        detail=f"{why}\n\n**Patient facts:** {_facts(rule, ctx)}",
        suggestions=tuple(suggestions),
        selection_behavior="at-most-one",
        override_reasons=OVERRIDE_REASONS,
        links=(_link(rule),),
    )


def today_utc() -> date:
    """Injected in tests; the hook path uses the server's UTC date."""
    from datetime import UTC, datetime

    return datetime.now(UTC).date()
