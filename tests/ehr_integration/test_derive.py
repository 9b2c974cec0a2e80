"""Derived features: every contract name, thresholds on both sides, no leakage."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ehr_integration.fhir.contract import FEATURE_NAMES
from ehr_integration.fhir.derive import (
    MEDICATION_CURRENT_DAYS,
    bp_stage,
    features_at,
    gfr_category,
)
from ehr_integration.fhir.sources import bundle_resources, record_from_resources
from tests import fhir_factory as f

AS_OF = date(2021, 1, 1)


def feats(*resources: dict[str, Any], patient: dict[str, Any] | None = None, **kw: Any):
    rec = record_from_resources([patient or f.patient(), *resources])
    return features_at(rec, kw.pop("as_of", AS_OF), **kw)


def test_it_produces_every_contract_feature_name_and_none_when_unknown() -> None:
    out = feats()
    assert tuple(out.as_dict()) == FEATURE_NAMES
    assert out["hba1c_pct"] is None and out["egfr"] is None and out["ascvd_risk_10y"] is None
    assert out["diabetes"] == 0.0  # no diagnosis coded means "no", as in any phenotype


def test_latest_value_and_its_age() -> None:
    out = feats(
        f.observation("hba1c", 7.0, "2020-01-01"), f.observation("hba1c", 8.2, "2020-12-02")
    )
    assert out["hba1c_pct"] == 8.2
    assert out["hba1c_age_days"] == 30
    assert out.latest["hba1c"].when == date(2020, 12, 2)


def test_bp_is_the_mean_of_the_last_three_readings() -> None:
    out = feats(
        f.bp(200, 120, "2019-01-01"),
        f.bp(130, 80, "2020-01-01"),
        f.bp(140, 90, "2020-06-01"),
        f.bp(150, 100, "2020-12-01"),
    )
    assert out["sbp_mean"] == 140 and out["dbp_mean"] == 90
    assert out.bp_readings_used == 3
    assert out.bp_stage == "stage2"


@pytest.mark.parametrize(
    ("sbp", "dbp", "stage"),
    [
        (119, 79, "normal"),
        (120, 79, "elevated"),
        (129, 79, "elevated"),
        (130, 79, "stage1"),
        (125, 80, "stage1"),
        (139, 89, "stage1"),
        (140, 70, "stage2"),
        (120, 90, "stage2"),
    ],
)
def test_bp_stage_thresholds(sbp: float, dbp: float, stage: str) -> None:
    assert bp_stage(sbp, dbp) == stage


@pytest.mark.parametrize(
    ("egfr", "category"),
    [(90, "G1"), (89.9, "G2"), (60, "G2"), (59.9, "G3a"), (45, "G3a"), (44.9, "G3b"),
     (30, "G3b"), (29.9, "G4"), (15, "G4"), (14.9, "G5")],
)  # fmt: skip
def test_gfr_categories(egfr: float, category: str) -> None:
    assert gfr_category(egfr) == category


def test_egfr_slope_over_three_years() -> None:
    out = feats(
        f.observation("egfr", 70, "2018-01-01"),
        f.observation("egfr", 60, "2019-01-01"),
        f.observation("egfr", 50, "2020-01-01"),
    )
    assert out["egfr_slope_per_year"] == pytest.approx(-10, abs=0.1)
    assert out.egfr_trend == "declining_fast"
    assert feats(f.observation("egfr", 70, "2020-01-01"))["egfr_slope_per_year"] is None


def test_ckd_from_persistent_low_egfr_but_not_a_single_value() -> None:
    once = feats(f.observation("egfr", 50, "2020-06-01"))
    assert once["ckd"] == 0.0 and once["ckd_stage"] == 3
    twice = feats(f.observation("egfr", 55, "2020-01-01"), f.observation("egfr", 50, "2020-06-01"))
    assert twice["ckd"] == 1.0


@pytest.mark.parametrize(("uacr", "flag", "cat"), [(29.9, 0.0, "A1"), (30, 1.0, "A2"),
                                                   (300, 1.0, "A2"), (301, 1.0, "A3")])  # fmt: skip
def test_albuminuria_threshold(uacr: float, flag: float, cat: str) -> None:
    out = feats(f.observation("uacr", uacr, "2020-06-01"))
    assert out["albuminuria"] == flag and out.albuminuria_category == cat
    assert out["ckd"] == flag


def test_hfref_needs_heart_failure_and_lvef_at_most_40() -> None:
    hf = f.condition("heart_failure")
    assert feats(hf, f.observation("lvef", 40, "2020-01-01"))["hfref"] == 1.0
    assert feats(hf, f.observation("lvef", 41, "2020-01-01"))["hfref"] == 0.0
    assert feats(hf)["hfref"] is None  # HF, EF unknown
    assert feats()["hfref"] == 0.0


def test_pregnancy_is_active_only_between_onset_and_abatement() -> None:
    preg = f.condition("pregnancy", "2020-06-01", abated="2021-03-01")
    assert feats(preg)["pregnant"] == 1.0
    assert feats(preg, as_of=date(2021, 4, 1))["pregnant"] == 0.0
    male = f.patient(sex="male")
    assert feats(patient=male)["pregnant"] == 0.0


def test_smoking_is_the_latest_status() -> None:
    out = feats(f.smoking("449868002", "2018-01-01"), f.smoking("8517006", "2020-01-01"))
    assert out["smoker_current"] == 0.0
    assert feats(f.smoking("449868002", "2020-01-01"))["smoker_current"] == 1.0
    assert feats()["smoker_current"] is None


def test_medications_current_by_renewal_window_or_by_status_now() -> None:
    recent = (AS_OF - timedelta(days=MEDICATION_CURRENT_DAYS - 1)).isoformat()
    old = (AS_OF - timedelta(days=MEDICATION_CURRENT_DAYS + 1)).isoformat()
    assert feats(f.medication("metformin", recent, status="stopped"))["on_metformin"] == 1.0
    assert feats(f.medication("metformin", old, status="active"))["on_metformin"] == 0.0
    now = {"trust_current_status": True}
    assert feats(f.medication("metformin", old, status="active"), **now)["on_metformin"] == 1.0
    assert feats(f.medication("metformin", recent, status="stopped"), **now)["on_metformin"] == 0
    both = feats(f.medication("999967", recent), f.medication("metformin", recent))
    assert both["n_antihypertensive"] == 3 and both["n_glucose_lowering"] == 1
    assert feats(f.medication("statin_moderate", recent), f.medication("statin_low", recent)
                 ).statin_intensity == "moderate"  # fmt: skip


def test_pce_uses_the_record_and_says_why_when_missing() -> None:
    man = f.patient(sex="male", birth="1966-01-01", race="2106-3")
    out = feats(
        f.observation("total_chol", 213, "2020-06-01"),
        f.observation("hdl", 50, "2020-06-01"),
        f.bp(120, 70, "2020-06-01"),
        f.smoking("266919005", "2020-06-01"),
        patient=man,
    )
    assert out["ascvd_risk_10y"] == pytest.approx(0.0537, abs=0.002)
    assert feats(patient=man)["ascvd_risk_10y"] is None
    assert "missing" in feats(patient=man).pce_note


# --- leakage: nothing dated on/after as_of may change the features --------------------


def _all_resources() -> list[dict[str, Any]]:
    out = []
    for name in ("diabetes_ckd", "hypertension_hf", "pregnancy_htn", "bulkdata_htn"):
        out.append(bundle_resources(f.fixture_bundle(name)))
    return out


FIXTURE_RESOURCES = _all_resources()
DATE_KEYS = ("effectiveDateTime", "onsetDateTime", "authoredOn", "abatementDateTime")


def _resource_date(resource: dict[str, Any]) -> date | None:
    for key in ("effectiveDateTime", "onsetDateTime", "authoredOn"):
        if key in resource:
            return date.fromisoformat(resource[key][:10])
    return None


def _perturb_future(resources: list[dict[str, Any]], as_of: date) -> list[dict[str, Any]]:
    """Change every value dated on/after as_of, and add future facts of every kind."""
    out = []
    for r in copy.deepcopy(resources):
        when = _resource_date(r)
        if when is not None and when >= as_of:
            if "valueQuantity" in r:
                r["valueQuantity"]["value"] = r["valueQuantity"]["value"] * 3 + 7
            if r["resourceType"] == "MedicationRequest":
                r["status"] = "active"
        out.append(r)
    future = as_of.isoformat()
    out += [
        f.condition("ascvd", future), f.condition("pregnancy", future),
        f.condition("diabetes", future), f.observation("hba1c", 12.0, future),
        f.observation("egfr", 12.0, future), f.bp(210, 130, future),
        f.medication("sglt2i", future), f.smoking("449868002", future),
    ]  # fmt: skip
    return out


@settings(max_examples=25, deadline=None)
@given(which=st.integers(0, 3), days_back=st.integers(0, 365 * 15))
def test_features_never_see_data_dated_on_or_after_as_of(which: int, days_back: int) -> None:
    resources = FIXTURE_RESOURCES[which]
    record = record_from_resources(resources)
    as_of = record.snapshot_date - timedelta(days=days_back)
    perturbed = record_from_resources(_perturb_future(resources, as_of))
    assert features_at(record, as_of).as_dict() == features_at(perturbed, as_of).as_dict()


def test_the_leakage_check_can_fail() -> None:
    """The perturbation really changes features when it reaches the past (as_of + 1 day)."""
    resources = FIXTURE_RESOURCES[0]
    record = record_from_resources(resources)
    as_of = record.snapshot_date - timedelta(days=400)
    perturbed = record_from_resources(_perturb_future(resources, as_of))
    later = as_of + timedelta(days=1)
    assert features_at(record, later).as_dict() != features_at(perturbed, later).as_dict()


def test_features_current_include_today_and_trust_status() -> None:
    from ehr_integration.fhir.derive import features_current

    rec = record_from_resources(
        [
            f.patient(),
            f.observation("hba1c", 9.1, "2021-01-01"),
            f.medication("metformin", "2010-01-01"),
        ]
    )
    out = features_current(rec, today=date(2021, 1, 1))
    assert out["hba1c_pct"] == 9.1 and out["on_metformin"] == 1.0
