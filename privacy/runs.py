"""One training or evaluation run end to end (used by the `train`, `evaluate` and
`build_demo_artifacts` commands): load, split, charge the ledger, fit, evaluate, register."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from privacy.ml.cohort import split_by_patient
from privacy.ml.pipeline import FEATURE_VERSION, artifact_build, data_hash, task_evaluate, task_fit
from privacy.ml.sources import Loaded
from privacy.ml.train import DPConfig


@dataclass(frozen=True)
class RunOptions:
    task: str
    epsilon: float | None  # None: non-private (evaluate's comparison only)
    delta: float
    device: str = "auto"
    secure_mode: bool = False
    arch: str = "mlp"
    hidden: int = 64
    epochs: int = 20
    batch_size: int = 2048
    lr: float | None = None
    seed: int = 0
    accountant: str = "prv"
    grad_sample_mode: str = "ghost"


# The command-line options (`add_run_arguments`) that become RunOptions fields as they are.
RUN_OPTION_KEYS = (
    "device",
    "secure_mode",
    "arch",
    "hidden",
    "epochs",
    "batch_size",
    "lr",
    "seed",
    "accountant",
    "grad_sample_mode",
)


def run_options_from(options: dict[str, Any], *, task: str, delta: float) -> dict[str, Any]:
    """RunOptions keyword arguments (all but epsilon) from parsed command options, so
    `train` and `evaluate` cannot drift apart in how they read the same flags."""
    return {"task": task, "delta": delta, **{k: options[k] for k in RUN_OPTION_KEYS}}


def run_fit(loaded: Loaded, opts: RunOptions) -> tuple[Any, dict[str, Any], bytes, dict[str, Any]]:
    """Fit and evaluate one model; returns (fitted, metrics, artifact bytes, card)."""
    data = loaded.data[opts.task]
    if data.n < 20:
        raise ValueError(f"only {data.n} decision points for {opts.task}: too few to train")
    tr, va, te = split_by_patient(data.patient, seed=opts.seed)
    train, val, test = data.subset(tr), data.subset(va), data.subset(te)
    dp = None
    if opts.epsilon is not None:
        dp = DPConfig(
            epsilon=opts.epsilon,
            delta=opts.delta,
            accountant=opts.accountant,
            grad_sample_mode=opts.grad_sample_mode,
            secure_mode=opts.secure_mode,
        )
    fitted = task_fit(
        train=train,
        val=val,
        arch=opts.arch,
        dp=dp,
        epochs=opts.epochs,
        batch_size=opts.batch_size,
        lr=opts.lr,
        hidden=opts.hidden,
        device=opts.device,
        seed=opts.seed,
    )
    metrics = task_evaluate(fitted=fitted, train=train, test=test, seed=opts.seed)
    raw, meta = artifact_build(fitted=fitted, train=train, sites=loaded.sites)
    card = {
        "task": opts.task,
        "artifact_sha256": hashlib.sha256(raw).hexdigest(),
        "arch": opts.arch,
        "data": {
            "dataset": loaded.dataset,
            "hash": data_hash(train),
            "sites": loaded.sites,
            "n_decision_points": data.n,
            "n_train": train.n,
            "n_val": val.n,
            "n_test": test.n,
        },
        "features": {"version": FEATURE_VERSION, "names": meta["feature_names"]},
        "training": meta["training"]
        | {
            "seconds": round(fitted.report.seconds, 3),
            "samples_per_s": round(fitted.report.samples_per_s, 1),
        },
        "metrics": clean(metrics),
    }
    return fitted, metrics, raw, card


def clean(obj: Any) -> Any:
    """JSON-safe: NaN/inf -> None, numpy scalars -> float, int keys -> str."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float):
        return None if not math.isfinite(obj) else round(obj, 6)
    return obj


def card_write(
    card: dict[str, Any], directory: Path, task: str, markdown: str
) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    j = directory / f"model-card-{task}.json"
    m = directory / f"model-card-{task}.md"
    j.write_text(json.dumps(clean(card), indent=1, sort_keys=True) + "\n")
    m.write_text(markdown)
    return j, m
