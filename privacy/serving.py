"""Model ranking and risk at serving time: the one entry point the CDS services call.

Contract (shared by the guideline services and the model code):
- `candidates_rank` scores guideline-concordant candidate actions (drug classes) for a
  patient with the task's active model. It returns None when no model is active for the
  task; the caller then keeps the guideline's own preference order.
- Models load once per process (module-level cache by artifact sha256), never per request;
  which artifact is active is re-read at most every CDS_PRIVACY["ACTIVE_CACHE_SECONDS"].
- Scores are the model's probability that the expert chooses the class, renormalized over
  the candidates passed (only those are ranked). Risks come from the active
  "complications" model. Explanations are exact SHAP (privacy.ml.explain_core) in logit
  space against the artifact's fixed background sample, for the top candidate and each risk.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Explanation:
    """Additive SHAP explanation: base_value + sum(values) == output (checked when built)."""

    target: str
    base_value: float
    values: dict[str, float]
    output: float


@dataclass(frozen=True)
class ScoredCandidate:
    action: str  # a drug class code, e.g. "sglt2i"
    score: float  # the model's score (probability or expected benefit), higher is better


@dataclass(frozen=True)
class RankingResult:
    task: str
    artifact_sha256: str
    ranked: tuple[ScoredCandidate, ...]
    risks: dict[str, float] = field(default_factory=dict)
    explanations: tuple[Explanation, ...] = ()


RISK_TASK = "complications"


@dataclass
class _Loaded:
    sha256: str
    task: str
    classes: tuple[str, ...]
    explainer: Any  # privacy.ml.explain_core explainer (also does the numpy forward pass)
    scaler: Any


_lock = threading.Lock()
_models: dict[str, _Loaded] = {}  # by sha256
_active: dict[str, tuple[str | None, float]] = {}  # task -> (sha256, checked at)


def _load(sha: str, raw: bytes) -> _Loaded:
    from privacy.ml.explain_core import explainer_for
    from privacy.ml.features import Scaler
    from privacy.ml.pipeline import artifact_load

    model, meta = artifact_load(raw)
    background = np.asarray(meta["background"], dtype=np.float64)
    return _Loaded(
        sha256=sha,
        task=str(meta["task"]),
        classes=tuple(meta["classes"]),
        explainer=explainer_for(model, background=background),
        scaler=Scaler.from_json(meta["scaler"]),
    )


def _active_model(task: str) -> _Loaded | None:
    from django.conf import settings

    ttl = float(settings.CDS_PRIVACY["ACTIVE_CACHE_SECONDS"])
    now = time.monotonic()
    cached = _active.get(task)
    if cached is not None and now - cached[1] < ttl:
        return _models.get(cached[0]) if cached[0] else None
    from privacy.services import artifact_active_sha, artifact_content

    sha = artifact_active_sha(task=task)
    with _lock:
        _active[task] = (sha, now)
        if sha is None:
            return None
        if sha not in _models:  # the blob is read once per process and artifact
            _models[sha] = _load(sha, artifact_content(sha256=sha))
        return _models[sha]


def cache_clear() -> None:
    """Forget loaded models and activations (tests, or after an activation in-process)."""
    with _lock:
        _models.clear()
        _active.clear()


def _explanations(
    loaded: _Loaded, x: np.ndarray, targets: Sequence[tuple[int, str]]
) -> list[Explanation]:
    """One explainer pass for the row; an additive explanation per (output index, target)."""
    from ehr_integration.fhir.contract import FEATURE_NAMES

    att = loaded.explainer.explain(x)
    return [
        Explanation(
            target=target,
            base_value=float(att.base_values[j]),
            values={n: float(v) for n, v in zip(FEATURE_NAMES, att.values[j], strict=True)},
            output=float(att.outputs[j]),
        )
        for j, target in targets
    ]


def candidates_rank(
    *, task: str, features: Mapping[str, float | None], candidates: Sequence[str]
) -> RankingResult | None:
    """Rank `candidates` for a patient; None when no model is active for `task`."""
    loaded = _active_model(task)
    if loaded is None:
        return None
    from privacy.ml.features import feature_row

    x = loaded.scaler.transform(feature_row(features)[None, :])[0].astype(np.float64)
    logits = loaded.explainer.forward(x)
    known = [c for c in dict.fromkeys(candidates) if c in loaded.classes]
    unknown = [c for c in dict.fromkeys(candidates) if c not in loaded.classes]
    ranked: list[ScoredCandidate] = []
    explanations: list[Explanation] = []
    if known:
        z = np.array([logits[loaded.classes.index(c)] for c in known])
        p = np.exp(z - z.max())
        p /= p.sum()
        order = np.argsort(-p, kind="stable")
        ranked = [ScoredCandidate(action=known[i], score=float(p[i])) for i in order]
        # Every scored candidate is shown on the card (the model ranking line), so each is
        # explained; the top one comes first because the card text explains it in words.
        explanations += _explanations(
            loaded,
            x,
            [(loaded.classes.index(known[i]), f"{task}:{known[i]}") for i in order],
        )
    # A candidate the model never saw keeps the guideline's order, after the scored ones.
    ranked += [ScoredCandidate(action=c, score=0.0) for c in unknown]
    risks: dict[str, float] = {}
    risk_model = _active_model(RISK_TASK) if task != RISK_TASK else None
    if risk_model is not None:
        xr = risk_model.scaler.transform(feature_row(features)[None, :])[0].astype(np.float64)
        rl = risk_model.explainer.forward(xr)
        for j, name in enumerate(risk_model.classes):
            risks[name] = float(1.0 / (1.0 + np.exp(-rl[j])))
        # The card lists every risk, so every risk is explained; highest risk first.
        by_risk = sorted(range(len(risk_model.classes)), key=lambda j: -rl[j])
        explanations += _explanations(
            risk_model, xr, [(j, f"risk:{risk_model.classes[j]}") for j in by_risk]
        )
    return RankingResult(
        task=task,
        artifact_sha256=loaded.sha256,
        ranked=tuple(ranked),
        risks=risks,
        explanations=tuple(explanations),
    )
