"""Write a generated cohort as FHIR R4: one transaction Bundle per patient, or Bulk NDJSON.

The codes are the ones the real Synthea data and the reader's code maps use (LOINC, SNOMED
CT, RxNorm from ehr_integration/fhir/codemaps), so generated patients go through exactly
the same reader and feature derivation as real ones. Observations are placed so that the
reader's rules (latest value, mean of the last three BP readings, eGFR slope over 3 years,
medications ordered within 400 days) reproduce the generator's feature arrays.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ehr_integration.fhir.contract import FEATURE_NAMES, ON_CLASSES, RISKS, TASK_CANDIDATES
from privacy.synth import params as P
from privacy.synth.generator import EGFR_PRIOR_DAYS, EPOCH, Cohort

NS = uuid.UUID("6f1c2a52-8c1e-4d5e-9a43-1d0e5c7b9f10")
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
RACE_EXT = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
ETH_EXT = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"

# RxNorm ingredient codes (the code map's "suggest" code per class).
RX = {
    "metformin": ("860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet"),
    "sglt2i": ("1545653", "empagliflozin"),
    "glp1ra": ("1991302", "semaglutide"),
    "dpp4i": ("593411", "sitagliptin"),
    "sulfonylurea": ("4821", "glipizide"),
    "tzd": ("33738", "pioglitazone"),
    "insulin": ("274783", "insulin glargine"),
    "acei": ("29046", "lisinopril"),
    "arb": ("52175", "losartan"),
    "ccb_dhp": ("197361", "Amlodipine 5 MG Oral Tablet"),
    "ccb_nondhp": ("3443", "diltiazem"),
    "thiazide": ("310798", "Hydrochlorothiazide 25 MG Oral Tablet"),
    "beta_blocker": ("866414", "24 HR metoprolol succinate 100 MG Extended Release Oral Tablet"),
    "mra": ("9997", "spironolactone"),
    "statin": ("312961", "Simvastatin 20 MG Oral Tablet"),
}
# SNOMED CT codes as Synthea writes them.
SCT = {
    "diabetes": ("44054006", "Diabetes"),
    "prediabetes": ("15777000", "Prediabetes"),
    "hypertension": ("38341003", "Hypertension"),
    "ckd": ("709044004", "Chronic kidney disease"),
    "ascvd": ("53741008", "Coronary Heart Disease"),
    "heart_failure": ("88805009", "Chronic congestive heart failure (disorder)"),
    "retinopathy": ("422034002", "Diabetic retinopathy associated with type II diabetes mellitus"),
    "neuropathy": ("368581000119106", "Neuropathy due to type 2 diabetes mellitus (disorder)"),
    "pregnancy": ("72892002", "Normal pregnancy"),
}
# Complication onsets after the index date (what the cohort builder reads as labels).
RISK_SCT = {
    "ckd_progression": ("433144002", "Chronic kidney disease stage 3 (disorder)"),
    "retinopathy": SCT["retinopathy"],
    "neuropathy": SCT["neuropathy"],
    "heart_failure": SCT["heart_failure"],
    "mi": ("22298006", "Myocardial Infarction"),
    "stroke": ("230690007", "Stroke"),
}


def _day(d: int) -> str:
    return str((EPOCH + np.timedelta64(int(d), "D")).astype("datetime64[D]"))


def patient_id(cohort: Cohort, i: int) -> str:
    return str(uuid.uuid5(NS, f"{cohort.seed}/{i}"))


def patient_resources(cohort: Cohort, i: int, *, ref_style: str = "urn") -> list[dict[str, Any]]:
    """All resources of patient `i` (Patient first)."""
    pid = patient_id(cohort, i)
    ref = {"reference": f"urn:uuid:{pid}" if ref_style == "urn" else f"Patient/{pid}"}
    f = {name: float(cohort.features[i, k]) for k, name in enumerate(FEATURE_NAMES)}
    idx = int(cohort.index_day[i])
    counter = iter(range(10_000))

    def rid() -> str:
        return str(uuid.uuid5(NS, f"{cohort.seed}/{i}/{next(counter)}"))

    def known(name: str) -> bool:
        return not np.isnan(f[name])

    out: list[dict[str, Any]] = []
    site = P.SITES[int(cohort.site[i])]
    black = f["race_black"] == 1
    out.append(
        {
            "resourceType": "Patient",
            "id": pid,
            "gender": "female" if f["sex_female"] == 1 else "male",
            "birthDate": _day(int(cohort.birth_day[i])),
            "managingOrganization": {"display": site.name},
            "extension": [
                {
                    "url": RACE_EXT,
                    "extension": [
                        {
                            "url": "ombCategory",
                            "valueCoding": {
                                "system": "urn:oid:2.16.840.1.113883.6.238",
                                "code": "2054-5" if black else "2106-3",
                                "display": "Black or African American" if black else "White",
                            },
                        }
                    ],
                },
                {
                    "url": ETH_EXT,
                    "extension": [
                        {
                            "url": "ombCategory",
                            "valueCoding": {
                                "system": "urn:oid:2.16.840.1.113883.6.238",
                                "code": "2135-2" if f["ethnicity_hispanic"] == 1 else "2186-5",
                            },
                        }
                    ],
                },
            ],
        }
    )

    def condition(key: tuple[str, str], onset: int, abatement: int | None = None) -> None:
        r: dict[str, Any] = {
            "resourceType": "Condition",
            "id": rid(),
            "subject": ref,
            "clinicalStatus": {"coding": [{"code": "active" if abatement is None else "resolved"}]},
            "verificationStatus": {"coding": [{"code": "confirmed"}]},
            "code": {
                "coding": [{"system": SNOMED, "code": key[0], "display": key[1]}],
                "text": key[1],
            },
            "onsetDateTime": _day(onset),
        }
        if abatement is not None:
            r["abatementDateTime"] = _day(abatement)
        out.append(r)

    rng = np.random.default_rng([cohort.seed, i])  # only for onset dates of prior diagnoses
    for name in (
        "diabetes",
        "hypertension",
        "ckd",
        "ascvd",
        "heart_failure",
        "retinopathy",
        "neuropathy",
        "prediabetes",
    ):
        if f[name] == 1:
            condition(SCT[name], idx - int(rng.integers(200, 3000)))
    if f["pregnant"] == 1:
        condition(SCT["pregnancy"], idx - 60, idx + 200)

    def obs(code: str, display: str, value: float, unit: str, day: int) -> None:
        out.append(
            {
                "resourceType": "Observation",
                "id": rid(),
                "status": "final",
                "subject": ref,
                "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
                "effectiveDateTime": _day(day),
                "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
            }
        )

    def bp(sbp: float, dbp: float, day: int) -> None:
        out.append(
            {
                "resourceType": "Observation",
                "id": rid(),
                "status": "final",
                "subject": ref,
                "code": {
                    "coding": [{"system": LOINC, "code": "55284-4", "display": "Blood Pressure"}]
                },
                "effectiveDateTime": _day(day),
                "component": [
                    {
                        "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                        "valueQuantity": {"value": sbp, "unit": "mm[Hg]", "system": UCUM},
                    },
                    {
                        "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                        "valueQuantity": {"value": dbp, "unit": "mm[Hg]", "system": UCUM},
                    },
                ],
            }
        )

    a1c_day = idx - int(f["hba1c_age_days"])
    obs("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", f["hba1c_pct"], "%", a1c_day)
    obs("2339-0", "Glucose", f["glucose_mg_dl"], "mg/dL", a1c_day)
    egfr_day = idx - int(f["egfr_age_days"])
    obs(
        "33914-3",
        "Estimated Glomerular Filtration Rate",
        float(cohort.aux["egfr_prior"][i]),
        "mL/min/{1.73_m2}",
        egfr_day - EGFR_PRIOR_DAYS,
    )
    obs("33914-3", "Estimated Glomerular Filtration Rate", f["egfr"], "mL/min/{1.73_m2}", egfr_day)
    obs("38483-4", "Creatinine", f["creatinine_mg_dl"], "mg/dL", egfr_day)
    if known("uacr_mg_g"):
        obs("14959-1", "Microalbumin Creatinine Ratio", f["uacr_mg_g"], "mg/g", egfr_day)
    for back in (70, 40, 10):
        bp(f["sbp_mean"], f["dbp_mean"], idx - back)
    obs("39156-5", "Body Mass Index", f["bmi"], "kg/m2", idx - 10)
    obs("18262-6", "Low Density Lipoprotein Cholesterol", f["ldl_mg_dl"], "mg/dL", idx - 10)
    obs("2085-9", "High Density Lipoprotein Cholesterol", f["hdl_mg_dl"], "mg/dL", idx - 10)
    obs("2093-3", "Total Cholesterol", f["total_chol_mg_dl"], "mg/dL", idx - 10)
    if known("lvef_pct"):
        obs("10230-1", "Left ventricular Ejection fraction", f["lvef_pct"], "%", idx - 100)
    smoke = (
        ("449868002", "Smokes tobacco daily")
        if f["smoker_current"] == 1
        else ("266919005", "Never smoker")
    )
    out.append(
        {
            "resourceType": "Observation",
            "id": rid(),
            "status": "final",
            "subject": ref,
            "code": {
                "coding": [
                    {"system": LOINC, "code": "72166-2", "display": "Tobacco smoking status NHIS"}
                ]
            },
            "effectiveDateTime": _day(idx - 10),
            "valueCodeableConcept": {
                "coding": [{"system": SNOMED, "code": smoke[0], "display": smoke[1]}]
            },
        }
    )

    def med(cls: str, day: int) -> None:
        code, display = RX[cls]
        out.append(
            {
                "resourceType": "MedicationRequest",
                "id": rid(),
                "status": "active",
                "intent": "order",
                "subject": ref,
                "authoredOn": _day(day),
                "medicationCodeableConcept": {
                    "coding": [{"system": RXNORM, "code": code, "display": display}],
                    "text": display,
                },
            }
        )

    for cls in ON_CLASSES:
        if f[f"on_{cls}"] == 1:
            med(cls, idx - 90)
    # The decision at the index date and its outcome ~6 months later.
    for task, classes in TASK_CANDIDATES.items():
        k = int(cohort.chosen[task][i])
        if k < 0:
            continue
        med(classes[k], idx)
        y = float(cohort.outcome[task][i])
        if task == "t2d_drug":
            obs("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", y, "%", idx + P.FOLLOWUP_DAYS)
        else:
            bp(y, f["dbp_mean"], idx + P.FOLLOWUP_DAYS)
    for j, r in enumerate(RISKS):
        if cohort.risk_onset[i, j]:
            condition(RISK_SCT[r], int(cohort.risk_onset_day[i, j]))
    return out


def bundle(cohort: Cohort, i: int) -> dict[str, Any]:
    """A Synthea-style transaction Bundle (fullUrl urn:uuid, request POST)."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{r['id']}",
                "resource": r,
                "request": {"method": "POST", "url": r["resourceType"]},
            }
            for r in patient_resources(cohort, i)
        ],
    }


