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
