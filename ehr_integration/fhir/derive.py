"""Derived clinical features at an index date, in one place (pure Python, no Django).

`features_at(record, as_of)` uses only data dated strictly before `as_of`, so a cohort
built by indexing each patient at a past date cannot see its own future (the model issue
relies on this; tests/ehr_integration/test_derive.py checks it by perturbing the future).
The hook path calls it with `trust_current_status=True`: "now" is the snapshot date, and
the EHR's current MedicationRequest/Condition status is then knowledge, not leakage.

Every name in contract.FEATURE_NAMES is produced (None when unknown, never guessed); the
typed extras (latest values with their age, BP stage, CKD stage, ...) serve the rules.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from ehr_integration.fhir.contract import DRUG_CLASSES, FEATURE_NAMES
from ehr_integration.fhir.pce import AGE_MAX, AGE_MIN, pce_risk
from ehr_integration.fhir.record import MedicationEntry, PatientRecord

BLACK_OMB = "2054-5"
GLUCOSE_LOWERING = ("metformin", "sglt2i", "glp1ra", "dpp4i", "sulfonylurea", "tzd", "insulin")
ANTIHYPERTENSIVE = (
    "acei", "arb", "ccb_dhp", "ccb_nondhp", "thiazide", "beta_blocker", "mra",
    "renin_inhibitor", "loop_diuretic",
)  # fmt: skip
# Synthea and most EHRs renew chronic prescriptions yearly (median gap 365 days in the
# shared data); an order older than this, with no later renewal, is not assumed current.
MEDICATION_CURRENT_DAYS = 400
BP_READINGS = 3  # ACC/AHA 2017 §4.2: average of >= 2 readings on >= 2 occasions
EGFR_TREND_YEARS = 3
EGFR_TREND_MIN_SPAN_DAYS = 90
STATIN_INTENSITY_ORDER = {"low": 1, "moderate": 2, "high": 3}


@dataclass(frozen=True)
class LatestValue:
    value: float
    unit: str
    when: date
    age_days: int  # days between the measurement and as_of


@dataclass(frozen=True)
class Features:
    """Features of one patient at `as_of`; `values` holds every contract feature name."""

    as_of: date
    values: Mapping[str, float | None]
    latest: Mapping[str, LatestValue] = field(default_factory=dict)
    bp_stage: str | None = None  # normal, elevated, stage1, stage2 (ACC/AHA 2017)
    bp_readings_used: int = 0
    egfr_trend: str | None = None  # declining_fast (< -5/y), declining, stable, rising
    ckd_gfr_category: str | None = None  # KDIGO G1, G2, G3a, G3b, G4, G5
    albuminuria_category: str | None = None  # KDIGO A1 (<30), A2 (30-300), A3 (>300)
    current_drug_classes: frozenset[str] = frozenset()
    current_medications: tuple[MedicationEntry, ...] = ()
    statin_intensity: str | None = None  # highest current, None when no statin or unknown dose
    pce_note: str = ""  # why ascvd_risk_10y is None, when it is
    deceased: bool = False

    def __getitem__(self, name: str) -> float | None:
        return self.values[name]

    def flag(self, name: str) -> bool | None:
        """A 0/1 feature as three-valued bool."""
        value = self.values[name]
        return None if value is None else value >= 0.5

    def as_dict(self) -> dict[str, float | None]:
        return {name: self.values[name] for name in FEATURE_NAMES}


def _flag(value: bool | None) -> float | None:
    return None if value is None else (1.0 if value else 0.0)


def _current_medications(
    record: PatientRecord, as_of: date, trust_current_status: bool
) -> list[MedicationEntry]:
    out = []
    window_start = as_of - timedelta(days=MEDICATION_CURRENT_DAYS)
    for med in record.medications:
        if med.authored is None or med.authored >= as_of or med.intent in ("proposal",):
            continue
        if med.status in ("draft", "entered-in-error", "cancelled"):
            continue
        if trust_current_status:
            if med.status in ("active", "on-hold"):
                out.append(med)
        elif med.authored >= window_start:
            out.append(med)
    return out


def _egfr_slope(record: PatientRecord, as_of: date) -> float | None:
    start = as_of - timedelta(days=round(365.25 * EGFR_TREND_YEARS))
    points = [m for m in record.measurements_of("egfr", before=as_of) if m.when >= start]
    if len(points) < 2 or (points[-1].when - points[0].when).days < EGFR_TREND_MIN_SPAN_DAYS:
        return None
    xs = [(p.when - points[0].when).days / 365.25 for p in points]
    ys = [p.value for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def bp_stage(sbp: float | None, dbp: float | None) -> str | None:
    """ACC/AHA 2017 BP category (§3.2, Table 6); the higher of SBP and DBP category wins."""
    if sbp is None or dbp is None:
        return None
    if sbp >= 140 or dbp >= 90:
        return "stage2"
    if sbp >= 130 or dbp >= 80:
        return "stage1"
    if sbp >= 120:
        return "elevated"
    return "normal"


def gfr_category(egfr: float | None) -> str | None:
    """KDIGO 2012 GFR category."""
    if egfr is None:
        return None
    for limit, name in ((90, "G1"), (60, "G2"), (45, "G3a"), (30, "G3b"), (15, "G4")):
        if egfr >= limit:
            return name
    return "G5"


def _ever(record: PatientRecord, concepts: tuple[str, ...], as_of: date) -> bool:
    return any(c.concept in concepts and c.present_before(as_of) for c in record.conditions)


def features_at(
    record: PatientRecord, as_of: date, *, trust_current_status: bool = False
) -> Features:
    """Features of `record` at `as_of` from data dated strictly before it.

    Args:
        record: the patient record.
        as_of: index date (exclusive).
        trust_current_status: use the current MedicationRequest/Condition status (only
            right when as_of is "now"); otherwise a medication counts as current when
            ordered within MEDICATION_CURRENT_DAYS before as_of.
    """
    demo = record.demographics
    v: dict[str, float | None] = dict.fromkeys(FEATURE_NAMES)
    latest: dict[str, LatestValue] = {}
    for m in record.measurements:
        if m.when < as_of:
            latest[m.kind] = LatestValue(m.value, m.unit, m.when, (as_of - m.when).days)

    def lv(kind: str) -> float | None:
        return latest[kind].value if kind in latest else None

    age = demo.age_at(as_of)
    v["age_years"] = age
    v["sex_female"] = {"female": 1.0, "male": 0.0}.get(demo.sex)
    v["race_black"] = (1.0 if BLACK_OMB in demo.race_omb else 0.0) if demo.race_omb else None
    v["ethnicity_hispanic"] = _flag(demo.hispanic)
    v["bmi"] = lv("bmi")
    smoking = [s for s in record.smoking if s.when < as_of]
    if smoking and smoking[-1].status != "unknown":
        v["smoker_current"] = 1.0 if smoking[-1].status == "current" else 0.0
    v["hba1c_pct"] = lv("hba1c")
    v["hba1c_age_days"] = float(latest["hba1c"].age_days) if "hba1c" in latest else None
    v["glucose_mg_dl"] = lv("glucose")
    v["egfr"] = lv("egfr")
    v["egfr_age_days"] = float(latest["egfr"].age_days) if "egfr" in latest else None
    slope = _egfr_slope(record, as_of)
    v["egfr_slope_per_year"] = slope
    v["creatinine_mg_dl"] = lv("creatinine")
    v["uacr_mg_g"] = lv("uacr")
    sbps = record.measurements_of("sbp", before=as_of)[-BP_READINGS:]
    dbps = record.measurements_of("dbp", before=as_of)[-BP_READINGS:]
    v["sbp_mean"] = sum(m.value for m in sbps) / len(sbps) if sbps else None
    v["dbp_mean"] = sum(m.value for m in dbps) / len(dbps) if dbps else None
    v["ldl_mg_dl"] = lv("ldl")
    v["hdl_mg_dl"] = lv("hdl")
    v["total_chol_mg_dl"] = lv("total_chol")
    v["lvef_pct"] = lv("lvef")

    # Conditions: the absence of a code is "no" (0.0), as in any claims/EHR phenotype.
    v["diabetes"] = _flag(_ever(record, ("diabetes",), as_of))
    v["prediabetes"] = _flag(
        any(
            c.concept == "prediabetes"
            and c.active_at(as_of, trust_current_status=trust_current_status)
            for c in record.conditions
        )
    )
    v["hypertension"] = _flag(_ever(record, ("hypertension",), as_of))
    gfr_cat = gfr_category(v["egfr"])
    v["ckd_stage"] = None if gfr_cat is None else float(gfr_cat[1])
    uacr = v["uacr_mg_g"]
    if uacr is not None:
        v["albuminuria"] = _flag(uacr >= 30)
    elif _ever(record, ("albuminuria",), as_of):
        v["albuminuria"] = 1.0
    coded_ckd = _ever(
        record,
        ("ckd", "diabetic_kidney", *(f"ckd_stage_{i}" for i in range(1, 6))),
        as_of,
    )
    # KDIGO: GFR < 60 for > 3 months, or markers of kidney damage (albuminuria).
    egfrs = record.measurements_of("egfr", before=as_of)
    low_persistent = (
        len(egfrs) >= 2
        and egfrs[-1].value < 60
        and any(e.value < 60 and (egfrs[-1].when - e.when).days >= 90 for e in egfrs[:-1])
    )
    v["ckd"] = _flag(coded_ckd or low_persistent or v["albuminuria"] == 1.0)
    v["ascvd"] = _flag(_ever(record, ("ascvd",), as_of))
    lvef = v["lvef_pct"]
    hf_coded = _ever(record, ("heart_failure", "hfref"), as_of)
    v["heart_failure"] = _flag(hf_coded)
    if lvef is not None:
        v["hfref"] = _flag(hf_coded and lvef <= 40)
    elif _ever(record, ("hfref",), as_of):
        v["hfref"] = 1.0
    elif not hf_coded:
        v["hfref"] = 0.0  # no heart failure, so no HFrEF; HF without LVEF stays unknown
    v["retinopathy"] = _flag(_ever(record, ("retinopathy",), as_of))
    v["neuropathy"] = _flag(_ever(record, ("neuropathy",), as_of))
    if demo.sex == "male":
        v["pregnant"] = 0.0
    else:
        v["pregnant"] = _flag(
            any(
                c.concept == "pregnancy"
                and c.active_at(as_of, trust_current_status=trust_current_status)
                for c in record.conditions
            )
        )

    meds = _current_medications(record, as_of, trust_current_status)
    classes = frozenset(c for m in meds for c in m.drug_classes)
    for cls in DRUG_CLASSES:
        if f"on_{cls}" in v:
            v[f"on_{cls}"] = _flag(cls in classes)
    v["n_glucose_lowering"] = float(sum(c in classes for c in GLUCOSE_LOWERING))
    v["n_antihypertensive"] = float(sum(c in classes for c in ANTIHYPERTENSIVE))
    intensities = [m.statin_intensity for m in meds if m.statin_intensity]
    statin_intensity = (
        max(intensities, key=STATIN_INTENSITY_ORDER.__getitem__) if intensities else None
    )

    risk, note = _pce(v, age, classes)
    v["ascvd_risk_10y"] = risk

    trend = None
    if slope is not None:
        trend = (
            "declining_fast" if slope < -5 else
            "declining" if slope < -1 else
            "rising" if slope > 1 else "stable"
        )  # fmt: skip
    uacr_cat = None
    if uacr is not None:
        uacr_cat = "A1" if uacr < 30 else "A2" if uacr <= 300 else "A3"
    return Features(
        as_of=as_of,
        values=v,
        latest=latest,
        bp_stage=bp_stage(v["sbp_mean"], v["dbp_mean"]),
        bp_readings_used=min(len(sbps), len(dbps)),
        egfr_trend=trend,
        ckd_gfr_category=gfr_cat,
        albuminuria_category=uacr_cat,
        current_drug_classes=classes,
        current_medications=tuple(meds),
        statin_intensity=statin_intensity,
        pce_note=note,
        deceased=demo.deceased and (demo.deceased_date is None or demo.deceased_date < as_of),
    )


def _pce(
    v: Mapping[str, float | None], age: float | None, classes: frozenset[str]
) -> tuple[float | None, str]:
    if age is None or not AGE_MIN <= age <= AGE_MAX:
        return None, "pooled cohort equations apply at ages 40-79"
    needed = ("sex_female", "total_chol_mg_dl", "hdl_mg_dl", "sbp_mean", "smoker_current")
    missing = [n for n in needed if v[n] is None]
    if missing:
        return None, "missing " + ", ".join(missing)
    if v["ascvd"] == 1.0:
        return None, "established ASCVD: secondary prevention, risk estimate not used"
    risk = pce_risk(
        age=age,
        female=v["sex_female"] == 1.0,
        black=v["race_black"] == 1.0,
        total_chol=float(v["total_chol_mg_dl"] or 0),
        hdl=float(v["hdl_mg_dl"] or 0),
        sbp=float(v["sbp_mean"] or 0),
        bp_treated=any(c in classes for c in ANTIHYPERTENSIVE),
        smoker=v["smoker_current"] == 1.0,
        diabetes=v["diabetes"] == 1.0,
    )
    return risk, "" if risk is not None else "inputs out of range"


def feature_iter(features: Features) -> Iterator[tuple[str, float | None]]:
    for name in FEATURE_NAMES:
        yield name, features.values[name]


def features_current(record: PatientRecord, *, today: date) -> Features:
    """Features "now" for a hook call: everything up to and including `today`, with the
    EHR's current statuses trusted (a stopped order is stopped, a resolved problem resolved).
    """
    out = features_at(record, today + timedelta(days=1), trust_current_status=True)
    # as_of is exclusive, so it sits one day after today; ages are counted from today.
    latest = {k: replace(v, age_days=v.age_days - 1) for k, v in out.latest.items()}
    values = dict(out.values)
    for name in ("hba1c_age_days", "egfr_age_days"):
        age = values[name]
        if age is not None:
            values[name] = float(age - 1)
    return replace(out, latest=latest, values=values)
