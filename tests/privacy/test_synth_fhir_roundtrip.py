"""Generated arrays and the same patients written as FHIR and read back must agree."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pytest

from ehr_integration.fhir.contract import FEATURE_NAMES, TASK_CANDIDATES
from ehr_integration.fhir.derive import features_at
from ehr_integration.fhir.sources import record_from_bundle, records_from_ndjson
from privacy.ml.cohort import RISK_TASK, task_data_from_records
from privacy.synth.fhir_write import bundle, ndjson_write, patient_id
from privacy.synth.generator import cohort_generate


def _as_of(cohort, i: int) -> date:  # type: ignore[no-untyped-def]
    return date(2000, 1, 1) + timedelta(days=int(cohort.index_day[i]))


def _same(a: float, b: float | None) -> bool:
    if np.isnan(a):
        return b is None
    return b is not None and abs(a - b) <= 1e-9 * max(1.0, abs(a))


@pytest.fixture(scope="module")
def cohort():  # type: ignore[no-untyped-def]
    return cohort_generate(n=150, seed=21)


def test_fhir_path_gives_identical_features_to_the_arrays(cohort) -> None:  # type: ignore[no-untyped-def]
    for i in range(cohort.n):
        values = features_at(record_from_bundle(bundle(cohort, i)), _as_of(cohort, i)).values
        bad = [
            n for k, n in enumerate(FEATURE_NAMES) if not _same(cohort.features[i, k], values[n])
        ]
        assert not bad, (i, bad)


def test_the_cohort_builder_finds_each_decision_with_its_label(cohort) -> None:  # type: ignore[no-untyped-def]
    records = [
        (int(cohort.site[i]), record_from_bundle(bundle(cohort, i))) for i in range(cohort.n)
    ]
    data = task_data_from_records(records)
    for task in TASK_CANDIDATES:
        d = data[task]
        for i in np.flatnonzero(cohort.chosen[task] >= 0):
            rows = np.flatnonzero((d.patient == i) & (d.when == _as_of(cohort, i).toordinal()))
            assert rows.size == 1, (task, i)
            r = rows[0]
            assert d.y[r] == cohort.chosen[task][i]
            assert np.array_equal(np.isnan(d.X[r]), np.isnan(cohort.features[i]))
    risk = data[RISK_TASK]
    assert risk.n > 0 and risk.y.shape[1] == 6


def test_features_at_the_index_date_do_not_see_the_future(cohort) -> None:  # type: ignore[no-untyped-def]
    """Leakage: dropping or scrambling everything dated on/after the index date (the new
    prescription, the follow-up A1c, complication onsets) leaves the features unchanged."""
    for i in range(0, cohort.n, 5):
        b = bundle(cohort, i)
        as_of = _as_of(cohort, i).isoformat()
        full = features_at(record_from_bundle(b), _as_of(cohort, i)).as_dict()
        past = json.loads(json.dumps(b))
        kept = []
        for e in past["entry"]:
            r = e["resource"]
            when = r.get("effectiveDateTime") or r.get("authoredOn") or r.get("onsetDateTime")
            if when is not None and when >= as_of:
                if r["resourceType"] == "Observation" and "valueQuantity" in r:
                    r["valueQuantity"]["value"] = 999.0  # scramble instead of drop
                    kept.append(e)
                continue
            kept.append(e)
        past["entry"] = kept
        assert features_at(record_from_bundle(past), _as_of(cohort, i)).as_dict() == full


def test_bulk_ndjson_reads_back_the_same_patients(cohort, tmp_path) -> None:  # type: ignore[no-untyped-def]
    counts = ndjson_write(cohort, tmp_path, patients=range(20))
    assert counts["Patient"] == 20
    records = records_from_ndjson(sorted(tmp_path.glob("*.ndjson")))
    for i in range(20):
        rec = records[patient_id(cohort, i)]
        values = features_at(rec, _as_of(cohort, i)).values
        assert all(_same(cohort.features[i, k], values[n]) for k, n in enumerate(FEATURE_NAMES))
