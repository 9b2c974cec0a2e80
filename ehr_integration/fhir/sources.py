"""FHIR R4 JSON -> PatientRecord, from every shape the service receives.

Shapes: CDS Hooks prefetch (a Patient resource plus searchset Bundles; any key may be
null or an OperationOutcome), transaction/collection Bundles (Synthea, `urn:uuid:`
references), and FHIR Bulk Data NDJSON exports (one resource per line, many patients).
Pure Python over parsed JSON: no validation library in the hook path (see record.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from ehr_integration.fhir.codemaps import (
    LOINC_SYSTEM,
    RXNORM_SYSTEM,
    condition_concept,
    loinc_kinds,
    rxnorm_drugs,
    unit_normalize,
)
from ehr_integration.fhir.record import (
    ConditionEntry,
    Demographics,
    Measurement,
    MedicationEntry,
    PatientRecord,
    Sex,
    SmokingEntry,
    SmokingStatus,
)

US_CORE_RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
US_CORE_ETHNICITY = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
HISPANIC = "2135-2"
NOT_HISPANIC = "2186-5"

# SNOMED CT smoking status values (72166-2 answers).
SMOKING: dict[str, SmokingStatus] = {
    "449868002": "current",  # current every day smoker
    "428041000124106": "current",  # current some day smoker
    "77176002": "current",  # smoker, current status unknown
    "428071000124103": "current",  # heavy tobacco smoker
    "428061000124105": "current",  # light tobacco smoker
    "8517006": "former",
    "266919005": "never",
    "266927001": "unknown",
}
SKIP_STATUSES = ("entered-in-error", "cancelled")
RESOURCE_TYPES = ("Patient", "Condition", "Observation", "MedicationRequest", "Medication")


class RecordError(ValueError):
    """The input cannot become a patient record (no Patient, wrong shape)."""


def date_parse(value: Any) -> date | None:
    """FHIR date/dateTime/instant -> date; partial dates (YYYY, YYYY-MM) -> first day."""
    if not isinstance(value, str) or len(value) < 4:
        return None
    try:
        if len(value) == 4:
            return date(int(value), 1, 1)
        if len(value) == 7:
            return date(int(value[:4]), int(value[5:7]), 1)
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _coded_status(concept: Any) -> str | None:
    if isinstance(concept, dict):
        for coding in concept.get("coding") or ():
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                return coding["code"]
    return None


def _codings(concept: Any) -> Iterator[tuple[str, str, str]]:
    if isinstance(concept, dict):
        for coding in concept.get("coding") or ():
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                yield (
                    str(coding.get("system") or ""),
                    coding["code"],
                    str(coding.get("display") or ""),
                )


def _demographics(patient: Mapping[str, Any]) -> Demographics:
    race: list[str] = []
    hispanic: bool | None = None
    for ext in patient.get("extension") or ():
        if not isinstance(ext, dict):
            continue
        if ext.get("url") in (US_CORE_RACE, US_CORE_ETHNICITY):
            codes = [
                (sub.get("valueCoding") or {}).get("code")
                for sub in ext.get("extension") or ()
                if isinstance(sub, dict) and sub.get("url") == "ombCategory"
            ]
            if ext["url"] == US_CORE_RACE:
                race.extend(c for c in codes if isinstance(c, str))
            elif HISPANIC in codes:
                hispanic = True
            elif NOT_HISPANIC in codes:
                hispanic = False
    gender = patient.get("gender")
    sex: Sex = gender if gender in ("female", "male", "other") else "unknown"
    deceased_date = date_parse(patient.get("deceasedDateTime"))
    deceased = bool(patient.get("deceasedBoolean")) or deceased_date is not None
    return Demographics(
        patient_id=str(patient.get("id") or ""),
        birth_date=date_parse(patient.get("birthDate")),
        sex=sex,
        race_omb=tuple(race),
        hispanic=hispanic,
        deceased=deceased,
        deceased_date=deceased_date,
    )


def _condition(resource: Mapping[str, Any]) -> ConditionEntry | None:
    verification = _coded_status(resource.get("verificationStatus"))
    if verification == "entered-in-error":
        return None
    for system, code, display in _codings(resource.get("code")):
        concept = condition_concept(system, code)
        if concept is not None:
            return ConditionEntry(
                concept=concept,
                code=code,
                system=system,
                display=display,
                onset=date_parse(resource.get("onsetDateTime"))
                or date_parse((resource.get("onsetPeriod") or {}).get("start"))
                or date_parse(resource.get("recordedDate")),
                abatement=date_parse(resource.get("abatementDateTime"))
                or date_parse((resource.get("abatementPeriod") or {}).get("end")),
                clinical_status=_coded_status(resource.get("clinicalStatus")),
                verification_status=verification,
                resource_id=str(resource.get("id") or ""),
            )
    return None


def _effective(resource: Mapping[str, Any]) -> date | None:
    return (
        date_parse(resource.get("effectiveDateTime"))
        or date_parse((resource.get("effectivePeriod") or {}).get("start"))
        or date_parse(resource.get("effectiveInstant"))
        or date_parse(resource.get("issued"))
    )


def _quantity(
    kind: str, quantity: Any, when: date, rid: str, issues: list[str]
) -> Measurement | None:
    if not isinstance(quantity, dict):
        return None
    value = quantity.get("value")
    if not isinstance(value, int | float) or isinstance(value, bool):
        issues.append(f"Observation/{rid}: {kind} without a numeric value")
        return None
    unit = str(quantity.get("code") or quantity.get("unit") or "")
    converted = unit_normalize(kind, float(value), unit)
    if converted is None and quantity.get("unit") and quantity.get("unit") != unit:
        converted = unit_normalize(kind, float(value), str(quantity["unit"]))
    if converted is None:
        issues.append(f"Observation/{rid}: {kind} in unknown unit {unit!r} (not converted)")
        return None
    return Measurement(
        kind=kind, value=converted[0], unit=converted[1], when=when, source_unit=unit,
        resource_id=rid,
    )  # fmt: skip


def _observation(
    resource: Mapping[str, Any], issues: list[str]
) -> tuple[list[Measurement], SmokingEntry | None]:
    if resource.get("status") in SKIP_STATUSES:
        return [], None
    kinds = loinc_kinds()
    kind = next(
        (kinds[code] for system, code, _ in _codings(resource.get("code"))
         if system == LOINC_SYSTEM and code in kinds),
        None,
    )  # fmt: skip
    if kind is None:
        return [], None
    rid = str(resource.get("id") or "")
    when = _effective(resource)
    if when is None:
        issues.append(f"Observation/{rid}: {kind} without an effective date (ignored)")
        return [], None
    if kind == "smoking":
        for _system, code, _ in _codings(resource.get("valueCodeableConcept")):
            if code in SMOKING:
                return [], SmokingEntry(status=SMOKING[code], when=when, code=code)
        return [], SmokingEntry(status="unknown", when=when)
    if kind == "bp_panel":
        out = []
        for component in resource.get("component") or ():
            if not isinstance(component, dict):
                continue
            ckind = next(
                (kinds[code] for system, code, _ in _codings(component.get("code"))
                 if system == LOINC_SYSTEM and kinds.get(code) in ("sbp", "dbp")),
                None,
            )  # fmt: skip
            if ckind is not None:
                m = _quantity(ckind, component.get("valueQuantity"), when, rid, issues)
                if m is not None:
                    out.append(m)
        return out, None
    m = _quantity(kind, resource.get("valueQuantity"), when, rid, issues)
    return ([m] if m is not None else []), None


def _medication(
    resource: Mapping[str, Any], medications: Mapping[str, Mapping[str, Any]], issues: list[str]
) -> MedicationEntry | None:
    status = str(resource.get("status") or "unknown")
    if status == "entered-in-error":
        return None
    concept = resource.get("medicationCodeableConcept")
    rid = str(resource.get("id") or "")
    if concept is None:
        ref = (resource.get("medicationReference") or {}).get("reference")
        med = medications.get(str(ref)) if ref else None
        if med is None:
            issues.append(f"MedicationRequest/{rid}: medication reference not resolvable")
            return None
        concept = med.get("code")
    drugs = rxnorm_drugs()
    first: tuple[str, str] | None = None
    for system, code, display in _codings(concept):
        if system != RXNORM_SYSTEM:
            continue
        first = first or (code, display)
        drug = drugs.get(code)
        if drug is not None:
            return MedicationEntry(
                drug_classes=drug.drug_classes,
                code=code,
                display=display or drug.display,
                status=status,
                intent=str(resource.get("intent") or ""),
                authored=date_parse(resource.get("authoredOn")),
                statin_intensity=drug.statin_intensity,
                resource_id=rid,
            )
    code, display = first or ("", str((concept or {}).get("text") or ""))
    return MedicationEntry(
        drug_classes=(),
        code=code,
        display=display,
        status=status,
        intent=str(resource.get("intent") or ""),
        authored=date_parse(resource.get("authoredOn")),
        resource_id=rid,
    )


def record_from_resources(
    resources: Iterable[Mapping[str, Any]], *, patient_id: str | None = None
) -> PatientRecord:
    """Build one patient's record from loose resources (any order).

    Args:
        resources: FHIR R4 resources as parsed JSON; types other than Patient, Condition,
            Observation, MedicationRequest and Medication are ignored.
        patient_id: which Patient to use when several are present.
    """
    patients: list[Mapping[str, Any]] = []
    conditions: list[ConditionEntry] = []
    measurements: list[Measurement] = []
    smoking: list[SmokingEntry] = []
    med_requests: list[Mapping[str, Any]] = []
    med_resources: dict[str, Mapping[str, Any]] = {}
    issues: list[str] = []
    for resource in resources:
        if not isinstance(resource, dict):
            continue
        rtype = resource.get("resourceType")
        if rtype == "Patient":
            patients.append(resource)
        elif rtype == "Condition":
            entry = _condition(resource)
            if entry is not None:
                conditions.append(entry)
        elif rtype == "Observation":
            found, smoke = _observation(resource, issues)
            measurements.extend(found)
            if smoke is not None:
                smoking.append(smoke)
        elif rtype == "MedicationRequest":
            med_requests.append(resource)
        elif rtype == "Medication":
            mid = str(resource.get("id") or "")
            med_resources[f"Medication/{mid}"] = resource
            med_resources[f"urn:uuid:{mid}"] = resource
            med_resources[f"#{mid}"] = resource
    if patient_id is not None:
        patients = [p for p in patients if p.get("id") == patient_id]
    if not patients:
        raise RecordError("no Patient resource")
    if len({p.get("id") for p in patients}) > 1:
        raise RecordError("several Patient resources; say which one (patient_id)")
    medications = [
        m for m in (_medication(r, med_resources, issues) for r in med_requests) if m is not None
    ]
    demographics = _demographics(patients[0])
    _contradictions(conditions, issues)
    if demographics.sex == "male" and any(c.concept == "pregnancy" for c in conditions):
        issues.append("contradiction: pregnancy coded for a patient recorded as male")
    same_day: dict[tuple[str, date], set[float]] = {}
    for m in measurements:
        same_day.setdefault((m.kind, m.when), set()).add(round(m.value, 6))
    for (kind, when), values in sorted(same_day.items()):
        if len(values) > 1 and kind not in ("sbp", "dbp"):  # repeated BP readings are normal
            issues.append(f"conflicting {kind} values on {when}: {sorted(values)} (both kept)")
    return PatientRecord(
        demographics=demographics,
        conditions=tuple(sorted(conditions, key=lambda c: c.onset or date.min)),
        measurements=tuple(sorted(measurements, key=lambda m: m.when)),
        smoking=tuple(sorted(smoking, key=lambda s: s.when)),
        medications=tuple(sorted(medications, key=lambda m: m.authored or date.min)),
        issues=tuple(issues),
    )


def _contradictions(conditions: list[ConditionEntry], issues: list[str]) -> None:
    """Record, do not resolve: e.g. a type 1 and a type 2 diabetes diagnosis together."""
    concepts = {c.concept for c in conditions if c.verification_status != "refuted"}
    if {"diabetes", "diabetes_t1"} <= concepts:
        issues.append("contradiction: both type 1 and type 2 diabetes are coded")
    for c in conditions:
        if c.onset and c.abatement and c.abatement < c.onset:
            issues.append(f"Condition/{c.resource_id}: abatement before onset")


def bundle_resources(bundle: Any) -> list[Mapping[str, Any]]:
    """Resources of any Bundle type (searchset, transaction, collection, batch-response)."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise RecordError("not a Bundle")
    out: list[Mapping[str, Any]] = []
    for entry in bundle.get("entry") or ():
        if isinstance(entry, dict):
            resource = entry.get("resource")
            # searchset entries with search.mode=outcome carry an OperationOutcome: skipped
            if isinstance(resource, dict) and resource.get("resourceType") in RESOURCE_TYPES:
                out.append(resource)
    return out


