"""Pooled cohort equations against the published worked example (Goff 2013)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ehr_integration.fhir.pce import pce_risk

EXAMPLE = {"age": 55, "total_chol": 213, "hdl": 50, "sbp": 120, "bp_treated": False,
           "smoker": False, "diabetes": False}  # fmt: skip


@pytest.mark.parametrize(
    ("female", "black", "published_pct"),
    [(True, False, 2.1), (True, True, 3.0), (False, False, 5.3), (False, True, 6.1)],
)
def test_it_reproduces_the_published_example(
    female: bool, black: bool, published_pct: float
) -> None:
    risk = pce_risk(female=female, black=black, **EXAMPLE)
    assert risk is not None
    # The guideline rounds to one decimal; the white-male value computes to 5.37 %.
    assert 100 * risk == pytest.approx(published_pct, abs=0.1)


def test_it_is_undefined_outside_ages_40_to_79() -> None:
    assert pce_risk(female=True, black=False, **{**EXAMPLE, "age": 39}) is None
    assert pce_risk(female=True, black=False, **{**EXAMPLE, "age": 80}) is None


def test_smoking_diabetes_and_treated_bp_raise_risk() -> None:
    base = pce_risk(female=False, black=False, **EXAMPLE)
    assert base is not None
    for change in ({"smoker": True}, {"diabetes": True}, {"bp_treated": True, "sbp": 150}):
        risk = pce_risk(female=False, black=False, **{**EXAMPLE, **change})
        assert risk is not None and risk > base


@given(
    age=st.floats(40, 79),
    tc=st.floats(130, 320),
    hdl=st.floats(20, 100),
    sbp=st.floats(90, 200),
    female=st.booleans(),
    black=st.booleans(),
)
def test_risk_is_a_probability(
    age: float, tc: float, hdl: float, sbp: float, female: bool, black: bool
) -> None:
    risk = pce_risk(age=age, female=female, black=black, total_chol=tc, hdl=hdl, sbp=sbp,
                    bp_treated=False, smoker=False, diabetes=False)  # fmt: skip
    assert risk is not None and 0.0 <= risk <= 1.0
