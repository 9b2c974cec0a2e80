"""The guideline engine: rules as versioned data, evaluated with three-valued logic.

A rule (YAML, `rules/*.yaml`) names its guideline, edition and section, a population
expression over the derived features (`expr.py`), its type (SHOULD, MUST-NOT, alert), the
drug classes it is about, its strength and citation. The engine answers two questions:

- `candidate_evaluate`: is starting drug class X (possibly alongside other drafts)
  concordant, discordant, indeterminate (a MUST-NOT could apply but data are missing) or
  neutral (no rule speaks to it)? With the deciding rules and a readable trace.
- `recommendations`: which SHOULD rules apply now and are not yet met, with their
  candidate classes filtered through every MUST-NOT (only concordant options are shown).

The rule set's sha256 (`RuleSet.version`) is recorded with every decision, so an auditor
can tell which rules produced a card. Pure Python, no Django.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml

from cds.guidelines.expr import Expression, expression_parse
from ehr_integration.fhir.codemaps import suggestion_codes
from ehr_integration.fhir.contract import DRUG_CLASSES, FEATURE_NAMES
from ehr_integration.fhir.derive import Features

RULES_DIR = Path(__file__).resolve().parent / "rules"
RuleType = Literal["SHOULD", "MUST-NOT", "alert", "monitor"]
# monitor: a test is due every `interval_days` while the population holds (care gaps).
RULE_TYPES = ("SHOULD", "MUST-NOT", "alert", "monitor")
SERVICES = ("diabetes-therapy", "hypertension-therapy", "statin-therapy", "care-gaps")
MONITOR_TESTS = ("hba1c", "egfr", "uacr", "ldl", "creatinine")
INTENSITY_RANK = {"low": 1, "moderate": 2, "high": 3}
EXTRA_NAMES = (
    "age",
    "bp_stage",
    "ckd_gfr_category",
    "albuminuria_category",
    "egfr_trend",
    "statin_intensity",
    "statin_intensity_rank",
    *(f"on_{c}" for c in DRUG_CLASSES),
    *(f"taking_{c}" for c in DRUG_CLASSES),
)
KNOWN_NAMES = frozenset(FEATURE_NAMES) | frozenset(EXTRA_NAMES)
RULE_KEYS = {
    "id", "guideline", "edition", "section", "type", "service", "population", "actions",
    "intensity", "combination", "applies_to", "satisfied_when", "strength", "citation",
    "url", "summary", "rationale", "priority", "verified", "replace_with", "test",
    "interval_days", "suggest",
}  # fmt: skip


class RuleError(ValueError):
    """A rule file is malformed; the service refuses to start rather than mis-advise."""


@dataclass(frozen=True)
class Rule:
    id: str
    guideline: str
    edition: str
    section: str
    type: RuleType
    service: str
    population: Expression
    summary: str
    strength: str
    citation: str
    url: str
    actions: tuple[str, ...] = ()
    intensity: str | None = None  # statin intensity the rule asks for
    combination: int = 1  # 2: start two classes from `actions` together
    applies_to: Literal["start", "any"] = "any"  # MUST-NOT: only new starts, or also current
    satisfied_when: Expression | None = None  # SHOULD: already met (default: taking any action)
    rationale: str = ""
    priority: int = 0  # higher first when several SHOULD rules propose classes
    verified: str = ""  # what was checked against the primary text, or why not
    replace_with: tuple[str, ...] = ()  # MUST-NOT: suggestion keys (codemaps) to offer instead
    test: str | None = None  # monitor: measurement kind
    interval_days: int = 0  # monitor: due when the latest result is older than this
    # SHOULD: which product to suggest per class when not the class default (codemaps key)
    suggest: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TraceEntry:
    rule: str
    result: str  # true | false | unknown, or for candidates: supports | violates | ...
    why: str

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule, "result": self.result, "why": self.why}


@dataclass(frozen=True)
class Verdict:
    action: str
    verdict: Literal["concordant", "discordant", "indeterminate", "neutral"]
    deciding_rules: tuple[str, ...]
    trace: tuple[TraceEntry, ...]

    @property
    def allowed(self) -> bool:
        """No MUST-NOT applies (known): the action may be ordered."""
        return self.verdict in ("concordant", "neutral")


@dataclass(frozen=True)
class Recommendation:
    rule: Rule
    options: tuple[str, ...]  # concordant classes, in the guideline's preference order
    blocked: tuple[Verdict, ...] = ()  # candidate classes a MUST-NOT rules out
    needs_data: tuple[Verdict, ...] = ()  # candidate classes with a MUST-NOT unknown
    upgrade_from: str | None = None  # statin intensity now, when the rule asks for more


@dataclass(frozen=True)
class Context:
    """The names a population expression can use, for one patient and one decision."""

    env: Mapping[str, Any]
    features: Features | None = None
    co_actions: tuple[str, ...] = ()


def context_build(features: Features, *, co_actions: Iterable[str] = ()) -> Context:
    """Names for the rules: every feature, plus on_<class> for every class, taking_<class>
    (on it or ordered in the same set of drafts), BP stage, CKD category, statin intensity."""
    co = tuple(co_actions)
    env: dict[str, Any] = dict(features.values)
    age = features.values["age_years"]
    # Guidelines state ages in completed years ("40 to 75" includes 75 years 11 months).
    env["age"] = None if age is None else float(math.floor(age))
    env["bp_stage"] = features.bp_stage
    env["ckd_gfr_category"] = features.ckd_gfr_category
    env["albuminuria_category"] = features.albuminuria_category
    env["egfr_trend"] = features.egfr_trend
    classes = features.current_drug_classes
    for cls in DRUG_CLASSES:
        env[f"on_{cls}"] = 1.0 if cls in classes else 0.0
        env[f"taking_{cls}"] = 1.0 if cls in classes or cls in co else 0.0
    if "statin" not in classes:
        env["statin_intensity"], env["statin_intensity_rank"] = "none", 0.0
    elif features.statin_intensity is None:
        env["statin_intensity"], env["statin_intensity_rank"] = None, None
    else:
        env["statin_intensity"] = features.statin_intensity
        env["statin_intensity_rank"] = float(INTENSITY_RANK[features.statin_intensity])
    return Context(env=env, features=features, co_actions=co)


def _fmt(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _why(rule: Rule, expr: Expression, value: bool | None, ctx: Context) -> str:
    shown = ", ".join(f"{n}={_fmt(ctx.env.get(n))}" for n in sorted(expr.names))
    word = {True: "TRUE", False: "FALSE", None: "UNKNOWN"}[value]
    return f"{rule.summary} [{expr.source}] is {word} ({shown})"


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    version: str  # sha256 of the canonical rule data
    files: tuple[str, ...] = field(default=())

    def by_id(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def population(self, rule: Rule, ctx: Context) -> bool | None:
        return rule.population.evaluate(ctx.env)

    def trace_all(self, ctx: Context) -> list[TraceEntry]:
        """Every rule's population on this patient: the decision log's guideline_trace."""
        out = []
        for rule in self.rules:
            value = rule.population.evaluate(ctx.env)
            out.append(
                TraceEntry(
                    rule.id,
                    {True: "true", False: "false", None: "unknown"}[value],
                    _why(rule, rule.population, value, ctx),
                )
            )
        return out

    def candidate_evaluate(self, action: str, ctx: Context, *, starting: bool = True) -> Verdict:
        """Is `action` (a drug class) concordant for this patient?

        Args:
            action: drug class from contract.DRUG_CLASSES.
            ctx: context_build(...) with the other drafts as co_actions.
            starting: a new start (MUST-NOT rules with applies_to=start count) or a
                continuation of a current drug (only applies_to=any rules count).
        """
        if action not in DRUG_CLASSES:
            raise ValueError(f"unknown drug class {action!r}")
        trace: list[TraceEntry] = []
        violated: list[str] = []
        unknown: list[str] = []
        support: list[str] = []
        for rule in self.rules:
            if action not in rule.actions:
                continue
            value = rule.population.evaluate(ctx.env)
            why = _why(rule, rule.population, value, ctx)
            if rule.type == "MUST-NOT":
                if rule.applies_to == "start" and not starting:
                    continue
                if value is True:
                    violated.append(rule.id)
                    trace.append(TraceEntry(rule.id, "violates", why))
                elif value is None:
                    unknown.append(rule.id)
                    trace.append(TraceEntry(rule.id, "unknown", why))
                else:
                    trace.append(TraceEntry(rule.id, "not-applicable", why))
            elif rule.type == "SHOULD":
                if value is True:
                    support.append(rule.id)
                    trace.append(TraceEntry(rule.id, "supports", why))
                else:
                    trace.append(TraceEntry(rule.id, "not-applicable", why))
        if violated:
            return Verdict(action, "discordant", tuple(violated), tuple(trace))
        if unknown:
            return Verdict(action, "indeterminate", tuple(unknown), tuple(trace))
        if support:
            return Verdict(action, "concordant", tuple(support), tuple(trace))
        return Verdict(action, "neutral", (), tuple(trace))

    def _satisfied(self, rule: Rule, ctx: Context) -> bool:
        if rule.satisfied_when is not None:
            return rule.satisfied_when.evaluate(ctx.env) is True
        taking = [a for a in rule.actions if ctx.env.get(f"taking_{a}") == 1.0]
        if rule.intensity is not None and "statin" in taking:
            rank = ctx.env.get("statin_intensity_rank")
            return rank is not None and rank >= INTENSITY_RANK[rule.intensity]
        return len(taking) >= min(rule.combination, len(rule.actions))

    def recommendations(self, ctx: Context, *, service: str | None = None) -> list[Recommendation]:
        """SHOULD rules that apply now and are not yet met, best first."""
        out = []
        for rule in self.rules:
            if rule.type != "SHOULD" or (service and rule.service != service):
                continue
            if rule.population.evaluate(ctx.env) is not True or self._satisfied(rule, ctx):
                continue
            options, blocked, needs = [], [], []
            upgrade = None
            for action in rule.actions:
                already = ctx.env.get(f"taking_{action}") == 1.0
                if already and not (action == "statin" and rule.intensity):
                    continue
                if already:
                    upgrade = ctx.env.get("statin_intensity")
                verdict = self.candidate_evaluate(action, ctx, starting=not already)
                if verdict.allowed:
                    options.append(action)
                elif verdict.verdict == "discordant":
                    blocked.append(verdict)
                else:
                    needs.append(verdict)
            out.append(Recommendation(rule, tuple(options), tuple(blocked), tuple(needs), upgrade))
        # Higher priority first; among equals the higher statin intensity first.
        out.sort(key=lambda r: (-r.rule.priority, -INTENSITY_RANK.get(r.rule.intensity or "", 0)))
        return out

    def alerts(self, ctx: Context, *, service: str | None = None) -> list[Rule]:
        return [
            r
            for r in self.rules
            if r.type == "alert"
            and (service is None or r.service == service)
            and r.population.evaluate(ctx.env) is True
        ]

    def care_gaps(self, ctx: Context) -> list[tuple[Rule, int | None]]:
        """Monitor rules that apply and are due: (rule, days since the last result or None)."""
        out: list[tuple[Rule, int | None]] = []
        latest = ctx.features.latest if ctx.features else {}
        seen: set[str] = set()
        for rule in self.rules:
            if rule.type != "monitor" or rule.test in seen:
                continue
            if rule.population.evaluate(ctx.env) is not True:
                continue
            seen.add(rule.test or "")
            last = latest.get(rule.test or "")
            if last is None or last.age_days > rule.interval_days:
                out.append((rule, None if last is None else last.age_days))
        return out

    def current_violations(self, ctx: Context) -> list[Verdict]:
        """Drugs the patient is on now that a MUST-NOT (applies_to=any) rules out."""
        classes = sorted(ctx.features.current_drug_classes) if ctx.features else []
        out = []
        for cls in classes:
            verdict = self.candidate_evaluate(cls, ctx, starting=False)
            if verdict.verdict == "discordant":
                out.append(verdict)
        return out


def _rule_from(raw: Mapping[str, Any], source: str) -> Rule:
    where = f"{source}: rule {raw.get('id', '?')}"
    extra = set(raw) - RULE_KEYS
    if extra:
        raise RuleError(f"{where}: unknown keys {sorted(extra)}")
    for key in ("id", "guideline", "edition", "section", "type", "service", "population",
                "summary", "strength", "citation", "url"):  # fmt: skip
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise RuleError(f"{where}: `{key}` is required (string)")
    if raw["type"] not in RULE_TYPES:
        raise RuleError(f"{where}: type must be one of {RULE_TYPES}")
    if raw["service"] not in SERVICES:
        raise RuleError(f"{where}: service must be one of {SERVICES}")
    actions = tuple(raw.get("actions") or ())
    bad = [a for a in actions if a not in DRUG_CLASSES]
    if bad:
        raise RuleError(f"{where}: unknown drug classes {bad}")
    if raw["type"] in ("SHOULD", "MUST-NOT") and not actions:
        raise RuleError(f"{where}: SHOULD and MUST-NOT rules need actions")
    if raw["type"] == "monitor" and (
        raw.get("test") not in MONITOR_TESTS or not isinstance(raw.get("interval_days"), int)
    ):
        raise RuleError(f"{where}: monitor rules need test {MONITOR_TESTS} and interval_days")
    suggest = raw.get("suggest") or {}
    if not isinstance(suggest, dict) or not set(suggest) <= set(actions):
        raise RuleError(f"{where}: suggest maps this rule's actions to codemap keys")
    keys = [*(raw.get("replace_with") or ()), *suggest.values()]
    missing = [k for k in keys if k not in suggestion_codes()]
    if missing:
        raise RuleError(f"{where}: replace_with keys not in codemaps/rxnorm.csv: {missing}")
    intensity = raw.get("intensity")
    if intensity is not None and intensity not in INTENSITY_RANK:
        raise RuleError(f"{where}: intensity must be one of {list(INTENSITY_RANK)}")
    try:
        population = expression_parse(raw["population"], known_names=KNOWN_NAMES)
        satisfied = (
            expression_parse(raw["satisfied_when"], known_names=KNOWN_NAMES)
            if raw.get("satisfied_when")
            else None
        )
    except ValueError as exc:
        raise RuleError(f"{where}: {exc}") from exc
    return Rule(
        id=raw["id"],
        guideline=raw["guideline"],
        edition=str(raw["edition"]),
        section=raw["section"],
        type=raw["type"],
        service=raw["service"],
        population=population,
        summary=raw["summary"],
        strength=raw["strength"],
        citation=raw["citation"],
        url=raw["url"],
        actions=actions,
        intensity=intensity,
        combination=int(raw.get("combination", 1)),
        applies_to=raw.get("applies_to", "any"),
        satisfied_when=satisfied,
        rationale=raw.get("rationale", ""),
        priority=int(raw.get("priority", 0)),
        verified=raw.get("verified", ""),
        replace_with=tuple(raw.get("replace_with") or ()),
        test=raw.get("test"),
        interval_days=int(raw.get("interval_days") or 0),
        suggest=dict(suggest),
    )


def ruleset_load(paths: Sequence[Path] | None = None) -> RuleSet:
    """Load and validate rule files; the version hashes their canonical content."""
    files = sorted(paths) if paths is not None else sorted(RULES_DIR.glob("*.yaml"))
    rules: list[Rule] = []
    canonical: list[Any] = []
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
            raise RuleError(f"{path.name}: expected a mapping with a `rules` list")
        canonical.append({"file": path.name, "rules": data["rules"]})
        for raw in data["rules"]:
            if not isinstance(raw, dict):
                raise RuleError(f"{path.name}: each rule must be a mapping")
            rules.append(_rule_from(raw, path.name))
    ids = [r.id for r in rules]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise RuleError(f"duplicate rule ids {sorted(dupes)}")
    digest = hashlib.sha256(
        json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()
    return RuleSet(rules=tuple(rules), version=digest, files=tuple(p.name for p in files))


@lru_cache(maxsize=1)
def ruleset_default() -> RuleSet:
    """The shipped rule set, loaded once per process."""
    return ruleset_load()
