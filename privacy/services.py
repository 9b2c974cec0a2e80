"""Writes and reads of the registry and the budget ledger (HackSoft style: services +
selectors). The management commands and bin/serve's demo setup call these only."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Sum

from privacy.models import ModelActivation, ModelArtifact, PrivacyBudget, PrivacyCharge


class BudgetExceeded(Exception):
    """The run would take the dataset's (epsilon, delta) spend past its budget."""


class ArtifactInvalid(ValueError):
    """Bytes that are not a registry artifact (format, vocabulary, hash)."""


def _cfg(name: str) -> Any:
    return settings.CDS_PRIVACY[name]


@dataclass(frozen=True)
class BudgetState:
    dataset: str
    epsilon_limit: float
    delta_limit: float
    epsilon_spent: float
    delta_spent: float

    @property
    def epsilon_left(self) -> float:
        return self.epsilon_limit - self.epsilon_spent


def budget_ensure(
    *, dataset: str, epsilon_limit: float | None = None, delta_limit: float | None = None
) -> PrivacyBudget:
    """The dataset's budget row, created with the configured defaults on first use.
    An existing budget is never raised silently; change it in the admin on purpose."""
    budget, _ = PrivacyBudget.objects.get_or_create(
        dataset=dataset,
        defaults={
            "epsilon_limit": float(
                epsilon_limit if epsilon_limit is not None else _cfg("EPSILON_BUDGET")
            ),
            "delta_limit": float(delta_limit if delta_limit is not None else _cfg("DELTA_BUDGET")),
        },
    )
    return budget


def budget_state(*, dataset: str) -> BudgetState:
    budget = budget_ensure(dataset=dataset)
    agg = budget.charges.aggregate(e=Sum("epsilon"), d=Sum("delta"))
    return BudgetState(
        dataset, budget.epsilon_limit, budget.delta_limit, agg["e"] or 0.0, agg["d"] or 0.0
    )


def budget_charge(
    *, dataset: str, task: str, epsilon: float, delta: float, accountant: str, note: str = ""
) -> PrivacyCharge:
    """Record a run's spend or refuse it. Basic sequential composition (epsilons and deltas
    add up): loose but valid for any mix of runs and accountants on the same data."""
    if epsilon <= 0 or not 0 < delta < 1:
        raise ValueError("epsilon must be > 0 and delta in (0, 1)")
    with transaction.atomic():
        budget = budget_ensure(dataset=dataset)
        budget = PrivacyBudget.objects.select_for_update().get(pk=budget.pk)
        agg = budget.charges.aggregate(e=Sum("epsilon"), d=Sum("delta"))
        spent_e, spent_d = agg["e"] or 0.0, agg["d"] or 0.0
        if (
            spent_e + epsilon > budget.epsilon_limit + 1e-12
            or spent_d + delta > budget.delta_limit + 1e-15
        ):
            raise BudgetExceeded(
                f"dataset {dataset!r}: spent epsilon {spent_e:g} of {budget.epsilon_limit:g}, "
                f"delta {spent_d:g} of {budget.delta_limit:g}; this run needs epsilon "
                f"{epsilon:g}, delta {delta:g}"
            )
        return PrivacyCharge.objects.create(
            budget=budget,
            task=task,
            epsilon=epsilon,
            delta=delta,
            accountant=accountant,
            note=note[:200],
        )


def charge_attach_artifact(*, charge: PrivacyCharge, sha256: str) -> None:
    PrivacyCharge.objects.filter(pk=charge.pk).update(artifact_sha256=sha256)


def artifact_register(*, raw: bytes, card: dict[str, Any]) -> ModelArtifact:
    """Store an artifact under its sha256 (idempotent: the same bytes are one row)."""
    from privacy.ml.pipeline import artifact_load

    try:
        _, meta = artifact_load(raw)
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactInvalid(str(exc)) from exc
    sha = hashlib.sha256(raw).hexdigest()
    artifact, created = ModelArtifact.objects.get_or_create(
        sha256=sha, defaults={"task": str(meta["task"]), "content": raw, "card": card}
    )
    if not created and card and artifact.card != card:
        ModelArtifact.objects.filter(pk=sha).update(card=card)
        artifact.refresh_from_db()
    return artifact


def model_activate(*, task: str, sha256: str, by: str = "") -> ModelActivation:
    artifact = ModelArtifact.objects.get(sha256=sha256)
    if artifact.task != task:
        raise ArtifactInvalid(f"artifact {sha256[:12]} is a {artifact.task} model, not {task}")
    activation, _ = ModelActivation.objects.update_or_create(
        task=task, defaults={"artifact": artifact, "activated_by": by[:120]}
    )
    return activation


def artifact_active_sha(*, task: str) -> str | None:
    """sha256 of the active artifact for `task` (one indexed lookup, no blob), or None."""
    return ModelActivation.objects.filter(task=task).values_list("artifact_id", flat=True).first()


def artifact_content(*, sha256: str) -> bytes:
    return bytes(ModelArtifact.objects.values_list("content", flat=True).get(sha256=sha256))


def artifact_active(*, task: str) -> tuple[str, bytes] | None:
    """(sha256, bytes) of the active artifact for `task`, or None."""
    sha = artifact_active_sha(task=task)
    return None if sha is None else (sha, artifact_content(sha256=sha))


def demo_artifacts_activate(*, directory: Path | None = None) -> list[tuple[str, str]]:
    """Register and activate the shipped demo artifacts (privacy/artifacts/*.json) for any
    task that has no active model yet. Idempotent: an operator's own activation is kept."""
    directory = directory or Path(_cfg("ARTIFACT_DIR"))
    done: list[tuple[str, str]] = []
    for path in sorted(directory.glob("*.model.json")):
        raw = path.read_bytes()
        card_path = path.with_name(path.name.replace(".model.json", ".card.json"))
        card = json.loads(card_path.read_text()) if card_path.exists() else {}
        artifact = artifact_register(raw=raw, card=card)
        if not ModelActivation.objects.filter(task=artifact.task).exists():
            model_activate(task=artifact.task, sha256=artifact.sha256, by="demo")
            done.append((artifact.task, artifact.sha256))
    return done
