"""Vectorized multi-site cohort generator: covariates, decisions, outcomes, complications.

Why vectorized numpy and not one Python object per patient: the targets are judged on
>= 100k patients and the generator must run in seconds, so every quantity is an array over
patients. The FHIR writer (`privacy.synth.fhir_write`) turns the same arrays into bundles,
so the training path can read arrays directly at scale while a sample goes through FHIR and
the reader to prove that both paths give the same features.

Ground truth that real data never has is kept beside the observed data: every candidate's
expected utility, the true best class and the counterfactual complication probabilities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ehr_integration.fhir.contract import (
    FEATURE_NAMES,
    ON_CLASSES,
    RISK_HORIZON_YEARS,
    RISKS,
    TASK_CANDIDATES,
)
from ehr_integration.fhir.pce import AGE_MAX as PCE_AGE_MAX
from ehr_integration.fhir.pce import AGE_MIN as PCE_AGE_MIN
from ehr_integration.fhir.pce import pce_risk
from privacy.synth import params as P

EPOCH = np.datetime64("2000-01-01")
INDEX_FIRST_DAY = int((np.datetime64("2016-01-01") - EPOCH).astype(int))
INDEX_LAST_DAY = int((np.datetime64("2021-12-31") - EPOCH).astype(int))
EGFR_PRIOR_DAYS = 730
GLUCOSE_CLASSES = TASK_CANDIDATES["t2d_drug"]
HTN_CLASSES = TASK_CANDIDATES["htn_drug"]
# Background antihypertensives a patient may already take (contract's on_* flags).
HTN_BACKGROUND = ("acei", "arb", "ccb_dhp", "thiazide", "beta_blocker")


@dataclass
class Cohort:
    """Arrays over patients. Features use NaN for "not known" (the contract's None)."""

    seed: int
    site: np.ndarray  # int index into params.SITES
    birth_day: np.ndarray  # days since 2000-01-01
    index_day: np.ndarray
    features: np.ndarray  # (n, len(FEATURE_NAMES)) float64, NaN = unknown
    # Per task: chosen / best class index (-1 when the patient has no decision for it),
    # utilities (n, K) with -inf for excluded options, outcome at follow-up.
    chosen: dict[str, np.ndarray] = field(default_factory=dict)
    best: dict[str, np.ndarray] = field(default_factory=dict)
    utility: dict[str, np.ndarray] = field(default_factory=dict)
    outcome: dict[str, np.ndarray] = field(default_factory=dict)
    # Complications: onset within the horizon (n, len(RISKS)) bool, onset day (or -1),
    # and "at risk" (no prevalent disease at index) mask.
    risk_onset: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool))
    risk_onset_day: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), int))
    risk_at_risk: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool))
    # Auxiliary history the FHIR writer needs (values observed before the index date).
    aux: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.site.shape[0])

    def feature(self, name: str) -> np.ndarray:
        return self.features[:, FEATURE_NAMES.index(name)]


def _age_years(birth_day: np.ndarray, index_day: np.ndarray) -> np.ndarray:
    """Age in years as the FHIR reader computes it (days / 365.25), so both paths agree."""
    return (index_day - birth_day) / 365.25


def pooled_cohort_risk(
    *,
    age: np.ndarray,
    female: np.ndarray,
    black: np.ndarray,
    total_chol: np.ndarray,
    hdl: np.ndarray,
    sbp: np.ndarray,
    treated_bp: np.ndarray,
    smoker: np.ndarray,
    diabetes: np.ndarray,
    ascvd: np.ndarray,
) -> np.ndarray:
    """10-year ASCVD risk through the reader's own pooled cohort equations (one
    implementation, so generated arrays and FHIR-derived features cannot disagree); NaN
    where the reader gives None (ages outside 40-79, established ASCVD)."""
    out = np.full(age.shape, np.nan)
    for i in range(age.shape[0]):
        if ascvd[i] == 1 or not PCE_AGE_MIN <= age[i] <= PCE_AGE_MAX:
            continue
        r = pce_risk(
            age=float(age[i]),
            female=bool(female[i] == 1),
            black=bool(black[i] == 1),
            total_chol=float(total_chol[i]),
            hdl=float(hdl[i]),
            sbp=float(sbp[i]),
            bp_treated=bool(treated_bp[i] == 1),
            smoker=bool(smoker[i] == 1),
            diabetes=bool(diabetes[i] == 1),
        )
        out[i] = np.nan if r is None else r
    return out


