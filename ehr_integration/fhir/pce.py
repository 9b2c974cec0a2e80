"""Pooled cohort equations: 10-year risk of a first hard ASCVD event (Goff et al. 2013).

Source: Goff DC Jr et al. 2013 ACC/AHA Guideline on the Assessment of Cardiovascular Risk,
Circulation 2014;129(suppl 2):S49-S73, Table A (coefficients, baseline survival, mean
sum). Golden values: the guideline's worked example (age 55, total cholesterol 213 mg/dL,
HDL 50 mg/dL, untreated SBP 120 mmHg, non-smoker, no diabetes) gives 2.1 % (white woman),
3.0 % (African-American woman), 5.3 % (white man), 6.1 % (African-American man); see
tests/ehr_integration/test_pce.py. Pure Python, no Django.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

AGE_MIN = 40
AGE_MAX = 79


@dataclass(frozen=True)
class _Equation:
    ln_age: float
    ln_age_sq: float
    ln_tc: float
    ln_age_ln_tc: float
    ln_hdl: float
    ln_age_ln_hdl: float
    ln_treated_sbp: float
    ln_age_ln_treated_sbp: float
    ln_untreated_sbp: float
    ln_age_ln_untreated_sbp: float
    smoker: float
    ln_age_smoker: float
    diabetes: float
    baseline_survival: float
    mean_sum: float


# Goff 2013, Table A. Keys: (sex, "black" | "white"); other races use the white equation
# as the guideline advises.
EQUATIONS: dict[tuple[str, str], _Equation] = {
    ("female", "white"): _Equation(-29.799, 4.884, 13.540, -3.114, -13.578, 3.149,
                                   2.019, 0.0, 1.957, 0.0, 7.574, -1.665, 0.661,
                                   0.9665, -29.18),
    ("female", "black"): _Equation(17.114, 0.0, 0.940, 0.0, -18.920, 4.475,
                                   29.291, -6.432, 27.820, -6.087, 0.691, 0.0, 0.874,
                                   0.9533, 86.61),
    ("male", "white"): _Equation(12.344, 0.0, 11.853, -2.664, -7.990, 1.769,
                                 1.797, 0.0, 1.764, 0.0, 7.837, -1.795, 0.658,
                                 0.9144, 61.18),
    ("male", "black"): _Equation(2.469, 0.0, 0.302, 0.0, -0.307, 0.0,
                                 1.916, 0.0, 1.809, 0.0, 0.549, 0.0, 0.645,
                                 0.8954, 19.54),
}  # fmt: skip


def pce_risk(
    *,
    age: float,
    female: bool,
    black: bool,
    total_chol: float,
    hdl: float,
    sbp: float,
    bp_treated: bool,
    smoker: bool,
    diabetes: bool,
) -> float | None:
    """10-year hard ASCVD risk as a fraction (0..1); None outside ages 40-79.

    Args:
        age: years. total_chol, hdl: mg/dL. sbp: mmHg.
        bp_treated: on antihypertensive drugs (selects the treated-SBP coefficient).
    """
    if not AGE_MIN <= age <= AGE_MAX or min(total_chol, hdl, sbp) <= 0:
        return None
    eq = EQUATIONS[("female" if female else "male", "black" if black else "white")]
    la, ltc, lhdl, lsbp = math.log(age), math.log(total_chol), math.log(hdl), math.log(sbp)
    s = (
        eq.ln_age * la
        + eq.ln_age_sq * la * la
        + eq.ln_tc * ltc
        + eq.ln_age_ln_tc * la * ltc
        + eq.ln_hdl * lhdl
        + eq.ln_age_ln_hdl * la * lhdl
        + eq.smoker * smoker
        + eq.ln_age_smoker * la * smoker
        + eq.diabetes * diabetes
    )
    if bp_treated:
        s += eq.ln_treated_sbp * lsbp + eq.ln_age_ln_treated_sbp * la * lsbp
    else:
        s += eq.ln_untreated_sbp * lsbp + eq.ln_age_ln_untreated_sbp * la * lsbp
    return 1.0 - eq.baseline_survival ** math.exp(s - eq.mean_sum)
