"""Fit, evaluate and package one task's model: what the `train` and `evaluate` commands run.

The artifact is canonical JSON (sorted keys, no whitespace): weights, scaler, classes,
thresholds, the DP facts and the data hash. Its sha256 is the model's identity in the
registry and in every audit record, so the same numbers always give the same hash.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ehr_integration.fhir.contract import FEATURE_NAMES, RISK_HORIZON_YEARS
from privacy.ml import metrics as M
from privacy.ml.cohort import RISK_TASK, TaskData, guideline_default, task_classes
from privacy.ml.features import Scaler
from privacy.ml.models import model_build, model_from_layers_json, model_layers_json
from privacy.ml.train import DPConfig, TrainReport, model_train

ARTIFACT_FORMAT = "privacy-cds-model/1"
FEATURE_VERSION = hashlib.sha256("\n".join(FEATURE_NAMES).encode()).hexdigest()[:16]
TARGET_SENSITIVITY = 0.90  # on validation; leaves margin so test sensitivity stays >= 0.85
BACKGROUND_ROWS = 32


@dataclass
class Fitted:
    task: str
    arch: str
    classes: tuple[str, ...]
    model: torch.nn.Sequential
    scaler: Scaler
    report: TrainReport
    thresholds: dict[str, float] = field(default_factory=dict)
    background: np.ndarray | None = None

    def scores(self, X: np.ndarray) -> np.ndarray:
        """Logits (n, K) for raw feature rows."""
        with torch.no_grad():
            return self.model(torch.as_tensor(self.scaler.transform(X))).numpy().astype(np.float64)


def data_hash(data: TaskData) -> str:
    """sha256 over the training matrix and labels (what the card cites as the data hash)."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(np.nan_to_num(data.X, nan=-9999.0)).tobytes())
    h.update(np.ascontiguousarray(data.y).tobytes())
    return h.hexdigest()


def _background(Xs: np.ndarray, seed: int) -> np.ndarray:
    """SHAP background: BACKGROUND_ROWS synthetic rows, each feature drawn from a different
    training row (column-wise shuffle), so no stored row is one patient's record."""
    rng = np.random.default_rng(seed)
    n = Xs.shape[0]
    cols = [Xs[rng.integers(0, n, BACKGROUND_ROWS), j] for j in range(Xs.shape[1])]
    return np.round(np.stack(cols, axis=1), 4)


def task_fit(
    *,
    train: TaskData,
    val: TaskData,
    arch: str = "mlp",
    dp: DPConfig | None = None,
    epochs: int = 20,
    batch_size: int = 2048,
    lr: float | None = None,
    hidden: int = 64,
    device: str = "cpu",
    seed: int = 0,
) -> Fitted:
    """Train one task's model and (complications) pick thresholds on the validation split."""
    classes = task_classes(train.task)
    scaler = Scaler.fit(train.X)
    Xs = scaler.transform(train.X)
    model = model_build(arch=arch, n_in=Xs.shape[1], n_out=len(classes), hidden=hidden, seed=seed)
    if lr is None:
        lr = 0.5 if dp is not None else 0.05  # DP-SGD wants a larger step on clipped, noisy means
    # Risks are independent labels (masked where a complication cannot newly occur); a
    # recommendation is one class among the candidates.
    risk = train.task == RISK_TASK
    report = model_train(
        model=model,
        X=Xs,
        y=train.y.astype(np.float32) if risk else train.y,
        mask=train.feasible.astype(np.float32) if risk else None,
        loss_kind="multilabel" if risk else "softmax",
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        dp=dp,
        device=device,
        seed=seed,
    )
    fitted = Fitted(
        task=train.task,
        arch=arch,
        classes=classes,
        model=model,
        scaler=scaler,
        report=report,
        background=_background(Xs, seed),
    )
    if train.task == RISK_TASK:
        p = 1.0 / (1.0 + np.exp(-fitted.scores(val.X)))
        for j, r in enumerate(classes):
            m = val.feasible[:, j]
            fitted.thresholds[r] = M.threshold_for_sensitivity(
                val.y[m, j], p[m, j], TARGET_SENSITIVITY
            )
        any_y, any_p = _any_complication(val.y, p, val.feasible)
        fitted.thresholds["any"] = M.threshold_for_sensitivity(any_y, any_p, TARGET_SENSITIVITY)
    return fitted


