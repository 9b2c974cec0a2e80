"""The shared vocabulary between FHIR reading, the guideline engine and the models.

Why one module: the guideline services (cds/), the cohort builder and models (privacy/) and
the audit log all name the same features and drug classes. Training on one spelling and
serving on another would silently feed a model zeros, so every name lives here once.
Pure Python, no Django.
"""

from __future__ import annotations

# Drug classes, as the guideline rules, the models and the cards name them.
DRUG_CLASSES: tuple[str, ...] = (
    # glucose-lowering
    "metformin",
    "sglt2i",
    "glp1ra",
    "dpp4i",
    "sulfonylurea",
    "tzd",
    "insulin",
    # antihypertensive
    "acei",
    "arb",
    "ccb_dhp",
    "ccb_nondhp",
    "thiazide",
    "beta_blocker",
    "mra",
    "renin_inhibitor",
    "loop_diuretic",
    # lipid-lowering
    "statin",
    "ezetimibe",
    "pcsk9i",
)

# Features derived from a patient record at an index date (ehr_integration.fhir computes
# them; privacy.ml trains on them in this order). None means "not known": never guessed.
# Units are fixed here so every producer agrees.
FEATURE_NAMES: tuple[str, ...] = (
    "age_years",
    "sex_female",  # 1.0 female, 0.0 male
    "race_black",  # US Core race extension, 1.0 / 0.0
    "ethnicity_hispanic",
    "bmi",  # kg/m2
    "smoker_current",
    "hba1c_pct",  # % (NGSP)
    "hba1c_age_days",
    "glucose_mg_dl",
    "egfr",  # mL/min/1.73m2
    "egfr_age_days",
    "egfr_slope_per_year",  # mL/min/1.73m2 per year over the last 3 years
    "creatinine_mg_dl",
    "uacr_mg_g",
    "sbp_mean",  # mean of the last (up to) 3 readings, mmHg
    "dbp_mean",
    "ldl_mg_dl",
    "hdl_mg_dl",
    "total_chol_mg_dl",
    "lvef_pct",
    "diabetes",
    "prediabetes",
    "hypertension",
    "ckd",
    "ckd_stage",  # 1-5 from eGFR, None when unknown
    "albuminuria",  # UACR >= 30 mg/g
    "ascvd",  # established clinical ASCVD
    "heart_failure",
    "hfref",  # LVEF <= 40 %
    "retinopathy",
    "neuropathy",
    "pregnant",
    "ascvd_risk_10y",  # pooled cohort equations, fraction 0..1
    "on_metformin",
    "on_sglt2i",
    "on_glp1ra",
    "on_dpp4i",
    "on_sulfonylurea",
    "on_tzd",
    "on_insulin",
    "on_acei",
    "on_arb",
    "on_ccb_dhp",
    "on_ccb_nondhp",
    "on_thiazide",
    "on_beta_blocker",
    "on_mra",
    "on_statin",
    "n_glucose_lowering",
    "n_antihypertensive",
)

# Recommendation tasks: which drug classes a model ranks for each.
TASK_CANDIDATES: dict[str, tuple[str, ...]] = {
    "t2d_drug": ("metformin", "sglt2i", "glp1ra", "dpp4i", "sulfonylurea", "tzd", "insulin"),
    "htn_drug": ("acei", "arb", "ccb_dhp", "thiazide", "beta_blocker"),
}

# Complication risk models: onset within RISK_HORIZON_YEARS of the index date.
RISKS: tuple[str, ...] = (
    "ckd_progression",
    "retinopathy",
    "neuropathy",
    "heart_failure",
    "mi",
    "stroke",
)
RISK_HORIZON_YEARS = 3

# The drug classes that have an `on_<class>` feature, in FEATURE_NAMES order.
ON_CLASSES: tuple[str, ...] = tuple(n[3:] for n in FEATURE_NAMES if n.startswith("on_"))
