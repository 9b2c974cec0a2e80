"""Model ranking and risk at serving time: the one entry point the CDS services call.

Contract (shared by the guideline services and the model code):
- `candidates_rank` scores guideline-concordant candidate actions (drug classes) for a
  patient with the task's active model. It returns None when no model is active for the
  task; the caller then keeps the guideline's own preference order.
- Models load once per process (module-level cache), never per request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


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


def candidates_rank(
    *, task: str, features: Mapping[str, float | None], candidates: Sequence[str]
) -> RankingResult | None:
    """Rank `candidates` for a patient; None when no model is active for `task`."""
    return None
