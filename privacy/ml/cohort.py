"""Decision points and labels, from generated arrays or from FHIR records.

A decision point is (patient, index date): features only from data strictly before the index
date, the class the clinician started at the index date (recommendation tasks), and which
complications began within RISK_HORIZON_YEARS after it. Both sources produce `TaskData`,
so training and evaluation never know where the data came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np

from ehr_integration.fhir.contract import (
    FEATURE_NAMES,
    RISK_HORIZON_YEARS,
    RISKS,
    TASK_CANDIDATES,
)

if TYPE_CHECKING:
    from ehr_integration.fhir.record import PatientRecord
    from privacy.synth.generator import Cohort

RISK_TASK = "complications"
TASKS = (*TASK_CANDIDATES, RISK_TASK)


@dataclass
class TaskData:
    """One task's decision points. X is raw (NaN = unknown) in contract order."""

    task: str
    X: np.ndarray
    y: np.ndarray  # class index (recommendation) or (n, R) 0/1 onsets (complications)
    feasible: np.ndarray  # (n, K) bool: options a model may rank; (n, R) at-risk mask for risks
    site: np.ndarray
    patient: np.ndarray  # patient key (int) so splits never put one patient on both sides
    utility: np.ndarray | None = None  # generated data only: true expected utility (n, K)
    best: np.ndarray | None = None  # generated data only: true best option
    when: np.ndarray | None = None  # index date as a proleptic ordinal (date.toordinal())

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    def column(self, name: str) -> np.ndarray:
        return self.X[:, FEATURE_NAMES.index(name)]

    def subset(self, idx: np.ndarray) -> TaskData:
        return TaskData(
            task=self.task,
            X=self.X[idx],
            y=self.y[idx],
            feasible=self.feasible[idx],
            site=self.site[idx],
            patient=self.patient[idx],
            utility=None if self.utility is None else self.utility[idx],
            best=None if self.best is None else self.best[idx],
            when=None if self.when is None else self.when[idx],
        )


def task_classes(task: str) -> tuple[str, ...]:
    if task == RISK_TASK:
        return RISKS
    if task not in TASK_CANDIDATES:
        raise ValueError(f"unknown task {task!r}; choose one of {TASKS}")
    return TASK_CANDIDATES[task]


def feasible_from_features(task: str, X: np.ndarray) -> np.ndarray:
    """Options a clinician could start: not already taken (what real data can tell us)."""
    classes = task_classes(task)
    out = np.ones((X.shape[0], len(classes)), bool)
    for k, c in enumerate(classes):
        name = f"on_{c}"
        if name in FEATURE_NAMES:
            out[:, k] = ~(X[:, FEATURE_NAMES.index(name)] == 1)
    return out


def task_data_from_cohort(cohort: Cohort, task: str) -> TaskData:
    """Decision points of `task` from a generated `privacy.synth.generator.Cohort`."""
    task_classes(task)  # validates the name
    X, site = cohort.features, cohort.site
    pid = np.arange(X.shape[0])
    if task == RISK_TASK:
        return TaskData(
            task=task,
            X=X,
            y=cohort.risk_onset.astype(np.float32),
            feasible=cohort.risk_at_risk,
            site=site,
            patient=pid,
        )
    m = cohort.chosen[task] >= 0
    u = cohort.utility[task][m]
    return TaskData(
        task=task,
        X=X[m],
        y=cohort.chosen[task][m],
        feasible=np.isfinite(u),
        site=site[m],
        patient=pid[m],
        utility=u,
        best=cohort.best[task][m],
    )


