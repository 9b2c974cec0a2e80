"""Shared-data tier: every Synthea patient in ../shared/data parses, every hook's advice is
built for it and every card follows the CDS Hooks card rules; the guideline targets hold."""

from __future__ import annotations

import pytest

from cds.guidelines.engine import ruleset_default
from cds.report import Report, records_in, report_patient
from tests.conftest import SHARED_DATA

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


def test_every_shared_patient_parses_and_gets_valid_cards_from_every_hook() -> None:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"no shared data at {SHARED_DATA}")
    ruleset = ruleset_default()
    report = Report()
    for name, record in records_in(SHARED_DATA):
        report_patient(report, name, record, ruleset)
    assert report.patients >= 500
    assert report.invalid_cards == []
    shown = Report._overall(report.shown)
    caught = Report._overall(report.caught)
    assert shown.total > 100 and shown.yes == shown.total, report.misses[:5]
    assert caught.total > 100 and caught.yes == caught.total, report.misses[:5]


@pytest.mark.django_db
def test_sampled_shared_patients_order_sign_over_http(
    api: object, trusted_ehr: object, make_token: object
) -> None:
    """Every 25th patient, through the real HTTP surface: an ACE inhibitor and an ARB
    drafted together must come back as critical cards, valid per the CDS Hooks rules."""
    import gzip
    import json

    from cds.cards import cards_response_validate
    from tests import fhir_factory as f
    from tests.conftest import patient_view_body
    from tests.shared.test_shared_bundles_hooks import BUNDLES, _prefetch_from_bundle

    if not BUNDLES:
        pytest.skip(f"no shared data at {SHARED_DATA}")
    route = "/cds-services/medication-order-sign"
    for path in BUNDLES[::25]:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            deceased = any(
                (e.get("resource") or {}).get("deceasedDateTime")
                for e in json.load(fh).get("entry", [])
            )
        patient_id, prefetch = _prefetch_from_bundle(path)
        body = patient_view_body(patient_id)
        body["hook"] = "order-sign"
        body["prefetch"] = prefetch
        drafts = [
            f.medication("acei", rid="d-acei", status="draft"),
            f.medication("arb", rid="d-arb", status="draft"),
        ]
        body["context"] = {
            "userId": "Practitioner/1",
            "patientId": patient_id,
            "draftOrders": f.searchset(drafts),
        }
        response = api.post(  # type: ignore[attr-defined]
            route,
            body,
            format="json",
            HTTP_AUTHORIZATION=f"Bearer {make_token(route)}",  # type: ignore[operator]
        )
        assert response.status_code == 200, (path.name, response.content[:300])
        cards_response_validate(response.json())
        critical = [c for c in response.json()["cards"] if c["indicator"] == "critical"]
        assert len(critical) == 2 or deceased, path.name
