"""Reading FHIR R4 into the typed record: every input shape, units, codes, bad data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ehr_integration.fhir.codemaps import (
    RXNORM_SYSTEM,
    condition_concept,
    rxnorm_drugs,
    unit_normalize,
)
from ehr_integration.fhir.contract import DRUG_CLASSES
from ehr_integration.fhir.sources import (
    RecordError,
    bundle_resources,
    date_parse,
    record_from_bundle,
    record_from_prefetch,
    record_from_resources,
    records_from_ndjson,
)
from tests import fhir_factory as f


def test_it_reads_race_and_ethnicity_from_us_core_extensions() -> None:
    rec = record_from_resources([f.patient(race="2054-5", hispanic=True)])
    assert rec.demographics.race_omb == ("2054-5",)
    assert rec.demographics.hispanic is True
    assert rec.demographics.sex == "female"


def test_it_leaves_race_unknown_when_not_stated() -> None:
    rec = record_from_resources([f.patient(race=None, hispanic=None)])
    assert rec.demographics.race_omb == ()
    assert rec.demographics.hispanic is None


@pytest.mark.parametrize(
    ("kind", "value", "unit", "expected"),
    [
        ("creatinine", 88.4, "umol/L", 1.0),
        ("creatinine", 1.2, "mg/dL", 1.2),
        ("ldl", 2.6, "mmol/L", 100.5),
        ("total_chol", 5.0, "mmol/L", 193.4),
        ("triglycerides", 1.7, "mmol/L", 150.6),
        ("glucose", 7.0, "mmol/L", 126.1),
        ("hba1c", 48.0, "mmol/mol", 6.54),
        ("uacr", 3.4, "mg/mmol", 30.1),
    ],
)
def test_it_converts_units_to_the_canonical_one(
    kind: str, value: float, unit: str, expected: float
) -> None:
    converted = unit_normalize(kind, value, unit)
    assert converted is not None
    assert converted[0] == pytest.approx(expected, abs=0.05)


def test_it_reports_an_unknown_unit_instead_of_guessing() -> None:
    rec = record_from_resources(
        [f.patient(), f.observation("creatinine", 1.0, "2020-01-01", unit="g/L")]
    )
    assert rec.measurements == ()
    assert any("unknown unit" in issue for issue in rec.issues)


def test_it_reads_bp_panel_components() -> None:
    rec = record_from_resources([f.patient(), f.bp(142, 91, "2020-01-02")])
    assert {(m.kind, m.value) for m in rec.measurements} == {("sbp", 142), ("dbp", 91)}


def test_it_maps_combination_products_to_every_class() -> None:
    rec = record_from_resources([f.patient(), f.medication("999967")])
    assert set(rec.medications[0].drug_classes) == {"ccb_dhp", "thiazide", "arb"}


def test_it_keeps_unmapped_drugs_without_a_class() -> None:
    rec = record_from_resources([f.patient(), f.medication("313782")])  # acetaminophen
    assert rec.medications[0].drug_classes == ()


def test_it_resolves_medication_references() -> None:
    med = {
        "resourceType": "Medication",
        "id": "m1",
        "code": {"coding": [{"system": RXNORM_SYSTEM, "code": "6809"}]},
    }
    request = f.medication("metformin")
    del request["medicationCodeableConcept"]
    request["medicationReference"] = {"reference": "Medication/m1"}
    rec = record_from_resources([f.patient(), med, request])
    assert rec.medications[0].drug_classes == ("metformin",)


def test_it_notes_an_unresolvable_medication_reference() -> None:
    request = f.medication("metformin")
    del request["medicationCodeableConcept"]
    request["medicationReference"] = {"reference": "Medication/nowhere"}
    rec = record_from_resources([f.patient(), request])
    assert rec.medications == ()
    assert any("not resolvable" in issue for issue in rec.issues)


def test_it_records_contradictory_diabetes_types() -> None:
    t1 = f.condition("diabetes")
    t1["code"]["coding"][0]["code"] = "46635009"
    rec = record_from_resources([f.patient(), f.condition("diabetes"), t1])
    assert any("contradiction" in issue for issue in rec.issues)


def test_it_drops_entered_in_error_data() -> None:
    obs = f.observation("hba1c", 9.0, "2020-01-01")
    obs["status"] = "entered-in-error"
    cond = f.condition("diabetes")
    cond["verificationStatus"] = {"coding": [{"code": "entered-in-error"}]}
    rec = record_from_resources([f.patient(), obs, cond])
    assert rec.measurements == () and rec.conditions == ()


def test_icd10_longest_prefix_wins() -> None:
    system = "http://hl7.org/fhir/sid/icd-10-cm"
    assert condition_concept(system, "E11.22") == "diabetic_kidney"
    assert condition_concept(system, "E11.9") == "diabetes"
    assert condition_concept(system, "N18.4") == "ckd_stage_4"
    assert condition_concept(system, "I50.22") == "hfref"
    assert condition_concept(system, "Z00.00") is None


def test_every_mapped_drug_class_is_in_the_contract() -> None:
    classes = {c for d in rxnorm_drugs().values() for c in d.drug_classes}
    assert classes <= set(DRUG_CLASSES)
    assert set(DRUG_CLASSES) <= classes  # every class can be recognized


def test_partial_dates_parse_to_the_first_day() -> None:
    assert str(date_parse("2019")) == "2019-01-01"
    assert str(date_parse("2019-05")) == "2019-05-01"
    assert str(date_parse("2019-05-04T10:00:00+02:00")) == "2019-05-04"
    assert date_parse("garbage") is None


def test_prefetch_with_null_and_operation_outcome_gives_a_partial_record() -> None:
    pre = f.prefetch(f.patient(), f.condition("diabetes"))
    pre["observations"] = None
    pre["medications"] = {"resourceType": "OperationOutcome", "issue": []}
    rec = record_from_prefetch(pre)
    assert [c.concept for c in rec.conditions] == ["diabetes"]
    assert "prefetch observations: null" in rec.issues
    assert "prefetch medications: OperationOutcome" in rec.issues


def test_prefetch_without_a_patient_is_refused() -> None:
    with pytest.raises(RecordError):
        record_from_prefetch({"conditions": f.searchset([])})


def test_it_refuses_several_patients_without_a_choice() -> None:
    with pytest.raises(RecordError):
        record_from_resources([f.patient(pid="a"), f.patient(pid="b")])
    assert record_from_resources([f.patient(pid="a"), f.patient(pid="b")], patient_id="b")


def test_it_reads_a_synthea_transaction_bundle() -> None:
    bundle = f.fixture_bundle("diabetes_ckd")
    assert bundle["type"] == "transaction"
    rec = record_from_bundle(bundle)
    # Synthea repeats some labs on the same day with different values: noted, both kept.
    assert all(issue.startswith("conflicting ") for issue in rec.issues)
    concepts = {c.concept for c in rec.conditions}
    assert {"diabetes", "hypertension"} <= concepts
    assert {"metformin", "insulin"} <= {c for m in rec.medications for c in m.drug_classes}
    kinds = {m.kind for m in rec.measurements}
    assert {"hba1c", "egfr", "uacr", "sbp", "dbp", "ldl", "hdl", "bmi"} <= kinds


def test_it_reads_bulk_data_ndjson(tmp_path: Path) -> None:
    by_type: dict[str, list[str]] = {}
    for name in ("diabetes_ckd", "pregnancy_htn"):
        for resource in bundle_resources(f.fixture_bundle(name)):
            by_type.setdefault(resource["resourceType"], []).append(json.dumps(resource))
    paths = []
    for rtype, lines in by_type.items():
        path = tmp_path / f"{rtype}.ndjson"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    records = records_from_ndjson(paths)
    assert len(records) == 2
    from_bundle = record_from_bundle(f.fixture_bundle("pregnancy_htn"))
    assert records[from_bundle.demographics.patient_id] == from_bundle


def test_ndjson_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "Patient.ndjson"
    path.write_text('{"resourceType": "Patient", "id": "x"}\nnot json\n')
    with pytest.raises(RecordError):
        records_from_ndjson([path])


def test_it_records_conflicting_same_day_values_and_keeps_both() -> None:
    rec = record_from_resources(
        [
            f.patient(),
            f.observation("hba1c", 7.0, "2020-01-01"),
            f.observation("hba1c", 9.0, "2020-01-01"),
        ]
    )
    assert len(rec.measurements) == 2
    assert any("conflicting hba1c" in issue for issue in rec.issues)


def test_it_records_pregnancy_coded_for_a_male_patient() -> None:
    rec = record_from_resources([f.patient(sex="male"), f.condition("pregnancy")])
    assert any("pregnancy coded" in issue for issue in rec.issues)


def test_prefetch_from_bundle_gives_what_the_service_templates_ask_for() -> None:
    import gzip
    import json
    from pathlib import Path

    from ehr_integration.fhir.sources import (
        prefetch_from_bundle,
        record_from_bundle,
        record_from_prefetch,
    )

    path = Path(__file__).resolve().parents[1] / "fixtures" / "fhir" / "diabetes_ckd.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        bundle = json.load(fh)
    patient_id, prefetch = prefetch_from_bundle(bundle)
    assert prefetch["patient"]["id"] == patient_id
    assert set(prefetch) == {"patient", "conditions", "observations", "medications"}
    kinds = {
        key: {e["resource"]["resourceType"] for e in value["entry"]}
        for key, value in prefetch.items()
        if key != "patient"
    }
    assert kinds == {
        "conditions": {"Condition"},
        "observations": {"Observation"},
        "medications": {"MedicationRequest"},
    }
    # the same record comes out of the prefetch as out of the bundle it was cut from
    assert record_from_prefetch(prefetch) == record_from_bundle(bundle)


def test_prefetch_from_bundle_refuses_what_is_not_a_patient_bundle() -> None:
    import pytest

    from ehr_integration.fhir.sources import RecordError, prefetch_from_bundle

    with pytest.raises(RecordError):
        prefetch_from_bundle({"resourceType": "Patient"})
    with pytest.raises(RecordError):
        prefetch_from_bundle({"resourceType": "Bundle", "type": "collection", "entry": []})
