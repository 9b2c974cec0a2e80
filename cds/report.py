"""Guideline consistency report over a directory of FHIR data (pure Python, no Django).

Three questions, per rule and overall:
1. Shown recommendations: is every drug a card suggests guideline-concordant? Checked from
   the card JSON itself (RxNorm codes mapped back to classes, re-evaluated by the engine
   with the other drugs of the same suggestion), not from the advice internals.
2. MUST-NOT drafts: for every patient and every MUST-NOT rule whose population can hold,
   a draft order that violates it is generated (with the co-drafts the rule needs, e.g. an
   ARB beside an ACE inhibitor) and sent through the order-sign check: is it caught by a
   critical card that deletes that draft and cites the rule?
3. Recorded treatment: do the patient's own current medications meet the SHOULD rules
   that apply and avoid every MUST-NOT? (Synthea's treatment is not guideline-driven.)
"""

from __future__ import annotations

import gzip
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cds.advice import care_gaps_advice, order_check_advice, therapy_advice
from cds.cards import cards_response_validate
from cds.guidelines.engine import RuleSet, context_build
from ehr_integration.fhir.codemaps import RXNORM_SYSTEM, rxnorm_drugs, suggestion_codes
from ehr_integration.fhir.derive import features_current
from ehr_integration.fhir.record import PatientRecord
from ehr_integration.fhir.sources import record_from_bundle, records_from_ndjson

THERAPY_SERVICES = ("diabetes-therapy", "hypertension-therapy", "statin-therapy")


def records_in(directory: Path) -> Iterator[tuple[str, PatientRecord]]:
    """Every patient under `directory`: Bundles (*.json, *.json.gz) and NDJSON exports."""
    bundles = sorted([*directory.rglob("*.json"), *directory.rglob("*.json.gz")])
    for path in bundles:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            data = json.load(fh)
        if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
            continue
        if not any(
            (e.get("resource") or {}).get("resourceType") == "Patient"
            for e in data.get("entry") or ()
        ):
            continue  # support bundles (hospital, practitioner)
        yield path.name, record_from_bundle(data)
    ndjson = sorted(directory.rglob("*.ndjson"))
    if ndjson:
        yield from records_from_ndjson(ndjson).items()


@dataclass
class Tally:
    yes: int = 0
    total: int = 0

    def add(self, ok: bool) -> None:
        self.total += 1
        self.yes += int(ok)

    def pct(self) -> str:
        return f"{100.0 * self.yes / self.total:.1f}%" if self.total else "n/a"


@dataclass
class Report:
    patients: int = 0
    deceased: int = 0
    cards: int = 0
    invalid_cards: list[str] = field(default_factory=list)
    shown: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    caught: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    should_met: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    on_forbidden: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    care_gaps: Counter[str] = field(default_factory=Counter)
    misses: list[str] = field(default_factory=list)

    @staticmethod
    def _overall(table: dict[str, Tally]) -> Tally:
        out = Tally()
        for t in table.values():
            out.yes += t.yes
            out.total += t.total
        return out

    def to_json(self) -> dict[str, Any]:
        def table(t: dict[str, Tally]) -> dict[str, Any]:
            return {k: {"yes": v.yes, "total": v.total} for k, v in sorted(t.items())}

        return {
            "patients": self.patients,
            "deceased_skipped": self.deceased,
            "cards": self.cards,
            "invalid_cards": self.invalid_cards,
            "shown_concordant": table(self.shown),
            "must_not_caught": table(self.caught),
            "recorded_should_met": table(self.should_met),
            "recorded_on_forbidden": table(self.on_forbidden),
            "care_gaps": dict(self.care_gaps),
            "misses": self.misses[:50],
        }

    def text(self, version: str) -> str:
        lines = [
            f"Guideline consistency report (rule set {version[:12]})",
            f"patients: {self.patients} (deceased, skipped: {self.deceased}); "
            f"cards: {self.cards}; invalid cards: {len(self.invalid_cards)}",
            "",
            "1. Shown recommendations that are guideline-concordant (target 100%)",
        ]
        for title, table in (
            ("", self.shown),
            ("2. MUST-NOT draft orders caught at order-sign (target 100%)", self.caught),
            ("3a. Recorded treatment: applicable SHOULD rules already met", self.should_met),
            (
                "3b. Recorded treatment: on the rule's drug AND the MUST-NOT applies (lower is "
                "better)",
                self.on_forbidden,
            ),
        ):
            if title:
                lines += ["", title]
            for rule, t in sorted(table.items()):
                lines.append(f"  {rule:45s} {t.yes:6d}/{t.total:<6d} {t.pct():>7s}")
            overall = self._overall(table)
            lines.append(
                f"  {'OVERALL':45s} {overall.yes:6d}/{overall.total:<6d} {overall.pct():>7s}"
            )
        lines += [
            "",
            "Note: Synthea's simulated treatment does not follow these guidelines (for example",
            "no ACE inhibitor/ARB for albuminuria, no SGLT2i/GLP-1 RA at all), so low recorded",
            "concordance in 3a describes the data, not the services.",
            "",
            "Care gaps found: "
            + (", ".join(f"{k} {v}" for k, v in sorted(self.care_gaps.items())) or "none"),
        ]
        if self.misses:
            lines += ["", "Misses (first 20):", *(f"  {m}" for m in self.misses[:20])]
        return "\n".join(lines)


