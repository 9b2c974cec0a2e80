from __future__ import annotations

import numpy as np

from ehr_integration.fhir.contract import FEATURE_NAMES, TASK_CANDIDATES
from privacy.synth.generator import (
    ckd_epi_2021_creatinine,
    cohort_generate,
    cohort_summary,
)


def test_it_is_deterministic_by_seed() -> None:
    a, b = cohort_generate(n=2000, seed=7), cohort_generate(n=2000, seed=7)
    c = cohort_generate(n=2000, seed=8)
    assert np.array_equal(a.features, b.features, equal_nan=True)
    assert np.array_equal(a.chosen["t2d_drug"], b.chosen["t2d_drug"])
    assert not np.array_equal(a.features, c.features, equal_nan=True)


def test_features_follow_the_contract_and_plausible_ranges() -> None:
    c = cohort_generate(n=5000, seed=1)
    assert c.features.shape == (5000, len(FEATURE_NAMES))
    assert 30 <= np.nanmin(c.feature("age_years")) and np.nanmax(c.feature("age_years")) <= 91
    s = cohort_summary(c)
    assert 0.2 < s["prev_diabetes"] < 0.45 and 0.4 < s["prev_hypertension"] < 0.7
    # Diabetic patients carry diabetic A1c values, non-diabetic ones do not.
    d = c.feature("diabetes") == 1
    assert c.feature("hba1c_pct")[d].min() >= 6.5 and c.feature("hba1c_pct")[~d].max() < 6.5


def test_the_tertiary_site_follows_the_best_option_more_often_than_primary_care() -> None:
    c = cohort_generate(n=20000, seed=3)
    for task in TASK_CANDIDATES:
        m = c.chosen[task] >= 0
        concord = [
            (c.chosen[task][m & (c.site == s)] == c.best[task][m & (c.site == s)]).mean()
            for s in range(4)
        ]
        assert concord[0] > max(concord[1:])
        # Nobody is ever given an excluded option (already taken, contraindicated).
        u = c.utility[task][m]
        assert np.isfinite(u[np.arange(m.sum()), c.chosen[task][m]]).all()


def test_pregnant_patients_never_get_ace_inhibitors_or_arbs() -> None:
    c = cohort_generate(n=40000, seed=5)
    preg = c.feature("pregnant") == 1
    assert preg.any()
    htn = c.chosen["htn_drug"][preg]
    for cls in ("acei", "arb"):
        assert not (htn == TASK_CANDIDATES["htn_drug"].index(cls)).any()


def test_creatinine_inverts_ckd_epi_2021() -> None:
    egfr = np.array([15.0, 45.0, 90.0, 120.0])
    age, fem = np.array([70.0, 60.0, 40.0, 30.0]), np.array([1.0, 0.0, 1.0, 0.0])
    scr = ckd_epi_2021_creatinine(egfr=egfr, age=age, female=fem)
    kappa = np.where(fem == 1, 0.7, 0.9)
    alpha = np.where(fem == 1, -0.241, -0.302)
    back = (
        142
        * np.minimum(scr / kappa, 1) ** alpha
        * np.maximum(scr / kappa, 1) ** -1.2
        * 0.9938**age
        * np.where(fem == 1, 1.012, 1.0)
    )
    assert np.allclose(back, egfr, rtol=1e-9)
