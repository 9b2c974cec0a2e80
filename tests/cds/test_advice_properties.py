"""Random patients: every card is valid, every suggested drug is concordant, every
generated MUST-NOT draft is caught (the report's checks, on hypothesis-made records)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds.guidelines.engine import ruleset_default
from cds.report import Report, report_patient
from ehr_integration.fhir.sources import record_from_resources
from tests import fhir_factory as f
from tests.cds.guideline_patients import LAB_DAY, born

CONDITIONS = [
    "diabetes",
    "hypertension",
    "ascvd",
    "heart_failure",
    "pregnancy",
    "ckd_stage_3",
    "albuminuria",
    "prediabetes",
]
LABS = {
    "hba1c": (4.5, 14),
    "egfr": (8, 130),
    "uacr": (1, 900),
    "ldl": (40, 260),
    "hdl": (20, 100),
    "total_chol": (120, 330),
    "lvef": (15, 70),
    "glucose": (60, 420),
}
DRUGS = [
    "metformin",
    "sglt2i",
    "glp1ra",
    "insulin",
    "acei",
    "arb",
    "ccb_dhp",
    "ccb_nondhp",
    "thiazide",
    "beta_blocker",
    "statin",
    "statin_low",
    "renin_inhibitor",
]


@st.composite
def patients(draw: Any) -> list[dict[str, Any]]:
    sex = draw(st.sampled_from(["female", "male"]))
    age = draw(st.floats(18, 95))
    race = draw(st.sampled_from(["2106-3", "2054-5", None]))
    out = [f.patient(sex=sex, birth=born(age), race=race)]
    for concept in draw(st.lists(st.sampled_from(CONDITIONS), unique=True, max_size=4)):
        out.append(f.condition(concept, "2020-06-01" if concept == "pregnancy" else "2015-01-01"))
    for kind, (lo, hi) in LABS.items():
        if draw(st.booleans()):
            out.append(f.observation(kind, draw(st.floats(lo, hi)), LAB_DAY))
    if draw(st.booleans()):
        sbp, dbp = draw(st.floats(95, 200)), draw(st.floats(55, 125))
        out += [f.bp(sbp, dbp, d) for d in ("2020-10-01", "2020-11-01", LAB_DAY)]
    if draw(st.booleans()):
        out.append(f.smoking(draw(st.sampled_from(["449868002", "8517006", "266919005"])), LAB_DAY))
    for drug in draw(st.lists(st.sampled_from(DRUGS), unique=True, max_size=3)):
        out.append(f.medication(drug, "2020-06-01"))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(resources=patients())
def test_random_patients_meet_both_targets_with_valid_cards(
    resources: list[dict[str, Any]],
) -> None:
    report = Report()
    report_patient(report, "random", record_from_resources(resources), ruleset_default())
    assert report.invalid_cards == []
    for table in (report.shown, report.caught):
        overall = Report._overall(table)
        assert overall.yes == overall.total, report.misses
