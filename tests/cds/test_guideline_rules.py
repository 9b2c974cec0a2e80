"""Every rule, on hand-written patients on both sides of each threshold; engine semantics."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cds.guidelines.engine import Context, RuleError, ruleset_default, ruleset_load
from tests.cds.guideline_patients import (
    ascvd,
    bp3,
    ctx,
    dm,
    f,
    hf,
    htn,
    lab,
    never_smoker,
    on,
    pregnant,
    was_pregnant,
)

RULES = ruleset_default()
LOW_RISK_DM = [dm(), lab("uacr", 10), never_smoker(), lab("ldl", 100), lab("total_chol", 170),
               lab("hdl", 60), *bp3(118, 70)]  # fmt: skip
EGFR_59_TWICE = [lab("egfr", 59, "2020-06-01"), lab("egfr", 59)]

# (rule id, patient where the population is TRUE, patient where it is FALSE)
CASES: list[tuple[str, Callable[[], Context], Callable[[], Context]]] = [
    ("ada25-9-metformin-first-line", lambda: ctx(dm()), lambda: ctx(htn())),
    ("ada25-9-metformin-first-line",
     lambda: ctx(dm(), lab("egfr", 80)), lambda: ctx(dm(), lab("egfr", 80), on("sulfonylurea"))),
    ("ada25-9-metformin-egfr-below-30",
     lambda: ctx(lab("egfr", 29.9)), lambda: ctx(lab("egfr", 30))),
    ("ada25-9-metformin-no-start-egfr-below-45",
     lambda: ctx(lab("egfr", 44.9)), lambda: ctx(lab("egfr", 45))),
    ("ada25-9-sglt2i-heart-failure",
     lambda: ctx(dm(), hf(), lab("egfr", 20)), lambda: ctx(dm(), hf(), lab("egfr", 19.9))),
    ("ada25-9-sglt2i-ckd",
     lambda: ctx(dm(), lab("egfr", 59.9)), lambda: ctx(dm(), lab("egfr", 60), lab("uacr", 29.9))),
    ("ada25-9-sglt2i-ckd",
     lambda: ctx(dm(), lab("egfr", 75), lab("uacr", 30)),
     lambda: ctx(dm(), lab("egfr", 19.9), lab("uacr", 30))),
    ("ada25-9-sglt2i-no-start-egfr-below-20",
     lambda: ctx(lab("egfr", 19.9)), lambda: ctx(lab("egfr", 20))),
    ("ada25-9-glp1ra-ascvd", lambda: ctx(dm(), ascvd()), lambda: ctx(dm())),
    ("ada25-9-glp1ra-advanced-ckd",
     lambda: ctx(dm(), lab("egfr", 29.9), lab("hba1c", 7)),
     lambda: ctx(dm(), lab("egfr", 30), lab("hba1c", 7))),
    ("ada25-6-glycemic-goal",
     lambda: ctx(dm(), lab("hba1c", 7.0)), lambda: ctx(dm(), lab("hba1c", 6.9))),
    ("ada25-9-intensify",
     lambda: ctx(dm(), lab("hba1c", 7.0), on("metformin")),
     lambda: ctx(dm(), lab("hba1c", 6.9), on("metformin"))),
    ("ada25-9-insulin-severe-hyperglycemia",
     lambda: ctx(dm(), lab("hba1c", 10.1)),
     lambda: ctx(dm(), lab("hba1c", 10.0), lab("glucose", 150))),
    ("ada25-9-insulin-severe-hyperglycemia",
     lambda: ctx(dm(), lab("hba1c", 8), lab("glucose", 300)),
     lambda: ctx(dm(), lab("hba1c", 8), lab("glucose", 299))),
    ("ada25-10-acei-arb-albuminuria",
     lambda: ctx(dm(), htn(), lab("uacr", 30)), lambda: ctx(dm(), htn(), lab("uacr", 29.9))),
    ("ada25-10-statin-diabetes-40-75", lambda: ctx(dm(), age=75.9), lambda: ctx(dm(), age=76)),
    ("ada25-10-statin-diabetes-40-75", lambda: ctx(dm(), age=40), lambda: ctx(dm(), age=39.8)),
    ("ada25-10-statin-diabetes-high-risk",
     lambda: ctx(*LOW_RISK_DM, htn()), lambda: ctx(*LOW_RISK_DM)),
    ("ada25-10-statin-diabetes-high-risk",
     lambda: ctx(*LOW_RISK_DM, override={"ascvd_risk_10y": 0.2}),
     lambda: ctx(*LOW_RISK_DM, override={"ascvd_risk_10y": 0.1999})),
    ("acc17-8.1.2-start-stage2", lambda: ctx(*bp3(140, 70)), lambda: ctx(*bp3(139, 89))),
    ("acc17-8.1.2-start-stage2",
     lambda: ctx(*bp3(120, 90)), lambda: ctx(*bp3(145, 95), pregnant())),
    ("acc17-8.1.2-start-stage1-high-risk",
     lambda: ctx(dm(), *bp3(130, 70)), lambda: ctx(dm(), *bp3(129, 79))),
    ("acc17-8.1.2-start-stage1-high-risk",
     lambda: ctx(*bp3(135, 70), override={"ascvd_risk_10y": 0.10}),
     lambda: ctx(*bp3(135, 70), override={"ascvd_risk_10y": 0.0999, "ckd": 0.0})),
    ("acc17-8.1.6.1-two-drugs", lambda: ctx(*bp3(151, 80)), lambda: ctx(*bp3(150, 90))),
    ("acc17-8.1.6.1-two-drugs",
     lambda: ctx(*bp3(140, 91)), lambda: ctx(*bp3(151, 80), on("thiazide"))),
    ("acc17-8.1.5-add-on-uncontrolled",
     lambda: ctx(htn(), on("thiazide"), *bp3(130, 70)),
     lambda: ctx(htn(), on("thiazide"), *bp3(129, 79))),
    ("acc17-10.1.1-black-adults",
     lambda: ctx(*bp3(135, 85), race="2054-5"), lambda: ctx(*bp3(135, 85), race="2106-3")),
    ("acc17-10.1.1-black-adults",
     lambda: ctx(*bp3(130, 70), race="2054-5"), lambda: ctx(*bp3(129, 79), race="2054-5")),
    ("acc17-9.3-ckd-acei-arb",
     lambda: ctx(htn(), lab("egfr", 70), lab("uacr", 300)),
     lambda: ctx(htn(), lab("egfr", 70), lab("uacr", 299))),
    ("acc17-9.3-ckd-acei-arb",
     lambda: ctx(htn(), *EGFR_59_TWICE), lambda: ctx(htn(), lab("egfr", 60, "2020-06-01"),
                                                      lab("egfr", 60), lab("uacr", 10))),
    ("acc17-8.1.4-no-acei-with-arb", lambda: ctx(on("arb")), lambda: ctx(on("ccb_dhp"))),
    ("acc17-8.1.4-no-acei-with-arb", lambda: ctx(co=("renin_inhibitor",)), lambda: ctx()),
    ("acc17-8.1.4-no-arb-with-acei", lambda: ctx(on("acei")), lambda: ctx(on("thiazide"))),
    ("acc17-8.1.4-no-aliskiren-with-acei-arb", lambda: ctx(co=("arb",)), lambda: ctx()),
    ("acc17-10.2.2-pregnancy-no-raas", lambda: ctx(pregnant()), lambda: ctx(was_pregnant())),
    ("acc17-9.2.1-hfref-no-nondhp-ccb",
     lambda: ctx(hf(), lab("lvef", 40)), lambda: ctx(hf(), lab("lvef", 41))),
    ("acc17-3.2-stage2-alert", lambda: ctx(*bp3(140, 89)), lambda: ctx(*bp3(139, 89))),
    ("chol18-4.1-secondary-prevention",
     lambda: ctx(ascvd(), age=75.9), lambda: ctx(ascvd(), age=76)),
    ("chol18-4.1-secondary-over-75", lambda: ctx(ascvd(), age=76), lambda: ctx(ascvd(), age=75.9)),
    ("chol18-4.2-ldl-190", lambda: ctx(lab("ldl", 190)), lambda: ctx(lab("ldl", 189.9))),
    ("chol18-4.2-ldl-190",
     lambda: ctx(lab("ldl", 200), age=20), lambda: ctx(lab("ldl", 200), age=19.8)),
    ("chol18-4.3-diabetes", lambda: ctx(dm()), lambda: ctx(dm(), ascvd())),
    ("chol18-4.4.2-primary-high-risk",
     lambda: ctx(lab("ldl", 120), override={"ascvd_risk_10y": 0.2}),
     lambda: ctx(lab("ldl", 120), override={"ascvd_risk_10y": 0.1999})),
    ("chol18-4.4.2-primary-high-risk",
     lambda: ctx(lab("ldl", 70), override={"ascvd_risk_10y": 0.25}),
     lambda: ctx(lab("ldl", 69.9), override={"ascvd_risk_10y": 0.25})),
    ("chol18-4.4.2-primary-intermediate",
     lambda: ctx(lab("ldl", 120), override={"ascvd_risk_10y": 0.075}),
     lambda: ctx(lab("ldl", 120), override={"ascvd_risk_10y": 0.0749})),
    ("chol18-4.4.2-primary-intermediate",
     lambda: ctx(lab("ldl", 120), override={"ascvd_risk_10y": 0.1999}),
     lambda: ctx(lab("ldl", 120), override={"ascvd_risk_10y": 0.2})),
    ("acc17-10.2.2-pregnancy-agents",
     lambda: ctx(htn(), pregnant(), *bp3(140, 80)), lambda: ctx(htn(), pregnant(), *bp3(139, 89))),
    ("acc17-10.2.2-pregnancy-agents",
     lambda: ctx(htn(), pregnant(), *bp3(130, 90)),
     lambda: ctx(htn(), pregnant(), on("ccb_dhp"), *bp3(150, 90))),
    ("chol18-pregnancy-no-statin", lambda: ctx(pregnant()), lambda: ctx(was_pregnant())),
    ("ada25-6-a1c-not-at-goal",
     lambda: ctx(dm(), lab("hba1c", 7)), lambda: ctx(dm(), lab("hba1c", 6.9))),
    ("ada25-6-a1c-at-goal",
     lambda: ctx(dm(), lab("hba1c", 6.9)), lambda: ctx(dm(), lab("hba1c", 7))),
    ("ada25-6-a1c-never", lambda: ctx(dm()), lambda: ctx(dm(), lab("hba1c", 6))),
    ("ada25-11-egfr-annual", lambda: ctx(dm()), lambda: ctx(lab("uacr", 10))),
    ("ada25-11-uacr-annual", lambda: ctx(lab("uacr", 40)), lambda: ctx(lab("uacr", 29))),
]  # fmt: skip


@pytest.mark.parametrize(("rule_id", "true_case", "false_case"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])  # fmt: skip
def test_rule_population_on_both_sides(
    rule_id: str, true_case: Callable[[], Context], false_case: Callable[[], Context]
) -> None:
    rule = RULES.by_id(rule_id)
    assert rule.population.evaluate(true_case().env) is True
    assert rule.population.evaluate(false_case().env) is False


def test_every_rule_has_both_sides_tested() -> None:
    assert {r.id for r in RULES.rules} == {c[0] for c in CASES}


def test_metformin_is_discordant_below_egfr_30_with_the_deciding_rule_and_trace() -> None:
    verdict = RULES.candidate_evaluate("metformin", ctx(dm(), lab("egfr", 25)))
    assert verdict.verdict == "discordant"
    assert "ada25-9-metformin-egfr-below-30" in verdict.deciding_rules
    assert any("egfr=25" in t.why for t in verdict.trace)


def test_metformin_is_concordant_first_line_with_good_kidneys() -> None:
    verdict = RULES.candidate_evaluate("metformin", ctx(dm(), lab("egfr", 80)))
    assert verdict.verdict == "concordant"
    assert verdict.deciding_rules == ("ada25-9-metformin-first-line",)


def test_unknown_egfr_makes_metformin_indeterminate_not_allowed() -> None:
    verdict = RULES.candidate_evaluate("metformin", ctx(dm()))
    assert verdict.verdict == "indeterminate"
    assert not verdict.allowed


def test_continuing_metformin_at_egfr_40_is_not_a_new_start() -> None:
    c = ctx(dm(), lab("egfr", 40), on("metformin"))
    assert RULES.candidate_evaluate("metformin", c, starting=False).allowed
    assert not RULES.candidate_evaluate("metformin", c, starting=True).allowed


def test_acei_with_arb_in_the_same_order_set_is_caught() -> None:
    c = ctx(htn(), co=("arb",))
    assert RULES.candidate_evaluate("acei", c).verdict == "discordant"


def test_a_class_no_rule_addresses_is_neutral() -> None:
    assert RULES.candidate_evaluate("loop_diuretic", ctx()).verdict == "neutral"


def test_recommendations_filter_out_must_not_options() -> None:
    c = ctx(htn(), *bp3(150, 85), pregnant())
    recs = RULES.recommendations(c, service="hypertension-therapy")
    assert all("acei" not in r.options and "arb" not in r.options for r in recs)
    c2 = ctx(htn(), lab("egfr", 70), lab("uacr", 400), pregnant(), on("thiazide"), *bp3(135, 85))
    ckd = [r for r in RULES.recommendations(c2) if r.rule.id == "acc17-9.3-ckd-acei-arb"]
    assert ckd == []  # population excludes pregnancy; the MUST-NOT would also block it


def test_recommendations_in_priority_order_and_skip_met_ones() -> None:
    c = ctx(dm(), hf(), lab("egfr", 50), lab("hba1c", 8.0), on("metformin"))
    ids = [r.rule.id for r in RULES.recommendations(c, service="diabetes-therapy")]
    assert ids[0] == "ada25-9-sglt2i-heart-failure"
    assert "ada25-9-metformin-first-line" not in ids
    on_sglt2 = ctx(dm(), hf(), lab("egfr", 50), on("sglt2i"))
    assert "ada25-9-sglt2i-heart-failure" not in [
        r.rule.id for r in RULES.recommendations(on_sglt2)
    ]


def test_statin_upgrade_when_intensity_is_too_low() -> None:
    c = ctx(ascvd(), on("statin_low"), age=60)
    rec = next(
        r for r in RULES.recommendations(c) if r.rule.id == "chol18-4.1-secondary-prevention"
    )
    assert rec.options == ("statin",) and rec.upgrade_from == "low"
    assert not [r for r in RULES.recommendations(ctx(ascvd(), on("statin"), age=60))
                if r.rule.id == "chol18-4.1-secondary-prevention"]  # fmt: skip


def test_current_violations_find_a_drug_now_contraindicated() -> None:
    c = ctx(pregnant(), on("acei"))
    assert [v.action for v in RULES.current_violations(c)] == ["acei"]


def test_version_changes_when_a_rule_changes(tmp_path: Path) -> None:
    rules_dir = Path(__file__).resolve().parents[2] / "cds" / "guidelines" / "rules"
    copies = []
    for path in sorted(rules_dir.glob("*.yaml")):
        target = tmp_path / path.name
        target.write_text(path.read_text())
        copies.append(target)
    assert ruleset_load(copies).version == RULES.version
    ada = next(c for c in copies if c.name.startswith("ada"))
    ada.write_text(ada.read_text().replace("egfr < 30", "egfr < 31", 1))
    assert ruleset_load(copies).version != RULES.version


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"type": "MAYBE"}, "type"),
        ({"actions": ["aspirin"]}, "unknown drug classes"),
        ({"population": "egrf < 30"}, "unknown names"),
        ({"citation": ""}, "citation"),
        ({"colour": "red"}, "unknown keys"),
    ],
)
def test_malformed_rules_are_refused(tmp_path: Path, patch: dict, message: str) -> None:
    import yaml

    rule = {"id": "x", "guideline": "g", "edition": "1", "section": "s", "type": "MUST-NOT",
            "service": "diabetes-therapy", "population": "egfr < 30", "actions": ["metformin"],
            "summary": "s", "strength": "A", "citation": "c",
            "url": "https://example.org"}  # fmt: skip
    rule.update(patch)
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"rules": [rule]}))
    with pytest.raises(RuleError, match=message):
        ruleset_load([path])


def test_unused_import_guard() -> None:
    assert f is not None


def test_care_gaps_are_due_by_interval_and_when_never_measured() -> None:
    due = RULES.care_gaps(ctx(dm(), lab("hba1c", 7.5, "2020-09-15"), lab("egfr", 80, "2020-06-01")))
    by_test = {rule.test: age for rule, age in due}
    assert by_test == {"hba1c": 108, "uacr": None}  # eGFR 7 months old is not yet due
    fresh = ctx(dm(), lab("hba1c", 6.5, "2020-09-15"), lab("egfr", 80), lab("uacr", 5))
    assert RULES.care_gaps(fresh) == []


def test_docs_list_every_rule_and_the_current_version() -> None:
    """docs/guidelines.md is what a reviewer reads: it must not drift from the rule files."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "guidelines.md").read_text()
    assert RULES.version in docs, "regenerate the rules table in docs/guidelines.md"
    assert all(f"`{rule.id}`" in docs for rule in RULES.rules)