def record_from_bundle(bundle: Any, *, patient_id: str | None = None) -> PatientRecord:
    """A transaction/collection Bundle holding one patient's data (Synthea)."""
    return record_from_resources(bundle_resources(bundle), patient_id=patient_id)


# The resource types the CDS services' prefetch templates ask for (cds.catalog), by key.
PREFETCH_KEYS = {
    "conditions": "Condition",
    "observations": "Observation",
    "medications": "MedicationRequest",
}


def prefetch_from_bundle(bundle: Any) -> tuple[str, dict[str, Any]]:
    """(patient id, CDS Hooks prefetch) for a one-patient Bundle (a Synthea export): what an
    EHR would send for the services' templates. Tools, benchmarks and data tests replay
    real records through the hooks with it."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise RecordError("not a Bundle")
    by_type: dict[str, list[Any]] = {}
    for entry in bundle.get("entry") or ():
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict):
            by_type.setdefault(str(resource.get("resourceType", "")), []).append(resource)
    patients = by_type.get("Patient") or []
    if not patients:
        raise RecordError("the Bundle holds no Patient")
    prefetch: dict[str, Any] = {"patient": patients[0]}
    for key, kind in PREFETCH_KEYS.items():
        prefetch[key] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": r} for r in by_type.get(kind, [])],
        }
    return str(patients[0].get("id", "")), prefetch


def record_from_prefetch(prefetch: Mapping[str, Any]) -> PatientRecord:
    """CDS Hooks prefetch: each value a resource, a Bundle, an OperationOutcome or null.

    Missing keys and OperationOutcomes leave that part of the record empty and are noted in
    `issues`: the guideline rules then see unknowns (three-valued), never invented values.
    """
    resources: list[Mapping[str, Any]] = []
    notes: list[str] = []
    for key, value in prefetch.items():
        if value is None:
            notes.append(f"prefetch {key}: null")
        elif not isinstance(value, dict):
            notes.append(f"prefetch {key}: not a FHIR resource")
        elif value.get("resourceType") == "OperationOutcome":
            notes.append(f"prefetch {key}: OperationOutcome")
        elif value.get("resourceType") == "Bundle":
            resources.extend(bundle_resources(value))
        else:
            resources.append(value)
    record = record_from_resources(resources)
    if notes:
        from dataclasses import replace

        record = replace(record, issues=record.issues + tuple(notes))
    return record


def _subject_id(resource: Mapping[str, Any]) -> str | None:
    if resource.get("resourceType") == "Patient":
        return str(resource.get("id"))
    ref = (resource.get("subject") or resource.get("patient") or {}).get("reference")
    if not isinstance(ref, str):
        return None
    return ref.rsplit("/", 1)[-1].removeprefix("urn:uuid:")


def records_from_ndjson(paths: Iterable[Path | str]) -> dict[str, PatientRecord]:
    """FHIR Bulk Data export (one NDJSON file per resource type) -> {patient id: record}.

    Resources are grouped by their subject reference; Medication resources are shared by
    everyone who references them.
    """
    by_patient: dict[str, list[Mapping[str, Any]]] = {}
    shared: list[Mapping[str, Any]] = []
    for path in paths:
        with Path(path).open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    resource = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise RecordError(f"{Path(path).name}:{lineno}: not JSON") from exc
                if not isinstance(resource, dict):
                    continue
                if resource.get("resourceType") == "Medication":
                    shared.append(resource)
                    continue
                pid = _subject_id(resource)
                if pid:
                    by_patient.setdefault(pid, []).append(resource)
    return {
        pid: record_from_resources([*resources, *shared], patient_id=pid)
        for pid, resources in by_patient.items()
        if any(r.get("resourceType") == "Patient" for r in resources)
    }
