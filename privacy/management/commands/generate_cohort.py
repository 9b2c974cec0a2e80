"""python manage.py generate_cohort --n 1000 --seed 1 --out var/cohort --format bundles"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from privacy.synth.fhir_write import bundles_write, ndjson_write
from privacy.synth.generator import cohort_generate, cohort_summary


class Command(BaseCommand):
    help = "Generate a multi-site synthetic cohort and write it as FHIR R4 (bundles or NDJSON)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--n", type=int, required=True)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--out", required=True)
        parser.add_argument("--format", default="bundles", choices=("bundles", "ndjson", "summary"))

    def handle(self, *args: Any, **o: Any) -> None:
        if not 1 <= o["n"] <= 5_000_000:
            raise CommandError("--n must be within 1..5,000,000")
        t0 = time.perf_counter()
        cohort = cohort_generate(n=o["n"], seed=o["seed"])
        t1 = time.perf_counter()
        out = Path(o["out"])
        written: object = None
        if o["format"] == "bundles":
            written = bundles_write(cohort, out)
        elif o["format"] == "ndjson":
            written = ndjson_write(cohort, out)
        t2 = time.perf_counter()
        summary = cohort_summary(cohort) | {
            "generate_s": round(t1 - t0, 3),
            "write_s": round(t2 - t1, 3),
            "written": written,
        }
        if o["format"] != "summary":
            out.mkdir(parents=True, exist_ok=True)
            (out / "cohort-summary.json").write_text(json.dumps(summary, indent=1))
        self.stdout.write(json.dumps(summary, indent=1))
