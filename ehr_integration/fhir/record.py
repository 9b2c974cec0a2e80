"""A typed, immutable patient record read from FHIR R4 (pure Python, no Django).

Why frozen dataclasses rather than fhir.resources: the hook path reads hundreds to
thousands of resources per request and pydantic validation costs ~0.2 ms per resource.
Only the facts the guidelines and models use are kept, with units normalized; anything
unreadable, unmapped or contradictory is recorded in `issues` instead of being guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

Sex = Literal["female", "male", "other", "unknown"]
SmokingStatus = Literal["current", "former", "never", "unknown"]


@dataclass(frozen=True)
class Demographics:
    patient_id: str
    birth_date: date | None
    sex: Sex
    # OMB race category codes from the US Core race extension (2106-3 White,
    # 2054-5 Black or African American, ...); empty when not stated.
    race_omb: tuple[str, ...] = ()
    # True Hispanic or Latino (2135-2), False not (2186-5), None not stated.
    hispanic: bool | None = None
    deceased: bool = False
    deceased_date: date | None = None

    def age_at(self, when: date) -> float | None:
        if self.birth_date is None:
            return None
        return (when - self.birth_date).days / 365.25


@dataclass(frozen=True)
class ConditionEntry:
    concept: str  # from the code maps (diabetes, ascvd, ckd_stage_3, ...)
    code: str
    system: str
    display: str
    onset: date | None
    abatement: date | None
    clinical_status: str | None  # active, recurrence, relapse, inactive, remission, resolved
    verification_status: str | None
    resource_id: str = ""

    def present_before(self, as_of: date) -> bool:
        """Ever diagnosed before as_of (from dates only). Refuted/entered-in-error never."""
        if self.verification_status in ("refuted", "entered-in-error"):
            return False
        return self.onset is not None and self.onset < as_of

    def active_at(self, as_of: date, *, trust_current_status: bool = False) -> bool:
        """Active on as_of. Dates decide; the current clinicalStatus is used only when the
        caller says as_of is "now" (a resolved status is a fact from the future otherwise)."""
        if not self.present_before(as_of):
            return False
        if self.abatement is not None and self.abatement < as_of:
            return False
        if trust_current_status and self.clinical_status in ("inactive", "remission", "resolved"):
            return False
        return True


@dataclass(frozen=True)
class Measurement:
    kind: str  # hba1c, glucose, egfr, creatinine, uacr, sbp, dbp, bmi, ldl, hdl, ...
    value: float  # in `unit`, the canonical unit for the kind (see codemaps/units.csv)
    unit: str
    when: date
    source_unit: str = ""
    resource_id: str = ""


@dataclass(frozen=True)
class SmokingEntry:
    status: SmokingStatus
    when: date
    code: str = ""


@dataclass(frozen=True)
class MedicationEntry:
    drug_classes: tuple[str, ...]  # empty when the product is not cardiometabolic/mapped
    code: str
    display: str
    status: str  # MedicationRequest.status: active, stopped, completed, draft, ...
    intent: str
    authored: date | None
    statin_intensity: str | None = None
    resource_id: str = ""


@dataclass(frozen=True)
class PatientRecord:
    demographics: Demographics
    conditions: tuple[ConditionEntry, ...] = ()
    measurements: tuple[Measurement, ...] = ()  # sorted by date, oldest first
    smoking: tuple[SmokingEntry, ...] = ()  # sorted by date
    medications: tuple[MedicationEntry, ...] = ()  # sorted by authored date
    issues: tuple[str, ...] = field(default=())  # data problems found while reading

    @property
    def snapshot_date(self) -> date | None:
        """The latest date anything in the record carries: when the record was "taken"."""
        dates = [m.when for m in self.measurements[-1:]]
        dates += [s.when for s in self.smoking[-1:]]
        dates += [c.onset for c in self.conditions if c.onset]
        dates += [c.abatement for c in self.conditions if c.abatement]
        dates += [m.authored for m in self.medications if m.authored]
        return max(dates) if dates else None

    def measurements_of(self, kind: str, *, before: date) -> list[Measurement]:
        """Measurements of one kind dated strictly before `before`, oldest first."""
        return [m for m in self.measurements if m.kind == kind and m.when < before]