def _classes_of(resource: dict[str, Any]) -> tuple[str, ...]:
    drugs = rxnorm_drugs()
    for coding in (resource.get("medicationCodeableConcept") or {}).get("coding") or ():
        if coding.get("system") == RXNORM_SYSTEM and coding.get("code") in drugs:
            return drugs[coding["code"]].drug_classes
    return ()


def _draft(cls: str, rid: str, pid: str) -> dict[str, Any]:
    drug = suggestion_codes()["statin_moderate" if cls == "statin" else cls]
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{pid}"},
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM_SYSTEM, "code": drug.code, "display": drug.display}]
        },
    }


def report_patient(
    report: Report, name: str, record: PatientRecord, ruleset: RuleSet
) -> list[dict[str, Any]]:
    """Add one patient to `report`; returns every card produced (for validation tests)."""
    report.patients += 1
    as_of = record.snapshot_date
    if as_of is None:
        return []
    # Synthea records end in 2019-2021: evaluate "now" = the record's last day, so that
    # recommendations use the record's recent values rather than years-old ones.
    features = features_current(record, today=as_of)
    if features.deceased or record.demographics.deceased:
        report.deceased += 1
        return []
    pid = record.demographics.patient_id
    all_cards: list[dict[str, Any]] = []
    ctx = context_build(features)

    for service in THERAPY_SERVICES:
        advice = therapy_advice(service=service, record=record, features=features, ruleset=ruleset)
        all_cards += advice.cards
        for card in advice.cards:
            rule_id = advice.card_rules.get(card["uuid"])
            if rule_id is None:
                continue
            for suggestion in card.get("suggestions", []):
                classes = [
                    c
                    for a in suggestion.get("actions", [])
                    if a["type"] == "create"
                    for c in _classes_of(a["resource"])
                ]
                for cls in classes:
                    co = [c for c in classes if c != cls]
                    verdict = ruleset.candidate_evaluate(
                        cls,
                        context_build(features, co_actions=co),
                        starting=cls not in features.current_drug_classes,
                    )
                    ok = verdict.verdict == "concordant"
                    report.shown[rule_id].add(ok)
                    if not ok:
                        report.misses.append(f"shown {name}: {rule_id} {cls} {verdict.verdict}")
    gaps = care_gaps_advice(record=record, features=features, ruleset=ruleset)
    all_cards += gaps.cards
    for gap in gaps.decision.get("care_gaps", []):
        report.care_gaps[gap["test"]] += 1

    # 2. generated MUST-NOT violations, one order-sign check per (rule, drug class)
    for rule in ruleset.rules:
        if rule.type != "MUST-NOT":
            continue
        for action in rule.actions:
            if rule.applies_to == "start" and action in features.current_drug_classes:
                continue
            co_options: list[tuple[str, ...]] = [()]
            co_options += [
                (n.removeprefix("taking_"),)
                for n in sorted(rule.population.names)
                if n.startswith("taking_")
            ]
            for co_set in co_options:
                if rule.population.evaluate(context_build(features, co_actions=co_set).env) is True:
                    break
            else:
                continue
            drafts = [_draft(action, "check-1", pid)] + [
                _draft(c, f"check-co-{i}", pid) for i, c in enumerate(co_set)
            ]
            bundle = {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": d} for d in drafts],
            }
            advice = order_check_advice(
                record=record, features=features, ruleset=ruleset, draft_orders=bundle
            )
            all_cards += advice.cards
            caught = any(
                c["indicator"] == "critical"
                and f"`{rule.id}`" in c.get("detail", "")
                and any(
                    a.get("resourceId") == "MedicationRequest/check-1"
                    for s in c.get("suggestions", [])
                    for a in s.get("actions", [])
                )
                for c in advice.cards
            )
            report.caught[rule.id].add(caught)
            if not caught:
                report.misses.append(f"not caught {name}: {rule.id} {action} co={co_set}")

    # 3. the recorded treatment against the rules
    for rule in ruleset.rules:
        if rule.type == "SHOULD" and rule.population.evaluate(ctx.env) is True:
            met = not [r for r in ruleset.recommendations(ctx) if r.rule.id == rule.id]
            report.should_met[rule.id].add(met)
    violations = ruleset.current_violations(ctx)
    forbidden_rules = {r for v in violations for r in v.deciding_rules}
    for rule in ruleset.rules:
        if rule.type == "MUST-NOT" and any(
            a in features.current_drug_classes for a in rule.actions
        ):
            report.on_forbidden[rule.id].add(rule.id in forbidden_rules)

    for i, card in enumerate(all_cards):
        report.cards += 1
        try:
            cards_response_validate({"cards": [card]})
        except ValueError as exc:
            report.invalid_cards.append(f"{name} card {i}: {exc}")
    return all_cards


def report_build(directory: Path, ruleset: RuleSet) -> Report:
    report = Report()
    for name, record in records_in(directory):
        report_patient(report, name, record, ruleset)
    return report
