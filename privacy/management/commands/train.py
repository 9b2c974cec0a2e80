"""python manage.py train --task t2d_drug --epsilon 3 --delta 1e-5 --device auto [--secure-mode]"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from privacy.ml.cohort import TASKS
from privacy.ml.sources import SourceError, source_load
from privacy.runs import RunOptions, run_fit, run_options_from
from privacy.services import (
    BudgetExceeded,
    artifact_register,
    budget_charge,
    charge_attach_artifact,
    model_activate,
)


def add_run_arguments(parser: CommandParser) -> None:
    parser.add_argument("--task", required=True, choices=TASKS)
    parser.add_argument(
        "--source",
        default="synthetic:20000:1",
        help="synthetic:<n>:<seed> or fhir:<directory of bundles or NDJSON>",
    )
    parser.add_argument("--delta", type=float, default=None)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--arch", default="mlp", choices=("mlp", "logistic"))
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--accountant", default="prv", choices=("prv", "rdp"))
    parser.add_argument(
        "--grad-sample-mode", default="ghost", choices=("ghost", "hooks", "ew", "functorch")
    )


def secure_mode_check() -> None:
    try:
        import torchcsprng  # type: ignore[import-not-found]  # noqa: F401
    except ImportError as exc:
        raise CommandError(
            "--secure-mode needs torchcsprng (cryptographically secure noise for DP-SGD), "
            "which is not installed here. Install torchcsprng for your torch version, or "
            "train without --secure-mode."
        ) from exc


class Command(BaseCommand):
    help = "Train one task's model with DP-SGD (Opacus), register it, optionally activate it."

    def add_arguments(self, parser: CommandParser) -> None:
        add_run_arguments(parser)
        parser.add_argument("--epsilon", type=float, required=True)
        parser.add_argument("--secure-mode", action="store_true")
        parser.add_argument("--activate", action="store_true")

    def handle(self, *args: Any, **o: Any) -> None:
        delta = o["delta"] if o["delta"] is not None else settings.CDS_PRIVACY["DEFAULT_DELTA"]
        if not o["epsilon"] > 0:
            raise CommandError("--epsilon must be > 0")
        if not 0 < delta < 1:
            raise CommandError("--delta must be in (0, 1)")
        if o["secure_mode"]:
            secure_mode_check()
        try:
            loaded = source_load(o["source"], tasks=(o["task"],))
        except SourceError as exc:
            raise CommandError(str(exc)) from exc
        try:
            charge = budget_charge(
                dataset=loaded.dataset,
                task=o["task"],
                epsilon=o["epsilon"],
                delta=delta,
                accountant=o["accountant"],
                note="train",
            )
        except BudgetExceeded as exc:
            raise CommandError(f"privacy budget exceeded: {exc}") from exc
        opts = RunOptions(epsilon=o["epsilon"], **run_options_from(o, task=o["task"], delta=delta))
        try:
            _, _, raw, card = run_fit(loaded, opts)
        except (ValueError, RuntimeError) as exc:
            raise CommandError(str(exc)) from exc
        artifact = artifact_register(raw=raw, card=card)
        charge_attach_artifact(charge=charge, sha256=artifact.sha256)
        if o["activate"]:
            model_activate(task=o["task"], sha256=artifact.sha256, by="train --activate")
        t = card["training"]
        summary = {
            "artifact_sha256": artifact.sha256,
            "task": o["task"],
            "dataset": loaded.dataset,
            "epsilon": t.get("epsilon"),
            "epsilon_rdp": t.get("epsilon_rdp"),
            "delta": delta,
            "accountant": t.get("accountant"),
            "noise_multiplier": t.get("noise_multiplier"),
            "sample_rate": t.get("sample_rate"),
            "steps": t.get("steps"),
            "grad_sample_mode": t.get("grad_sample_mode"),
            "device": t.get("device"),
            "activated": bool(o["activate"]),
        }
        for key in ("top1_accuracy", "any_complication"):
            if key in card["metrics"]:
                summary[key] = card["metrics"][key]
        self.stdout.write(json.dumps(summary, indent=1, default=str))
