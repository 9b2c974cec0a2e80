"""Every number the generator uses, with where it comes from.

Why a module of its own: a reviewer must be able to check each parameter against its source
without reading the sampling code. "approx." marks a value we rounded, combined from several
sources, or chose so that a simulated clinic population (enriched for cardiometabolic
disease, unlike the general population) stays plausible; these are not fitted to any data.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- Sites --------------------------------------------------------------------------------
# One tertiary guideline-following centre and primary-care sites with noisier practice.
# Concordance of primary care with diabetes guidelines is ~50-80 % in audits (Ali MK et al.
# NEJM 2013;368:1613, only ~52 % met A1c/BP/LDL goals; Arnold SV et al. Diabetes Obes Metab
# 2018;20:1901, SGLT2i/GLP-1RA use in ASCVD <25 %). approx.: the choice noise scales below.


@dataclass(frozen=True)
class Site:
    name: str
    share: float  # fraction of the cohort's patients
    tertiary: bool
    choice_noise: float  # Gumbel scale on the utility the clinician maximizes (0 = perfect)
    cheap_bias: float  # utility bonus for metformin/sulfonylurea/thiazide (cost, familiarity)
    lab_missing: float  # probability that an optional lab (UACR, LVEF) was never measured


SITES: tuple[Site, ...] = (
    Site("tertiary-academic", 0.25, True, 0.02, 0.00, 0.05),
    Site("primary-north", 0.25, False, 0.05, 0.03, 0.30),
    Site("primary-south", 0.25, False, 0.06, 0.04, 0.40),
    Site("primary-rural", 0.25, False, 0.07, 0.05, 0.50),
)

# --- Demographics (adults seen in cardiometabolic care) -----------------------------------
AGE_MEAN, AGE_SD, AGE_MIN, AGE_MAX = (
    60.0,
    12.0,
    30.0,
    90.0,
)  # CDC NDSR 2022: T2D peaks 45-74; approx.
FEMALE = 0.50  # CDC NDSR 2022 (diagnosed diabetes ~ equal by sex)
RACE_BLACK = 0.13  # US Census 2020: 12.4 % Black alone; approx.
HISPANIC = 0.18  # US Census 2020: 18.7 %
SMOKER_CURRENT = 0.12  # CDC MMWR 2022;71:397 (11.5 % of US adults, 2021)
# BMI: NHANES 2017-2020 adults mean 29.8, SD ~7; T2D +3 kg/m2 (Bays HE, Int J Clin Pract 2007).
BMI_MEAN, BMI_SD, BMI_T2D_SHIFT = 29.8, 6.0, 3.0

# --- Disease prevalence in the simulated clinic population (enriched; approx.) ------------
# General US: diabetes 11.3 %, hypertension 47 % (CDC NDSR 2022; Muntner P, Hypertension 2018).
# A cardiometabolic clinic population is enriched; the logit models below give ~40 % T2D
# and ~55 % hypertension overall, rising with age and BMI as in NHANES.
T2D_LOGIT = (-1.0, 0.035, 0.08)  # intercept, per year over 60, per kg/m2 over 30 (approx.)
HTN_LOGIT = (0.25, 0.06, 0.05, 0.5)  # intercept, per year over 60, per BMI over 30, Black (approx.)
# Black adults: higher HTN prevalence (Muntner 2018: 54 % vs 46 %): log-odds +0.5 approx.

# ASCVD among T2D: 32 % (Einarson TR, Cardiovasc Diabetol 2018;17:83); non-diabetic ~12 % approx.
ASCVD_T2D, ASCVD_OTHER = 0.32, 0.12
# HF among T2D: ~15 % (Kenny HC, Circ Res 2019 review: 9-22 %); half HFrEF (approx.).
HF_T2D, HF_OTHER, HFREF_FRACTION = 0.15, 0.05, 0.5
# Retinopathy 28.5 % of US diabetics >= 40 (Zhang X, JAMA 2010;304:649).
RETINOPATHY_T2D = 0.285
# Neuropathy ~ 30 % of T2D (Pop-Busui R, Diabetes Care 2017;40:136, ADA position statement).
NEUROPATHY_T2D = 0.30
# Albuminuria (UACR >= 30) ~ 25-40 % of T2D (Afkarian M, JAMA 2016;316:602: 15.9 % of all
# with diabetes in NHANES had albuminuria in 2011-14, higher in clinic cohorts); approx. lognormal.
UACR_LOG_MEAN_T2D, UACR_LOG_MEAN_OTHER, UACR_LOG_SD = 2.9, 2.3, 1.2  # ln(mg/g); approx.
PREGNANT_FEMALE_UNDER_45 = 0.03  # approx.

# --- Labs ---------------------------------------------------------------------------------
# HbA1c at a glucose-lowering therapy change ~ 8.2 % (SD 1.3) (Khunti K, Diabetes Care
# 2013;36:3411: treatment intensification at mean A1c 8.1-8.7 %).
HBA1C_T2D_MEAN, HBA1C_T2D_SD = 8.2, 1.3
HBA1C_OTHER_MEAN, HBA1C_OTHER_SD = 5.5, 0.35  # NHANES non-diabetic adults
# eGFR falls ~ 0.8-1 mL/min/1.73m2 per year of age (Glassock RJ, Annu Rev Med 2012).
EGFR_AT_40, EGFR_PER_YEAR, EGFR_SD = 100.0, -0.9, 15.0
EGFR_T2D_SHIFT = -6.0  # approx.
EGFR_SLOPE_MEAN, EGFR_SLOPE_SD = -1.5, 2.0  # mL/min/1.73m2 per year (T2D decline 1-3/yr; approx.)
# SBP: untreated hypertensive adults ~ 145/88 at therapy start (SPRINT baseline 139.7 on
# treatment; approx.); normotensive ~ 122/76.
SBP_HTN_MEAN, SBP_HTN_SD, SBP_OTHER_MEAN, SBP_OTHER_SD = 148.0, 12.0, 122.0, 9.0
DBP_PER_SBP, DBP_INTERCEPT, DBP_SD = 0.45, 22.0, 6.0  # approx. linear DBP~SBP
# Lipids, NHANES 2015-2018 (Carroll MD, NCHS Data Brief 2020): LDL ~ 112 SD 35, HDL 53 SD 15.
LDL_MEAN, LDL_SD, HDL_MEAN, HDL_SD = 112.0, 35.0, 53.0, 15.0
LVEF_NORMAL_MEAN, LVEF_HFREF_MEAN, LVEF_SD = 60.0, 32.0, 5.0  # HFrEF: LVEF <= 40 (ESC/AHA)

# --- Treatment response: HbA1c reduction (percentage points) at ~6 months ----------------
# Monotherapy/add-on placebo-adjusted means:
# metformin 1.1 (Hirst JA, Diabetologia 2012;55:1578); sulfonylurea 1.2 (Hirst JA, Diabetes
# Care 2013;36:3403? approx. 1.0-1.5 per Sherifali D, Diabetes Care 2010;33:1859);
# SGLT2i 0.7 (Zaccardi F, Diabetes Obes Metab 2016;18:783); GLP-1RA 1.0 (Htike ZZ, Diabetes
# Obes Metab 2017;19:524); DPP-4i 0.6 (Esposito K, BMJ Open 2012? approx.); TZD 1.0
# (Phung OJ, JAMA 2010;303:1410: 0.7-1.0); basal insulin 1.5 (approx., titrated to target).
A1C_EFFECT: dict[str, float] = {
    "metformin": 1.1,
    "sulfonylurea": 1.2,
    "sglt2i": 0.7,
    "glp1ra": 1.0,
    "dpp4i": 0.6,
    "tzd": 1.0,
    "insulin": 1.5,
}
# Larger absolute A1c reduction at higher baseline (DeFronzo RA, Diabetes Care 2010? approx.
# +0.2 pp per 1 pp of baseline above 8) and SGLT2i lose glycaemic effect at eGFR < 45
# (Cherney DZ, Kidney Int 2018 review).
A1C_BASELINE_GAIN = 0.2
SGLT2I_A1C_LOW_EGFR_FACTOR = 0.3

# --- Treatment response: SBP reduction (mmHg) at standard dose -------------------------
# Law MR, BMJ 2009;338:b1665: ~9 mmHg per class at standard dose. ALLHAT (JAMA 2002;288:2981)
# and Brewster LM (Ann Intern Med 2004;141:614): in Black patients ACEi/ARB/beta-blockers
# lower SBP ~4-5 mmHg less than thiazides/CCBs. ACC/AHA 2017: ACEi/ARB first in albuminuric
# CKD (RENAAL, Brenner BM NEJM 2001;345:861: ESRD HR 0.72), beta-blocker for post-MI/HFrEF.
SBP_EFFECT: dict[str, float] = {
    "acei": 9.0,
    "arb": 9.0,
    "ccb_dhp": 9.5,
    "thiazide": 9.5,
    "beta_blocker": 8.0,
}
SBP_BLACK_PENALTY = {"acei": 4.5, "arb": 4.0, "beta_blocker": 4.0}

# --- Complication hazards (3-year onset), base annual rates in T2D (approx.) -------------
# UKPDS 80 (Holman RR, NEJM 2008) and ADVANCE (NEJM 2008) event rates: MI ~1 %/yr, stroke
# ~0.7 %/yr, HF hospitalisation ~1 %/yr; retinopathy incidence ~3-4 %/yr (Klein R, WESDR);
# neuropathy ~2-3 %/yr (UKPDS); CKD progression (eGFR decline >= 40 % or stage up) ~3 %/yr.
RISK_BASE_ANNUAL: dict[str, float] = {
    "ckd_progression": 0.030,
    "retinopathy": 0.035,
    "neuropathy": 0.025,
    "heart_failure": 0.012,
    "mi": 0.010,
    "stroke": 0.007,
}
# log hazard ratios: per 1 % HbA1c (UKPDS 35, Stratton IM BMJ 2000;321:405: microvascular
# -37 % per 1 % lower, MI -14 %), per 10 mmHg SBP (UKPDS 36, Adler AI BMJ 2000;321:412:
# microvascular -13 %, MI -11 %, stroke ~-19 % approx.), smoking (MI HR ~2, approx.),
# per 10 years of age (HR ~1.5-1.8 for CV events, approx.), prior disease (approx.).
RISK_LOG_HR: dict[str, dict[str, float]] = {
    "ckd_progression": {
        "hba1c": 0.25,
        "sbp10": 0.20,
        "albuminuria": 1.0,
        "low_egfr": 0.9,
        "age10": 0.1,
    },
    "retinopathy": {"hba1c": 0.40, "sbp10": 0.14, "age10": 0.0, "diabetes_neg": -2.5},
    "neuropathy": {"hba1c": 0.30, "age10": 0.25, "bmi5": 0.15, "diabetes_neg": -2.0},
    "heart_failure": {
        "hba1c": 0.10,
        "sbp10": 0.20,
        "age10": 0.55,
        "ascvd": 0.9,
        "ckd": 0.6,
        "bmi5": 0.2,
    },
    "mi": {"hba1c": 0.13, "sbp10": 0.12, "age10": 0.50, "smoker": 0.7, "ascvd": 1.1, "ldl30": 0.2},
    "stroke": {"hba1c": 0.10, "sbp10": 0.21, "age10": 0.65, "smoker": 0.5, "ascvd": 0.8},
}
# Drug effects on complication hazards (hazard ratios):
# SGLT2i: HF hospitalisation 0.69, kidney composite 0.55 (Zelniker TA, Lancet 2019;393:31);
# GLP-1RA: MI 0.90? stroke 0.83, MACE 0.86 (Sattar N, Lancet Diabetes Endocrinol 2021;9:653);
# TZD: HF 1.42 (Lago RM, Lancet 2007;370:1129); ACEi/ARB in albuminuria: CKD 0.72 (RENAAL).
DRUG_RISK_HR: dict[str, dict[str, float]] = {
    "sglt2i": {"heart_failure": 0.69, "ckd_progression": 0.55},
    "glp1ra": {"mi": 0.90, "stroke": 0.83, "ckd_progression": 0.85},
    "tzd": {"heart_failure": 1.42},
    "acei": {"ckd_progression": 0.75},
    "arb": {"ckd_progression": 0.72},
    "beta_blocker": {"heart_failure": 0.90},
    # ALLHAT (JAMA 2002;288:2981): HF with amlodipine vs chlorthalidone HR 1.38 -> thiazide 0.72
    "thiazide": {"heart_failure": 0.72},
}

# --- Utility the (ideal) clinician maximizes ----------------------------------------------
# Expected benefit in "A1c-equivalent" units: A1c drop + weighted absolute 3-year risk
# reduction + harms. Weights are approx. (value judgements, documented so they can be changed).
UTILITY_RISK_WEIGHT = 3.0  # 1 pp absolute 3y risk reduction ~ 0.03 pp A1c (approx.)
HYPO_HARM = {"sulfonylurea": 0.35, "insulin": 0.45}  # hypoglycaemia (UKPDS 33) approx.
HYPO_AGE_FACTOR = 0.02  # extra harm per year over 65 (ADA older adults section) approx.
WEIGHT_HARM_PER_BMI = {"sulfonylurea": 0.04, "tzd": 0.04, "insulin": 0.05}  # per kg/m2 over 30
WEIGHT_BENEFIT_PER_BMI = {"glp1ra": 0.06, "sglt2i": 0.02}  # approx.
COST_PENALTY = {"glp1ra": 0.25, "sglt2i": 0.15, "dpp4i": 0.10}  # approx.
SBP_UTILITY_PER_MMHG = 0.08  # approx.
HTN_CONDITION_BONUS = {  # ACC/AHA 2017 compelling indications, approx. utilities
    ("beta_blocker", "ascvd"): 0.35,
    ("beta_blocker", "hfref"): 0.45,
    ("acei", "albuminuria"): 0.35,
    ("arb", "albuminuria"): 0.35,
    ("acei", "diabetes"): 0.10,
    ("arb", "diabetes"): 0.10,
}
ARB_OVER_ACEI_COUGH = 0.08  # ACEi cough ~10 % and more discontinuation (approx.)
PREGNANCY_CONTRAINDICATED = (
    "acei",
    "arb",
    "sglt2i",
    "glp1ra",
    "dpp4i",
    "sulfonylurea",
    "tzd",
    "metformin",
)
# pregnancy: insulin is the glucose-lowering drug (ADA 15); ACEi/ARB teratogenic; CCB/beta-
# blocker (labetalol) used. metformin is listed as contraindicated here for simplicity (approx.).

FOLLOWUP_DAYS = 180  # outcome (A1c or SBP) measured ~6 months after the index date
OUTCOME_NOISE_A1C, OUTCOME_NOISE_SBP = 0.35, 6.0  # measurement + adherence noise, approx.
# AB/CD rule: SBP response to ACEi/ARB/beta-blocker vs CCB/thiazide diverges with age
# (Dickerson JE, Lancet 1999;353:2008: crossover differences of ~5-10 mmHg between the young
# and the old). approx.: 0.3 mmHg per year of age away from 55, in opposite directions.
AB_CD_MMHG_PER_YEAR = 0.2
# Thiazides raise new-onset/worsening hyperglycaemia (ALLHAT: fasting glucose +1.5-2 mg/dL,
# new diabetes OR ~1.3; approx. utility penalty in diabetes) so CCB is preferred there.
THIAZIDE_DIABETES_PENALTY = 0.4
# ADA Standards of Care 2022, section 9 (Diabetes Care 2022;45:S125): with HF or CKD an
# SGLT2i, with ASCVD a GLP-1RA (or SGLT2i) is recommended independent of A1c. Encoded as
# utility bonuses (approx. values judgements, in A1c-equivalent % points).
T2D_CONDITION_BONUS = {
    ("sglt2i", "heart_failure"): 0.6,
    ("sglt2i", "ckd"): 0.4,
    ("glp1ra", "ascvd"): 0.4,
    ("sglt2i", "ascvd"): 0.15,
}