def split_by_patient(
    patient: np.ndarray, *, seed: int, fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train/validation/test row indices, every patient on exactly one side (a patient with
    several decision points must not be tested on what trained the model)."""
    uniq = np.unique(patient)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(uniq)
    a = round(fractions[0] * len(perm))
    b = a + round(fractions[1] * len(perm))
    side = np.zeros(len(uniq), np.int8)
    side[np.searchsorted(uniq, perm[a:b])] = 1
    side[np.searchsorted(uniq, perm[b:])] = 2
    row_side = side[np.searchsorted(uniq, patient)]
    return (
        np.flatnonzero(row_side == 0),
        np.flatnonzero(row_side == 1),
        np.flatnonzero(row_side == 2),
    )


# Guideline default choice (the baseline a model must beat): the first feasible class in the
# guideline's order for the patient. t2d: ADA Standards of Care 2022 section 9 (SGLT2i with HF
# or CKD, GLP-1RA with ASCVD, else metformin); htn: 2017 ACC/AHA (ACEi with albuminuric CKD or
# diabetes, thiazide first line otherwise, including Black patients).
def guideline_default(task: str, X: np.ndarray, feasible: np.ndarray) -> np.ndarray:
    classes = task_classes(task)
    col = {n: X[:, FEATURE_NAMES.index(n)] for n in FEATURE_NAMES}
    out = np.full(X.shape[0], -1)
    orders: dict[str, tuple[str, ...]]
    if task == "t2d_drug":
        hf_ckd = (col["heart_failure"] == 1) | (col["ckd"] == 1)
        ascvd = col["ascvd"] == 1
        orders = {
            "hf_ckd": ("sglt2i", "glp1ra", "metformin", "dpp4i", "sulfonylurea", "insulin", "tzd"),
            "ascvd": ("glp1ra", "sglt2i", "metformin", "dpp4i", "sulfonylurea", "insulin", "tzd"),
            "other": ("metformin", "glp1ra", "sglt2i", "dpp4i", "sulfonylurea", "tzd", "insulin"),
        }
        group = np.where(hf_ckd, "hf_ckd", np.where(ascvd, "ascvd", "other"))
    elif task == "htn_drug":
        renal = (col["albuminuria"] == 1) | ((col["diabetes"] == 1) & (col["ckd"] == 1))
        orders = {
            "renal": ("acei", "arb", "thiazide", "ccb_dhp", "beta_blocker"),
            "other": ("thiazide", "ccb_dhp", "acei", "arb", "beta_blocker"),
        }
        group = np.where(renal, "renal", "other")
    else:
        raise ValueError("guideline default exists for recommendation tasks only")
    for g, order in orders.items():
        rows = np.flatnonzero(group == g)
        for c in reversed(order):
            k = classes.index(c)
            ok = feasible[rows, k]
            out[rows[ok]] = k
    return out


# --- From FHIR records (real data, or generated data written as FHIR) ---------------------
# Complication onsets by SNOMED code where the code map's concept is too coarse (MI and
# stroke are both "ascvd" there), by concept otherwise.
RISK_CODES: dict[str, tuple[str, ...]] = {
    "mi": ("22298006", "401303003", "401314000"),
    "stroke": ("230690007", "422504002", "230691006"),
}
RISK_CONCEPTS: dict[str, tuple[str, ...]] = {
    "ckd_progression": (
        "ckd",
        "diabetic_kidney",
        "ckd_stage_1",
        "ckd_stage_2",
        "ckd_stage_3",
        "ckd_stage_4",
        "ckd_stage_5",
    ),
    "retinopathy": ("retinopathy",),
    "neuropathy": ("neuropathy",),
    "heart_failure": ("heart_failure", "hfref"),
}
MAX_DECISIONS_PER_PATIENT = 5


def _onsets(record: PatientRecord, risk: str) -> list[date]:
    conds = record.conditions
    if risk in RISK_CODES:
        return [c.onset for c in conds if c.code in RISK_CODES[risk] and c.onset is not None]
    return [c.onset for c in conds if c.concept in RISK_CONCEPTS[risk] and c.onset is not None]


def _risk_labels(
    record: PatientRecord, as_of: date, values: dict[str, float | None]
) -> tuple[list[float], list[bool]]:
    """Onset within [as_of, as_of + horizon] and whether the patient was at risk at as_of."""
    end = as_of + timedelta(days=int(RISK_HORIZON_YEARS * 365))
    ys, at = [], []
    for r in RISKS:
        onsets = _onsets(record, r)
        if r == "ckd_progression":
            prevalent = values.get("ckd_stage") == 5.0
        elif r in ("mi", "stroke"):
            prevalent = False
        else:
            prevalent = any(o < as_of for o in onsets)
        ys.append(1.0 if any(as_of <= o <= end for o in onsets) else 0.0)
        at.append(not prevalent)
    return ys, at


@dataclass(frozen=True)
class _Row:
    x: np.ndarray
    label: int
    risk: tuple[list[float], list[bool]] | None
    when: date
    site: int
    patient: int


def task_data_from_records(
    records: list[tuple[int, PatientRecord]], *, tasks: tuple[str, ...] = TASKS
) -> dict[str, TaskData]:
    """Decision points from (site, PatientRecord) pairs through the reader's `features_at`.

    Recommendation tasks: every date a MedicationRequest started a candidate class the
    patient was not already taking (features strictly before that date). Complications:
    the same index dates, or for a patient with none, the latest BP visit that still has
    RISK_HORIZON_YEARS of follow-up in the record ("routine visit for risk").
    """
    from ehr_integration.fhir.derive import features_at
    from privacy.ml.features import feature_row

    rows: dict[str, list[_Row]] = {t: [] for t in tasks}
    horizon = timedelta(days=int(RISK_HORIZON_YEARS * 365))
    for pkey, (site, record) in enumerate(records):
        index_dates: set[date] = set()
        for task in (t for t in tasks if t != RISK_TASK):
            classes = TASK_CANDIDATES[task]
            seen = 0
            by_date: dict[date, list[str]] = {}
            for med in record.medications:
                if med.authored is None:
                    continue
                for c in med.drug_classes:
                    if c in classes:
                        by_date.setdefault(med.authored, []).append(c)
            for day in sorted(by_date):
                if seen >= MAX_DECISIONS_PER_PATIENT:
                    break
                feats = features_at(record, day)
                new = [
                    c for c in classes if c in by_date[day] and c not in feats.current_drug_classes
                ]
                if not new:
                    continue
                rows[task].append(
                    _Row(feature_row(feats.values), classes.index(new[0]), None, day, site, pkey)
                )
                index_dates.add(day)
                seen += 1
        if RISK_TASK in tasks:
            snapshot = record.snapshot_date
            if snapshot is None:
                continue
            dates = sorted(d for d in index_dates if d + horizon <= snapshot)
            if not dates:
                visits = [
                    m.when
                    for m in record.measurements
                    if m.kind == "sbp" and m.when + horizon <= snapshot
                ]
                if visits:
                    dates = [visits[-1] + timedelta(days=1)]
            for day in dates[:MAX_DECISIONS_PER_PATIENT]:
                feats = features_at(record, day)
                labels = _risk_labels(record, day, dict(feats.values))
                rows[RISK_TASK].append(_Row(feature_row(feats.values), -1, labels, day, site, pkey))
    out: dict[str, TaskData] = {}
    for task, rs in rows.items():
        X = np.stack([r.x for r in rs]) if rs else np.zeros((0, len(FEATURE_NAMES)))
        sites = np.array([r.site for r in rs], dtype=np.int64)
        pid = np.array([r.patient for r in rs], dtype=np.int64)
        when = np.array([r.when.toordinal() for r in rs], dtype=np.int64)
        if task == RISK_TASK:
            y = np.array([r.risk[0] for r in rs if r.risk], np.float32).reshape(-1, len(RISKS))
            at = np.array([r.risk[1] for r in rs if r.risk], dtype=bool).reshape(-1, len(RISKS))
            out[task] = TaskData(
                task=task, X=X, y=y, feasible=at, site=sites, patient=pid, when=when
            )
        else:
            labels_arr = np.array([r.label for r in rs], dtype=np.int64)
            out[task] = TaskData(
                task=task,
                X=X,
                y=labels_arr,
                feasible=feasible_from_features(task, X),
                site=sites,
                patient=pid,
                when=when,
            )
    return out