def bundles_write(cohort: Cohort, out_dir: Path, *, patients: range | None = None) -> int:
    """One gzip JSON Bundle per patient, as in ../shared/data/*/bundles."""
    out_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    for i in patients or range(cohort.n):
        path = out_dir / f"{patient_id(cohort, i)}.json.gz"
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=5) as fh:
            json.dump(bundle(cohort, i), fh, separators=(",", ":"))
        count += 1
    return count


def ndjson_write(cohort: Cohort, out_dir: Path, *, patients: range | None = None) -> dict[str, int]:
    """FHIR Bulk Data layout: one NDJSON file per resource type, references Patient/<id>."""
    out_dir.mkdir(parents=True, exist_ok=True)
    handles: dict[str, Any] = {}
    counts: dict[str, int] = {}
    try:
        for i in patients or range(cohort.n):
            for r in patient_resources(cohort, i, ref_style="relative"):
                t = r["resourceType"]
                if t not in handles:
                    handles[t] = (out_dir / f"{t}.ndjson").open("w", encoding="utf-8")
                handles[t].write(json.dumps(r, separators=(",", ":")) + "\n")
                counts[t] = counts.get(t, 0) + 1
    finally:
        for h in handles.values():
            h.close()
    return counts


def bundles_iter(cohort: Cohort) -> Iterator[dict[str, Any]]:
    for i in range(cohort.n):
        yield bundle(cohort, i)
