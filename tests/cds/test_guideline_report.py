"""The guideline consistency report on the committed fixture bundles (fast tier)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from cds.guidelines.engine import ruleset_default
from cds.report import Report, report_build
from tests.fhir_factory import FIXTURES


def test_report_on_fixtures_meets_both_targets() -> None:
    report = report_build(FIXTURES, ruleset_default())
    assert report.patients == 4
    assert report.invalid_cards == []
    caught = Report._overall(report.caught)
    assert caught.total > 0 and caught.yes == caught.total
    shown = Report._overall(report.shown)
    assert shown.yes == shown.total


def test_the_report_would_see_a_miss(monkeypatch: pytest.MonkeyPatch) -> None:
    """If order checking stopped producing cards, the report must say so."""
    import cds.report

    def silent(**kwargs: object) -> object:
        from cds.advice import Advice

        return Advice()

    monkeypatch.setattr(cds.report, "order_check_advice", silent)
    report = report_build(FIXTURES, ruleset_default())
    caught = Report._overall(report.caught)
    assert caught.total > 0 and caught.yes == 0 and report.misses


def test_command_prints_and_writes_json(tmp_path: Path) -> None:
    out = StringIO()
    target = tmp_path / "report.json"
    call_command("guideline_report", "--data", str(FIXTURES), "--json", str(target), stdout=out)
    assert "MUST-NOT draft orders caught" in out.getvalue()
    data = json.loads(target.read_text())
    assert data["patients"] == 4 and data["guideline_version"] == ruleset_default().version


def test_command_refuses_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(CommandError):
        call_command("guideline_report", "--data", str(tmp_path / "nope"))
    with pytest.raises(CommandError):
        call_command("guideline_report", "--data", str(tmp_path))