def ckd_epi_2021_creatinine(*, egfr: np.ndarray, age: np.ndarray, female: np.ndarray) -> np.ndarray:
    """Serum creatinine (mg/dL) that gives `egfr` under CKD-EPI 2021 (Inker LA, NEJM 2021)."""
    kappa = np.where(female == 1, 0.7, 0.9)
    alpha = np.where(female == 1, -0.241, -0.302)
    base = 142.0 * 0.9938**age * np.where(female == 1, 1.012, 1.0)
    ratio = egfr / base
    high = kappa * ratio ** (-1.0 / 1.200)  # branch Scr > kappa
    low = kappa * ratio ** (1.0 / alpha)  # branch Scr <= kappa
    return np.where(high > kappa, high, low)


def ckd_stage_from_egfr(egfr: np.ndarray) -> np.ndarray:
    """KDIGO G stages 1-5 (G3a and G3b both count as 3); NaN stays NaN."""
    stage = np.select(
        [egfr >= 90, egfr >= 60, egfr >= 30, egfr >= 15, egfr < 15], [1, 2, 3, 4, 5], np.nan
    )
    return np.where(np.isnan(egfr), np.nan, stage)


def _risk_probability(
    f: dict[str, np.ndarray], drug_hr: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Probability of onset within the horizon for each complication (proportional hazards)."""
    terms = {
        "hba1c": f["hba1c_pct"] - 7.0,
        "sbp10": (f["sbp_mean"] - 130.0) / 10.0,
        "age10": (f["age_years"] - 60.0) / 10.0,
        "bmi5": (f["bmi"] - 30.0) / 5.0,
        "ldl30": (f["ldl_mg_dl"] - 110.0) / 30.0,
        "albuminuria": np.nan_to_num(f["albuminuria"]),
        "low_egfr": (f["egfr"] < 60).astype(float),
        "smoker": f["smoker_current"],
        "ascvd": f["ascvd"],
        "ckd": f["ckd"],
        "diabetes_neg": 1.0 - f["diabetes"],
    }
    out = {}
    for r in RISKS:
        lin = sum(w * terms[k] for k, w in P.RISK_LOG_HR[r].items())
        rate = P.RISK_BASE_ANNUAL[r] * np.exp(lin) * drug_hr.get(r, 1.0)
        out[r] = 1.0 - np.exp(-rate * RISK_HORIZON_YEARS)
    return out


def _drug_hr(task_classes: tuple[str, ...], idx: np.ndarray) -> dict[str, np.ndarray]:
    """Hazard ratios per complication for the class each patient takes (idx -1: none)."""
    out: dict[str, np.ndarray] = {}
    for r in RISKS:
        table = np.array([P.DRUG_RISK_HR.get(c, {}).get(r, 1.0) for c in task_classes] + [1.0])
        out[r] = table[np.where(idx < 0, len(task_classes), idx)]
    return out


def _gumbel(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return -np.log(-np.log(rng.uniform(1e-12, 1.0, size=shape)))


def cohort_generate(*, n: int, seed: int) -> Cohort:
    """Generate `n` patients deterministically from `seed`.

    Args:
        n: number of patients (each gets one index date: a therapy decision when diabetic
            and/or hypertensive, else a routine visit for risk).
        seed: the only source of randomness (numpy PCG64).
    """
    if n <= 0:
        raise ValueError("n must be positive")
    rng = np.random.default_rng(seed)
    shares = np.array([s.share for s in P.SITES])
    site = rng.choice(len(P.SITES), size=n, p=shares / shares.sum())
    lab_missing = np.array([s.lab_missing for s in P.SITES])[site]

    age_target = np.clip(rng.normal(P.AGE_MEAN, P.AGE_SD, n), P.AGE_MIN, P.AGE_MAX)
    index_day = rng.integers(INDEX_FIRST_DAY, INDEX_LAST_DAY + 1, n)
    birth_day = index_day - np.round(age_target * 365.25).astype(np.int64) - rng.integers(0, 365, n)
    age = _age_years(birth_day, index_day)
    female = (rng.uniform(size=n) < P.FEMALE).astype(float)
    black = (rng.uniform(size=n) < P.RACE_BLACK).astype(float)
    hispanic = (rng.uniform(size=n) < P.HISPANIC).astype(float)
    smoker = (rng.uniform(size=n) < P.SMOKER_CURRENT).astype(float)
    bmi0 = rng.normal(P.BMI_MEAN, P.BMI_SD, n)

    def logistic(x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-x))

    t0, ta, tb = P.T2D_LOGIT
    diabetes = (rng.uniform(size=n) < logistic(t0 + ta * (age - 60) + tb * (bmi0 - 30))).astype(
        float
    )
    bmi = np.round(np.clip(bmi0 + P.BMI_T2D_SHIFT * diabetes, 17.0, 60.0), 1)
    h0, ha, hb, h_black = P.HTN_LOGIT
    htn = (
        rng.uniform(size=n) < logistic(h0 + ha * (age - 60) + hb * (bmi - 30) + h_black * black)
    ).astype(float)

    hba1c = np.where(
        diabetes == 1,
        np.clip(rng.normal(P.HBA1C_T2D_MEAN, P.HBA1C_T2D_SD, n), 6.5, 14.0),
        np.clip(rng.normal(P.HBA1C_OTHER_MEAN, P.HBA1C_OTHER_SD, n), 4.2, 6.4),
    )
    hba1c = np.round(hba1c, 1)
    prediabetes = ((diabetes == 0) & (hba1c >= 5.7)).astype(float)
    # eAG from A1c (Nathan DM, Diabetes Care 2008;31:1473) plus day-to-day noise.
    glucose = np.round(np.clip(28.7 * hba1c - 46.7 + rng.normal(0, 15, n), 60, 450), 0)
    egfr_mean = P.EGFR_AT_40 + P.EGFR_PER_YEAR * (age - 40) + P.EGFR_T2D_SHIFT * diabetes
    egfr = np.round(np.clip(egfr_mean + rng.normal(0, P.EGFR_SD, n), 8.0, 130.0), 0)
    # Two eGFR values EGFR_PRIOR_DAYS apart; the slope feature is what a reader computes
    # from exactly those two written values (so the arrays and FHIR paths agree).
    egfr_prior = np.round(egfr - rng.normal(P.EGFR_SLOPE_MEAN, P.EGFR_SLOPE_SD, n) * 2.0, 1)
    egfr_slope = (egfr - egfr_prior) / (EGFR_PRIOR_DAYS / 365.25)
    creat = np.round(ckd_epi_2021_creatinine(egfr=egfr, age=age, female=female), 2)
    uacr = np.round(
        np.exp(
            np.where(diabetes == 1, P.UACR_LOG_MEAN_T2D, P.UACR_LOG_MEAN_OTHER)
            + 0.02 * (90 - egfr).clip(0)
            + rng.normal(0, P.UACR_LOG_SD, n)
        ),
        0,
    )
    uacr_known = rng.uniform(size=n) >= lab_missing * np.where(diabetes == 1, 0.5, 1.0)
    uacr = np.where(uacr_known, uacr, np.nan)
    albuminuria = np.where(uacr_known, (uacr >= 30).astype(float), np.nan)
    ckd = ((egfr < 60) | (albuminuria == 1)).astype(float)
    sbp = np.where(
        htn == 1,
        rng.normal(P.SBP_HTN_MEAN, P.SBP_HTN_SD, n),
        rng.normal(P.SBP_OTHER_MEAN, P.SBP_OTHER_SD, n),
    )
    sbp = np.round(np.clip(sbp, 95, 210), 0)
    dbp = np.round(
        np.clip(P.DBP_INTERCEPT + P.DBP_PER_SBP * sbp + rng.normal(0, P.DBP_SD, n), 50, 125), 0
    )
    ldl = np.round(np.clip(rng.normal(P.LDL_MEAN, P.LDL_SD, n), 30, 300), 0)
    hdl = np.round(np.clip(rng.normal(P.HDL_MEAN - 5 * diabetes, P.HDL_SD, n), 20, 120), 0)
    trig = np.clip(np.exp(rng.normal(np.log(130) + 0.3 * diabetes, 0.45, n)), 40, 1000)
    total_chol = np.round(ldl + hdl + trig / 5.0, 0)

    ascvd = (
        rng.uniform(size=n)
        < np.where(diabetes == 1, P.ASCVD_T2D, P.ASCVD_OTHER)
        * np.clip(1 + 0.03 * (age - 60), 0.3, 2.0)
    ).astype(float)
    hf = (
        rng.uniform(size=n)
        < np.where(diabetes == 1, P.HF_T2D, P.HF_OTHER) * np.clip(1 + 0.04 * (age - 60), 0.2, 2.5)
    ).astype(float)
    hfref_true = (hf == 1) & (rng.uniform(size=n) < P.HFREF_FRACTION)
    lvef_known = (hf == 1) & (rng.uniform(size=n) >= lab_missing * 0.5)
    lvef = np.where(
        hfref_true,
        rng.normal(P.LVEF_HFREF_MEAN, P.LVEF_SD, n),
        rng.normal(P.LVEF_NORMAL_MEAN, P.LVEF_SD, n),
    )
    lvef = np.where(lvef_known, np.round(np.clip(lvef, 10, 75), 0), np.nan)
    # The reader's rule: HF with a known LVEF -> LVEF <= 40; no HF -> 0; HF, LVEF unknown -> None.
    hfref = np.where(lvef_known, (lvef <= 40).astype(float), np.where(hf == 1, np.nan, 0.0))
    retinopathy = ((diabetes == 1) & (rng.uniform(size=n) < P.RETINOPATHY_T2D)).astype(float)
    neuropathy = ((diabetes == 1) & (rng.uniform(size=n) < P.NEUROPATHY_T2D)).astype(float)
    pregnant = (
        (female == 1) & (age < 45) & (rng.uniform(size=n) < P.PREGNANT_FEMALE_UNDER_45)
    ).astype(float)

    # Background therapy before the index date.
    on: dict[str, np.ndarray] = {
        c: np.zeros(n) for c in (*GLUCOSE_CLASSES, *HTN_BACKGROUND, "mra", "ccb_nondhp", "statin")
    }
    on["metformin"] = (
        (diabetes == 1) & (egfr >= 30) & (pregnant == 0) & (rng.uniform(size=n) < 0.5)
    ).astype(float)
    bg = rng.integers(0, len(HTN_BACKGROUND), n)
    has_bg = (htn == 1) & (pregnant == 0) & (rng.uniform(size=n) < 0.35)
    for k, c in enumerate(HTN_BACKGROUND):
        on[c] = (has_bg & (bg == k)).astype(float)
    on["mra"] = ((hfref_true) & (rng.uniform(size=n) < 0.3)).astype(float)
    on["statin"] = (
        ((ascvd == 1) | (diabetes == 1) & (age >= 40)) & (rng.uniform(size=n) < 0.6)
    ).astype(float)
    n_glu = np.sum([on[c] for c in GLUCOSE_CLASSES], axis=0)
    n_htn = np.sum([on[c] for c in (*HTN_BACKGROUND, "mra", "ccb_nondhp")], axis=0)
    treated_bp = (n_htn > 0).astype(float)
    ascvd_risk = pooled_cohort_risk(
        age=age,
        female=female,
        black=black,
        total_chol=total_chol,
        hdl=hdl,
        sbp=sbp,
        treated_bp=treated_bp,
        smoker=smoker,
        diabetes=diabetes,
        ascvd=ascvd,
    )

    f: dict[str, np.ndarray] = {
        "age_years": age,
        "sex_female": female,
        "race_black": black,
        "ethnicity_hispanic": hispanic,
        "bmi": bmi,
        "smoker_current": smoker,
        "hba1c_pct": hba1c,
        "hba1c_age_days": rng.integers(7, 120, n).astype(float),
        "glucose_mg_dl": glucose,
        "egfr": egfr,
        "egfr_age_days": rng.integers(7, 180, n).astype(float),
        "egfr_slope_per_year": egfr_slope,
        "creatinine_mg_dl": creat,
        "uacr_mg_g": uacr,
        "sbp_mean": sbp,
        "dbp_mean": dbp,
        "ldl_mg_dl": ldl,
        "hdl_mg_dl": hdl,
        "total_chol_mg_dl": total_chol,
        "lvef_pct": lvef,
        "diabetes": diabetes,
        "prediabetes": prediabetes,
        "hypertension": htn,
        "ckd": ckd,
        "ckd_stage": ckd_stage_from_egfr(egfr),
        "albuminuria": albuminuria,
        "ascvd": ascvd,
        "heart_failure": hf,
        "hfref": hfref,
        "retinopathy": retinopathy,
        "neuropathy": neuropathy,
        "pregnant": pregnant,
        "ascvd_risk_10y": ascvd_risk,
        "n_glucose_lowering": n_glu,
        "n_antihypertensive": n_htn,
    }
    for c in ON_CLASSES:
        f[f"on_{c}"] = on[c]
    missing = set(FEATURE_NAMES) - set(f)
    if missing:
        raise AssertionError(f"generator misses features {sorted(missing)}")
    features = np.stack([f[name].astype(float) for name in FEATURE_NAMES], axis=1)

    cohort = Cohort(
        seed=seed, site=site, birth_day=birth_day, index_day=index_day, features=features
    )
    base_risk = _risk_probability(f, {})
    cheap = np.array([s.cheap_bias for s in P.SITES])[site]
    noise = np.array([s.choice_noise for s in P.SITES])[site]

    # --- t2d decision: who (diabetic), utilities, choice --------------------------------
    K = len(GLUCOSE_CLASSES)
    u = np.zeros((n, K))
    hfref_or_hf = hf
    for k, c in enumerate(GLUCOSE_CLASSES):
        effect = np.full(n, P.A1C_EFFECT[c]) + P.A1C_BASELINE_GAIN * (hba1c - 8.0) * (
            2.0 if c == "insulin" else 1.0
        )
        if c == "sglt2i":
            effect = np.where(egfr < 45, effect * P.SGLT2I_A1C_LOW_EGFR_FACTOR, effect)
        rr = sum(base_risk[r] * (1.0 - hr) for r, hr in P.DRUG_RISK_HR.get(c, {}).items())
        util = effect + P.UTILITY_RISK_WEIGHT * rr
        util -= P.HYPO_HARM.get(c, 0.0) * (1 + P.HYPO_AGE_FACTOR * np.clip(age - 65, 0, None))
        util -= P.WEIGHT_HARM_PER_BMI.get(c, 0.0) * np.clip(bmi - 30, 0, None)
        util += P.WEIGHT_BENEFIT_PER_BMI.get(c, 0.0) * np.clip(bmi - 30, 0, None)
        util -= P.COST_PENALTY.get(c, 0.0)
        t2d_cond = {"heart_failure": hf, "ckd": ckd, "ascvd": ascvd}
        for (cc, cname), bonus in P.T2D_CONDITION_BONUS.items():
            if cc == c:
                util = util + bonus * t2d_cond[cname]
        excluded = on[c] == 1
        if c == "metformin":
            excluded |= egfr < 30
        if c == "sglt2i":
            excluded |= egfr < 20
        if c == "tzd":
            excluded |= hfref_or_hf == 1
        if c != "insulin":
            excluded |= pregnant == 1
        u[:, k] = np.where(excluded, -np.inf, util)
    _decide(
        cohort,
        "t2d_drug",
        diabetes == 1,
        u,
        cheap,
        noise,
        rng,
        cheap_classes=("metformin", "sulfonylurea"),
    )
    t2d_chosen = cohort.chosen["t2d_drug"]
    effect_chosen = np.zeros(n)
    for k, c in enumerate(GLUCOSE_CLASSES):
        e = P.A1C_EFFECT[c] + P.A1C_BASELINE_GAIN * (hba1c - 8.0) * (2.0 if c == "insulin" else 1.0)
        if c == "sglt2i":
            e = np.where(egfr < 45, e * P.SGLT2I_A1C_LOW_EGFR_FACTOR, e)
        effect_chosen = np.where(t2d_chosen == k, e, effect_chosen)
    cohort.outcome["t2d_drug"] = np.where(
        t2d_chosen >= 0,
        np.round(
            np.clip(hba1c - effect_chosen + rng.normal(0, P.OUTCOME_NOISE_A1C, n), 4.5, 15.0), 1
        ),
        np.nan,
    )

    # --- htn decision ---------------------------------------------------------------------
    K = len(HTN_CLASSES)
    u = np.zeros((n, K))
    cond = {
        "ascvd": ascvd,
        "hfref": np.nan_to_num(hfref),
        "albuminuria": np.nan_to_num(albuminuria),
        "diabetes": diabetes,
    }
    for k, c in enumerate(HTN_CLASSES):
        eff = np.full(n, P.SBP_EFFECT[c]) - P.SBP_BLACK_PENALTY.get(c, 0.0) * black
        # AB/CD rule (Dickerson JE, Lancet 1999;353:2008): younger respond to A/B, older to C/D.
        ab = c in ("acei", "arb", "beta_blocker")
        eff += P.AB_CD_MMHG_PER_YEAR * np.clip(55 - age, -30, 30) * (1 if ab else -1)
        if c == "thiazide":
            eff = np.where(egfr < 30, eff - 5.0, eff)  # thiazides weak at eGFR < 30 (KDIGO)
        rr = sum(base_risk[r] * (1.0 - hr) for r, hr in P.DRUG_RISK_HR.get(c, {}).items())
        util = P.SBP_UTILITY_PER_MMHG * eff + P.UTILITY_RISK_WEIGHT * rr
        for (cc, cname), bonus in P.HTN_CONDITION_BONUS.items():
            if cc == c:
                util = util + bonus * cond[cname]
        if c == "arb":
            util = util + P.ARB_OVER_ACEI_COUGH
        if c == "thiazide":
            util = util - P.THIAZIDE_DIABETES_PENALTY * diabetes
        excluded = on[c] == 1
        if c in ("acei", "arb"):
            excluded |= pregnant == 1
            other = "arb" if c == "acei" else "acei"
            excluded |= on[other] == 1  # never ACEi + ARB (ONTARGET, NEJM 2008;358:1547)
        u[:, k] = np.where(excluded, -np.inf, util)
    _decide(
        cohort, "htn_drug", htn == 1, u, cheap * 0.5, noise * 0.5, rng, cheap_classes=("thiazide",)
    )
    htn_chosen = cohort.chosen["htn_drug"]
    sbp_effect = np.zeros(n)
    for k, c in enumerate(HTN_CLASSES):
        e = P.SBP_EFFECT[c] - P.SBP_BLACK_PENALTY.get(c, 0.0) * black
        sbp_effect = np.where(htn_chosen == k, e, sbp_effect)
    cohort.outcome["htn_drug"] = np.where(
        htn_chosen >= 0,
        np.round(np.clip(sbp - sbp_effect + rng.normal(0, P.OUTCOME_NOISE_SBP, n), 90, 220), 0),
        np.nan,
    )

    # --- complications under the therapy actually chosen -----------------------------------
    hr_t2d = _drug_hr(GLUCOSE_CLASSES, t2d_chosen)
    hr_htn = _drug_hr(HTN_CLASSES, htn_chosen)
    hr = {r: hr_t2d[r] * hr_htn[r] for r in RISKS}
    prob = _risk_probability(f, hr)
    prevalent = {
        "ckd_progression": egfr < 15,
        "retinopathy": retinopathy == 1,
        "neuropathy": neuropathy == 1,
        "heart_failure": hf == 1,
        "mi": np.zeros(n, bool),
        "stroke": np.zeros(n, bool),
    }
    R = len(RISKS)
    onset = np.zeros((n, R), bool)
    onset_day = np.full((n, R), -1, np.int64)
    at_risk = np.zeros((n, R), bool)
    horizon_days = int(RISK_HORIZON_YEARS * 365)
    for j, r in enumerate(RISKS):
        at_risk[:, j] = ~prevalent[r]
        hit = (rng.uniform(size=n) < prob[r]) & at_risk[:, j]
        onset[:, j] = hit
        onset_day[:, j] = np.where(hit, index_day + rng.integers(30, horizon_days, n), -1)
    cohort.risk_onset, cohort.risk_onset_day, cohort.risk_at_risk = onset, onset_day, at_risk
    cohort.aux = {
        "egfr_prior": egfr_prior,  # eGFR EGFR_PRIOR_DAYS before the latest one
        "smoker": smoker,
        "trig": trig,
        "risk_probability": np.stack([prob[r] for r in RISKS], axis=1),
    }
    return cohort


def _decide(
    cohort: Cohort,
    task: str,
    eligible: np.ndarray,
    utility: np.ndarray,
    cheap: np.ndarray,
    noise: np.ndarray,
    rng: np.random.Generator,
    *,
    cheap_classes: tuple[str, ...],
) -> None:
    """Record the true best class and the clinician's (site-dependent, noisy) choice."""
    classes = TASK_CANDIDATES[task]
    n, K = utility.shape
    feasible = np.isfinite(utility).any(axis=1)
    eligible = eligible & feasible
    best = np.where(eligible, np.argmax(np.where(np.isfinite(utility), utility, -1e9), axis=1), -1)
    bias = np.zeros((n, K))
    for c in cheap_classes:
        bias[:, classes.index(c)] = cheap
    perceived = utility + bias + noise[:, None] * _gumbel(rng, (n, K))
    chosen = np.where(
        eligible, np.argmax(np.where(np.isfinite(perceived), perceived, -1e9), axis=1), -1
    )
    cohort.best[task] = best
    cohort.chosen[task] = chosen
    cohort.utility[task] = np.where(eligible[:, None], utility, -np.inf)


def cohort_summary(cohort: Cohort) -> dict[str, float]:
    """Headline rates, for docs and sanity tests (prevalences, choice concordance)."""
    out: dict[str, float] = {"n": float(cohort.n)}
    for name in ("diabetes", "hypertension", "ascvd", "heart_failure", "ckd", "race_black"):
        out[f"prev_{name}"] = float(np.nanmean(cohort.feature(name)))
    for task in TASK_CANDIDATES:
        m = cohort.chosen[task] >= 0
        out[f"{task}_n"] = float(m.sum())
        out[f"{task}_chosen_is_best"] = (
            float((cohort.chosen[task][m] == cohort.best[task][m]).mean()) if m.any() else math.nan
        )
    for j, r in enumerate(RISKS):
        m = cohort.risk_at_risk[:, j]
        out[f"risk_{r}_rate"] = float(cohort.risk_onset[m, j].mean()) if m.any() else math.nan
    return out
