"""`python manage.py guideline_report --data DIR [--json OUT]`: guideline consistency of the
services over a directory of FHIR data (see cds/report.py for what is measured)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cds.guidelines.engine import ruleset_default
from cds.report import report_build


class Command(BaseCommand):
    help = "Per rule and overall: shown recommendations concordant, MUST-NOT drafts caught, "
    "recorded treatment concordance."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data", required=True, help="directory of FHIR bundles / NDJSON")
        parser.add_argument("--json", help="also write the figures as JSON to this path")

    def handle(self, *args: Any, **options: Any) -> None:
        directory = Path(options["data"])
        if not directory.is_dir():
            raise CommandError(f"--data {directory} is not a directory")
        ruleset = ruleset_default()
        report = report_build(directory, ruleset)
        if report.patients == 0:
            raise CommandError(f"no patients found under {directory}")
        self.stdout.write(report.text(ruleset.version))
        if options.get("json"):
            payload = {"guideline_version": ruleset.version, **report.to_json()}
            Path(options["json"]).write_text(json.dumps(payload, indent=2))
