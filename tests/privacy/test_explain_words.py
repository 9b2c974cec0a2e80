"""SHAP factors in clinical words: every contract feature, values, units, direction."""

from __future__ import annotations

import numpy as np
import pytest

from ehr_integration.fhir.contract import DRUG_CLASSES, FEATURE_NAMES, RISKS
from privacy.ml.explain_core import LinearShap
from privacy.ml.explain_words import (
    DRUG_WORDS,
    FEATURE_WORDS,
    RISK_WORDS,
    explanations_markdown,
    factor_words,
    feature_value_words,
    top_factors,
)
from privacy.serving import Explanation


def test_every_contract_name_has_its_own_clinical_words() -> None:
    assert set(FEATURE_NAMES) <= set(FEATURE_WORDS)
    assert set(RISKS) <= set(RISK_WORDS)
    assert set(DRUG_CLASSES) <= set(DRUG_WORDS)


@pytest.mark.parametrize("name", FEATURE_NAMES)
def test_every_feature_reads_as_a_phrase_with_its_value(name: str) -> None:
    words = FEATURE_WORDS[name]
    one = feature_value_words(name, 1.0)
    zero = feature_value_words(name, 0.0)
    assert one and zero and one != zero
    if not words.is_flag:
        assert words.label in one
        assert words.unit in one
    assert feature_value_words(name, None).endswith("not recorded")


def test_egfr_reads_with_unit_and_trend() -> None:
    assert (
        factor_words(
            name="egfr",
            value=38.0,
            contribution=0.4,
            target="ckd_progression",
            features={"egfr": 38.0, "egfr_slope_per_year": -5.14},
        )
        == "eGFR 38 mL/min/1.73m2, falling 5.1 per year: raises kidney disease progression risk"
    )
    assert feature_value_words("egfr", 61.6, {"egfr_slope_per_year": 0.3}).endswith(
        "62 mL/min/1.73m2, stable"
    )
    assert feature_value_words("egfr", 90, {"egfr_slope_per_year": 2.0}).endswith(
        "rising 2.0 per year"
    )
    assert feature_value_words("egfr", 90, {"egfr_slope_per_year": None}) == (
        "eGFR 90 mL/min/1.73m2"
    )


def test_flags_fractions_and_direction_words() -> None:
    assert feature_value_words("on_metformin", 1.0) == "Taking metformin"
    assert feature_value_words("sex_female", 0.0) == "Male"
    assert feature_value_words("ascvd_risk_10y", 0.123) == "10-year ASCVD risk 12.3 %"
    assert feature_value_words("hba1c_pct", 8.26) == "HbA1c 8.3 %"
    assert factor_words(name="hfref", value=1.0, contribution=0.9, target="sglt2i") == (
        "HF with reduced EF: favours an SGLT2 inhibitor"
    )
    assert factor_words(name="egfr", value=25.0, contribution=-1.2, target="metformin") == (
        "eGFR 25 mL/min/1.73m2: argues against metformin"
    )
    assert factor_words(name="bmi", value=31.0, contribution=-0.1, target="stroke").endswith(
        "lowers stroke risk"
    )


def test_top_factors_rank_by_magnitude_and_drop_zeros() -> None:
    values = {"bmi": 0.1, "egfr": -0.5, "age_years": 0.5, "ldl_mg_dl": 0.0, "hba1c_pct": 0.2}
    assert top_factors(values, top=3) == [("age_years", 0.5), ("egfr", -0.5), ("hba1c_pct", 0.2)]
    assert top_factors({"bmi": 0.0}) == []


def test_markdown_from_a_real_explanation_names_the_top_factors() -> None:
    names = ["egfr", "egfr_slope_per_year", "age_years", "bmi"]
    background = np.array([[80.0, -1.0, 55.0, 28.0], [70.0, 0.0, 60.0, 30.0]])
    explainer = LinearShap(weight=[-0.05, -0.3, 0.02, 0.001], bias=-1.0, background=background)
    x = [38.0, -5.0, 71.0, 29.0]
    (record,) = explainer.explain(x).as_dicts(feature_names=names, targets=["ckd_progression"])
    features = dict(zip(names, x, strict=True))
    text = explanations_markdown([record], features, top=2)
    assert text.splitlines() == [
        "**Kidney disease progression risk**, main factors:",
        "- eGFR 38 mL/min/1.73m2, falling 5.0 per year: raises kidney disease progression risk",
        "- eGFR change -5.0 mL/min/1.73m2 per year: raises kidney disease progression risk",
    ]
    # The dataclass from the serving contract reads the same as its dict.
    dataclass_form = Explanation(
        target=record["target"],
        base_value=record["base_value"],
        values=record["values"],
        output=record["output"],
    )
    assert explanations_markdown([dataclass_form], features, top=2) == text


def test_markdown_orders_and_filters_targets() -> None:
    explanations = [
        {"target": "metformin", "base_value": 0, "values": {"egfr": -1.0}, "output": -1.0},
        {"target": "sglt2i", "base_value": 0, "values": {"hfref": 2.0}, "output": 2.0},
        {"target": "stroke", "base_value": 0, "values": {}, "output": 0.0},
    ]
    features = {"egfr": 28.0, "hfref": 1.0}
    text = explanations_markdown(explanations, features, targets=["sglt2i", "metformin"])
    assert text.index("Why an SGLT2 inhibitor") < text.index("Why metformin")
    assert "stroke" not in text
    assert explanations_markdown([], features) == ""


def test_targets_as_serving_names_them_read_as_drugs_and_risks() -> None:
    explanations = [
        {"target": "t2d_drug:sglt2i", "base_value": 0, "values": {"hfref": 1.0}, "output": 1},
        {"target": "risk:ckd_progression", "base_value": 0, "values": {"egfr": 0.5}, "output": 1},
        {"target": "risk:new_thing", "base_value": 0, "values": {"bmi": 0.5}, "output": 1},
    ]
    text = explanations_markdown(explanations, {"hfref": 1.0, "egfr": 38.0, "bmi": 31.0})
    assert "**Why an SGLT2 inhibitor**" in text
    assert "- HF with reduced EF: favours an SGLT2 inhibitor" in text
    assert "**Kidney disease progression risk**" in text
    assert "- eGFR 38 mL/min/1.73m2: raises kidney disease progression risk" in text
    assert "- BMI 31.0 kg/m2: raises new thing risk" in text
