"""python manage.py build_demo_artifacts: the small models bin/serve activates.

Deterministic: generated data (synthetic:20000:7), fixed seeds, DP-SGD at epsilon 3, one
thread. Written to privacy/artifacts/<task>.model.json (+ .card.json); no ledger charge
(generated data has no one to protect)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from privacy.ml.cohort import TASKS
from privacy.ml.sources import source_load
from privacy.runs import RunOptions, clean, run_fit

DEMO_SOURCE = "synthetic:20000:7"


class Command(BaseCommand):
    help = "Train the demo artifacts deterministically on generated data."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", default=None)

    def handle(self, *args: Any, **o: Any) -> None:
        out = Path(o["out"] or settings.CDS_PRIVACY["ARTIFACT_DIR"])
        out.mkdir(parents=True, exist_ok=True)
        torch.set_num_threads(1)
        loaded = source_load(DEMO_SOURCE)
        for task in TASKS:
            opts = RunOptions(
                task=task,
                epsilon=3.0,
                delta=1e-5,
                device="cpu",
                hidden=16,
                epochs=10,
                batch_size=1024,
                seed=7,
            )
            _, _, raw, card = run_fit(loaded, opts)
            (out / f"{task}.model.json").write_bytes(raw)
            (out / f"{task}.card.json").write_text(
                json.dumps(clean(card), indent=1, sort_keys=True) + "\n"
            )
            self.stdout.write(f"{task}: {card['artifact_sha256']} ({len(raw) // 1024} KiB)")