def _any_complication(
    y: np.ndarray, p: np.ndarray, at_risk: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Any complication within the horizon: 1 - prod(1 - p_r) over the risks a patient is at."""
    q = np.where(at_risk, p, 0.0)
    return (np.where(at_risk, y, 0).max(axis=1) > 0), 1.0 - np.prod(1.0 - q, axis=1)


def _predict(fitted: Fitted, data: TaskData) -> np.ndarray:
    s = fitted.scores(data.X)
    return np.argmax(np.where(data.feasible, s, -np.inf), axis=1)


def _per_sample_loss(fitted: Fitted, data: TaskData) -> np.ndarray:
    s = fitted.scores(data.X)
    if data.task == RISK_TASK:
        p = np.clip(1.0 / (1.0 + np.exp(-s)), 1e-7, 1 - 1e-7)
        bce = -(data.y * np.log(p) + (1 - data.y) * np.log(1 - p))
        return (bce * data.feasible).sum(axis=1)
    s = s - s.max(axis=1, keepdims=True)
    logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(data.y)), data.y.astype(int)]


def task_evaluate(
    *, fitted: Fitted, train: TaskData, test: TaskData, seed: int = 0
) -> dict[str, object]:
    """Metrics on the held-out test split, baselines and subgroups, plus the membership-
    inference advantage (train members vs as many test non-members)."""
    groups = M.subgroups({n: test.column(n) for n in ("age_years", "sex_female", "race_black")})
    out: dict[str, object] = {"n_test": test.n}
    rng = np.random.default_rng(seed)
    k = min(train.n, test.n, 5000)
    members, nonmembers = (
        rng.choice(train.n, k, replace=False),
        rng.choice(test.n, k, replace=False),
    )
    out["membership_inference"] = M.membership_advantage(
        _per_sample_loss(fitted, train.subset(members)),
        _per_sample_loss(fitted, test.subset(nonmembers)),
    )
    if test.task == RISK_TASK:
        p = 1.0 / (1.0 + np.exp(-fitted.scores(test.X)))
        per = {}
        for j, r in enumerate(fitted.classes):
            m = test.feasible[:, j]
            per[r] = M.binary_metrics(test.y[m, j], p[m, j], fitted.thresholds[r], seed=seed)
        out["risks"] = per
        any_y, any_p = _any_complication(test.y, p, test.feasible)
        out["any_complication"] = M.binary_metrics(
            any_y, any_p, fitted.thresholds["any"], seed=seed
        )
        out["horizon_years"] = RISK_HORIZON_YEARS
        hit = any_p >= fitted.thresholds["any"]
        out["subgroups_sensitivity"] = M.subgroup_accuracy(
            hit[any_y], {a: {g: m[any_y] for g, m in gs.items()} for a, gs in groups.items()}
        )
        return out
    pred = _predict(fitted, test)
    correct = pred == test.y
    out["top1_accuracy"] = M.proportion(int(correct.sum()), test.n)
    counts = np.bincount(train.y.astype(int), minlength=len(fitted.classes))
    pref = np.argsort(-counts, kind="stable")
    rank = np.empty_like(pref)
    rank[pref] = np.arange(len(pref))
    majority = np.argmin(np.where(test.feasible, rank[None, :], 10**6), axis=1)
    out["baseline_majority"] = M.proportion(int((majority == test.y).sum()), test.n)
    default = guideline_default(test.task, test.X, test.feasible)
    out["baseline_guideline_default"] = M.proportion(int((default == test.y).sum()), test.n)
    out["per_site"] = {
        int(s): M.proportion(int(correct[test.site == s].sum()), int((test.site == s).sum()))
        for s in np.unique(test.site)
    }
    out["subgroups"] = M.subgroup_accuracy(correct, groups)
    if test.utility is not None and test.best is not None:
        rows = np.arange(test.n)
        u = test.utility
        regret = u[rows, test.best] - u[rows, pred]
        regret_default = u[rows, test.best] - np.where(
            default >= 0, u[rows, np.maximum(default, 0)], np.nan
        )
        regret_clin = u[rows, test.best] - u[rows, test.y.astype(int)]
        out["accuracy_vs_true_best"] = M.proportion(int((pred == test.best).sum()), test.n)
        out["clinician_vs_true_best"] = M.proportion(int((test.y == test.best).sum()), test.n)
        ci = M.bootstrap_ci(lambda i: float(np.mean(regret[i])), test.n, seed=seed)
        out["regret"] = {
            "value": float(regret.mean()),
            "ci_low": ci[0],
            "ci_high": ci[1],
            "units": "utility (A1c-equivalent % for t2d, see docs/synthetic-cohort.md)",
        }
        out["regret_guideline_default"] = float(np.nanmean(regret_default))
        out["regret_clinicians"] = float(regret_clin.mean())
    return out


def artifact_build(
    *, fitted: Fitted, train: TaskData, sites: list[str]
) -> tuple[bytes, dict[str, object]]:
    """Canonical JSON bytes of the model and its metadata (the part the sha256 covers)."""
    meta: dict[str, object] = {
        "format": ARTIFACT_FORMAT,
        "task": fitted.task,
        "arch": fitted.arch,
        "classes": list(fitted.classes),
        "output": "sigmoid" if fitted.task == RISK_TASK else "softmax",
        "feature_names": list(FEATURE_NAMES),
        "feature_version": FEATURE_VERSION,
        "scaler": fitted.scaler.as_json(),
        "thresholds": {k: round(float(v), 6) for k, v in fitted.thresholds.items()},
        "background": fitted.background.tolist() if fitted.background is not None else [],
        # Wall-clock figures stay out: the same training must give the same bytes and hash.
        "training": _json_safe(
            {
                k: v
                for k, v in fitted.report.as_json().items()
                if k not in ("seconds", "samples_per_s")
            }
        ),
        "data": {"hash": data_hash(train), "n_train": train.n, "sites": sites},
    }
    body = dict(meta)
    body["layers"] = model_layers_json(fitted.model)
    raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return raw, meta


def artifact_load(raw: bytes) -> tuple[torch.nn.Sequential, dict[str, object]]:
    """Parse and check an artifact: format, feature vocabulary, layer shapes."""
    body = json.loads(raw)
    if body.get("format") != ARTIFACT_FORMAT:
        raise ValueError(f"not a {ARTIFACT_FORMAT} artifact")
    if list(body["feature_names"]) != list(FEATURE_NAMES):
        raise ValueError("artifact was trained on another feature vocabulary")
    model = model_from_layers_json(body.pop("layers"))
    return model, body


def _json_safe(d: dict[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in d.items():
        if isinstance(v, float):
            out[k] = None if not math.isfinite(v) else round(v, 6)
        else:
            out[k] = v
    return out
