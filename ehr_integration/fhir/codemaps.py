"""Code maps loaded from the CSV data files in `codemaps/` (see codemaps/SOURCES.md).

Why data files: terminology mappings change with every RxNorm/LOINC release and must be
reviewable by a clinician or terminologist without reading Python. They load once per
process (lru_cache) so the hook path pays nothing per request.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ehr_integration.fhir.contract import DRUG_CLASSES

CODEMAP_DIR = Path(__file__).resolve().parent / "codemaps"

LOINC_SYSTEM = "http://loinc.org"
SNOMED_SYSTEM = "http://snomed.info/sct"
ICD10CM_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM_SYSTEM = "http://www.nlm.nih.gov/research/umls/rxnorm"


@dataclass(frozen=True)
class DrugCode:
    code: str
    tty: str
    drug_classes: tuple[str, ...]
    statin_intensity: str | None
    suggest: str | None
    display: str
    source: str


@dataclass(frozen=True)
class UnitRule:
    canonical: str
    factor: float
    offset: float


def _rows(name: str) -> list[dict[str, str]]:
    with (CODEMAP_DIR / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=1)
def loinc_kinds() -> dict[str, str]:
    """LOINC code -> measurement kind."""
    return {row["code"]: row["kind"] for row in _rows("loinc.csv")}


@lru_cache(maxsize=1)
def unit_rules() -> dict[tuple[str, str], UnitRule]:
    """(kind, unit) -> conversion to the kind's canonical unit."""
    return {
        (row["kind"], row["unit"]): UnitRule(
            canonical=row["canonical"], factor=float(row["factor"]), offset=float(row["offset"])
        )
        for row in _rows("units.csv")
    }


@lru_cache(maxsize=1)
def snomed_concepts() -> dict[str, str]:
    return {row["code"]: row["concept"] for row in _rows("snomed.csv")}


@lru_cache(maxsize=1)
def icd10_prefixes() -> tuple[tuple[str, str], ...]:
    """(prefix, concept), longest prefix first so the most specific code wins."""
    rows = [(row["prefix"], row["concept"]) for row in _rows("icd10cm.csv")]
    return tuple(sorted(rows, key=lambda r: -len(r[0])))


@lru_cache(maxsize=1)
def rxnorm_drugs() -> dict[str, DrugCode]:
    out: dict[str, DrugCode] = {}
    for row in _rows("rxnorm.csv"):
        classes = tuple(c for c in row["drug_classes"].split(";") if c)
        unknown = [c for c in classes if c not in DRUG_CLASSES]
        if unknown:  # a typo in the data file would silently drop a drug: refuse to load
            raise ValueError(f"rxnorm.csv {row['code']}: unknown drug class {unknown}")
        out[row["code"]] = DrugCode(
            code=row["code"],
            tty=row["tty"],
            drug_classes=classes,
            statin_intensity=row["statin_intensity"] or None,
            suggest=row["suggest"] or None,
            display=row["display"],
            source=row["source"],
        )
    return out


@lru_cache(maxsize=1)
def suggestion_codes() -> dict[str, DrugCode]:
    """Suggestion key (a drug class, or statin_high/statin_moderate) -> RxNorm code to order."""
    return {d.suggest: d for d in rxnorm_drugs().values() if d.suggest}


def condition_concept(system: str, code: str) -> str | None:
    """Concept for a SNOMED CT or ICD-10-CM code, None when the code is not mapped."""
    if system == SNOMED_SYSTEM:
        return snomed_concepts().get(code)
    if system == ICD10CM_SYSTEM:
        for prefix, concept in icd10_prefixes():
            if code.startswith(prefix):
                return concept
    return None


def unit_normalize(kind: str, value: float, unit: str) -> tuple[float, str] | None:
    """Convert to the canonical unit of `kind`; None when the unit is not known for it."""
    rule = unit_rules().get((kind, unit.strip()))
    if rule is None:
        return None
    return value * rule.factor + rule.offset, rule.canonical
