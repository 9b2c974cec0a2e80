"""Registry, budget ledger, commands and serving, tried by an operator and by misuse."""

from __future__ import annotations

import hashlib
import time
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from ehr_integration.fhir.contract import FEATURE_NAMES, RISKS, TASK_CANDIDATES
from privacy import serving
from privacy.models import ModelActivation, ModelArtifact, PrivacyCharge
from privacy.services import (
    BudgetExceeded,
    artifact_register,
    budget_charge,
    budget_ensure,
    budget_state,
    demo_artifacts_activate,
    model_activate,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "privacy" / "artifacts"


@pytest.fixture(autouse=True)
def _fresh_serving_cache() -> Any:
    serving.cache_clear()
    yield
    serving.cache_clear()


def _features(**over: float | None) -> dict[str, float | None]:
    from privacy.synth.generator import cohort_generate

    c = cohort_generate(n=200, seed=2)
    i = int(np.flatnonzero(c.feature("diabetes") == 1)[0])
    f = {
        n: (None if np.isnan(c.features[i, k]) else float(c.features[i, k]))
        for k, n in enumerate(FEATURE_NAMES)
    }
    f.update(over)
    return f


def test_the_ledger_refuses_a_run_that_would_exceed_the_budget(db: Any) -> None:
    budget_ensure(dataset="site-a", epsilon_limit=5.0, delta_limit=1e-4)
    budget_charge(dataset="site-a", task="t2d_drug", epsilon=3.0, delta=1e-5, accountant="prv")
    with pytest.raises(BudgetExceeded, match="spent epsilon 3"):
        budget_charge(dataset="site-a", task="htn_drug", epsilon=3.0, delta=1e-5, accountant="prv")
    budget_charge(dataset="site-a", task="htn_drug", epsilon=2.0, delta=1e-5, accountant="prv")
    state = budget_state(dataset="site-a")
    assert state.epsilon_spent == 5.0 and state.epsilon_left == 0.0
    # another dataset has its own budget
    budget_charge(dataset="site-b", task="t2d_drug", epsilon=3.0, delta=1e-5, accountant="prv")


def test_the_train_command_refuses_over_budget_and_secure_mode_without_torchcsprng(db: Any) -> None:
    budget_ensure(dataset="synthetic:300:1", epsilon_limit=1.0, delta_limit=1e-4)
    with pytest.raises(CommandError, match="privacy budget exceeded"):
        call_command(
            "train", task="htn_drug", epsilon=2.0, source="synthetic:300:1", stdout=StringIO()
        )
    with pytest.raises(CommandError, match="torchcsprng"):
        call_command(
            "train",
            task="htn_drug",
            epsilon=1.0,
            source="synthetic:300:1",
            secure_mode=True,
            stdout=StringIO(),
        )
    assert not PrivacyCharge.objects.exists()
    with pytest.raises(CommandError, match="synthetic:<n>:<seed>"):
        call_command("train", task="htn_drug", epsilon=1.0, source="bogus", stdout=StringIO())


@pytest.mark.slow
def test_train_registers_charges_and_activates_a_content_addressed_artifact(db: Any) -> None:
    out = StringIO()
    call_command(
        "train",
        task="htn_drug",
        epsilon=2.0,
        source="synthetic:3000:1",
        epochs=3,
        batch_size=256,
        accountant="rdp",
        device="cpu",
        activate=True,
        stdout=out,
    )
    art = ModelArtifact.objects.get()
    assert hashlib.sha256(bytes(art.content)).hexdigest() == art.sha256
    assert art.card["training"]["accountant"] == "rdp" and art.card["training"]["epsilon"] <= 2.0
    assert ModelActivation.objects.get(task="htn_drug").artifact_id == art.sha256
    charge = PrivacyCharge.objects.get()
    assert charge.epsilon == 2.0 and charge.artifact_sha256 == art.sha256
    assert art.sha256 in out.getvalue()


def test_it_rejects_bytes_that_are_not_an_artifact_and_activation_of_the_wrong_task(
    db: Any,
) -> None:
    from privacy.services import ArtifactInvalid

    with pytest.raises(ArtifactInvalid):
        artifact_register(raw=b'{"format": "nope"}', card={})
    art = artifact_register(raw=(ARTIFACTS / "htn_drug.model.json").read_bytes(), card={})
    with pytest.raises(ArtifactInvalid, match="htn_drug model"):
        model_activate(task="t2d_drug", sha256=art.sha256)


def test_serving_returns_none_without_an_active_model(db: Any) -> None:
    assert (
        serving.candidates_rank(task="t2d_drug", features=_features(), candidates=["metformin"])
        is None
    )


def test_demo_activation_is_idempotent_and_keeps_an_operators_choice(db: Any) -> None:
    first = demo_artifacts_activate(directory=ARTIFACTS)
    assert {t for t, _ in first} == {"t2d_drug", "htn_drug", "complications"}
    assert demo_artifacts_activate(directory=ARTIFACTS) == []
    assert ModelArtifact.objects.count() == 3


def test_serving_ranks_only_the_candidates_passed_with_risks_and_additive_explanations(
    db: Any,
) -> None:
    demo_artifacts_activate(directory=ARTIFACTS)
    cands = ["sglt2i", "metformin", "glp1ra"]
    res = serving.candidates_rank(task="t2d_drug", features=_features(), candidates=cands)
    assert res is not None
    assert sorted(c.action for c in res.ranked) == sorted(cands)
    assert abs(sum(c.score for c in res.ranked) - 1.0) < 1e-9
    assert [c.score for c in res.ranked] == sorted((c.score for c in res.ranked), reverse=True)
    assert set(res.risks) == set(RISKS) and all(0 < p < 1 for p in res.risks.values())
    # every shown candidate and every shown risk is explained: candidates in rank order,
    # then risks from highest to lowest
    assert [e.target for e in res.explanations] == [f"t2d_drug:{c.action}" for c in res.ranked] + [
        f"risk:{k}" for k in sorted(res.risks, key=lambda k: -res.risks[k])
    ]
    for e in res.explanations:
        assert abs(e.base_value + sum(e.values.values()) - e.output) < 1e-6
        assert set(e.values) == set(FEATURE_NAMES)
    assert res.artifact_sha256 == ModelActivation.objects.get(task="t2d_drug").artifact_id
    # unknown features (None) are allowed; a candidate the model does not know stays last
    sparse = {n: None for n in FEATURE_NAMES} | {"age_years": 60.0}
    res2 = serving.candidates_rank(
        task="htn_drug", features=sparse, candidates=["renin_inhibitor", "acei"]
    )
    assert res2 is not None and [c.action for c in res2.ranked] == ["acei", "renin_inhibitor"]


def test_the_model_prefers_sglt2i_with_heart_failure_over_without(db: Any) -> None:
    demo_artifacts_activate(directory=ARTIFACTS)
    cands = list(TASK_CANDIDATES["t2d_drug"])
    base = dict(on_metformin=1.0, heart_failure=0.0, hfref=0.0, ckd=0.0, ascvd=0.0, bmi=28.0)
    hf = base | dict(heart_failure=1.0, hfref=1.0, lvef_pct=30.0)
    score = {}
    for name, over in (("base", base), ("hf", hf)):
        res = serving.candidates_rank(task="t2d_drug", features=_features(**over), candidates=cands)
        assert res is not None
        score[name] = next(c.score for c in res.ranked if c.action == "sglt2i")
    assert score["hf"] > score["base"]


def test_models_load_once_per_process(db: Any, django_assert_num_queries: Any) -> None:
    demo_artifacts_activate(directory=ARTIFACTS)
    f = _features()
    serving.candidates_rank(task="t2d_drug", features=f, candidates=["metformin", "sglt2i"])
    with django_assert_num_queries(0):
        t0 = time.perf_counter()
        for _ in range(50):
            serving.candidates_rank(task="t2d_drug", features=f, candidates=["metformin", "sglt2i"])
        per_call = (time.perf_counter() - t0) / 50
    assert per_call < 0.05  # generous on a shared CI core; bench/train.py measures p95


def test_evaluate_charges_all_its_dp_runs_or_none(db: Any) -> None:
    budget_ensure(dataset="synthetic:300:2", epsilon_limit=5.0, delta_limit=1e-4)
    with pytest.raises(CommandError, match="privacy budget exceeded"):
        call_command(
            "evaluate",
            task="htn_drug",
            source="synthetic:300:2",
            epsilons="1,3,8",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert not PrivacyCharge.objects.exists()


def test_a_logistic_model_for_encrypted_scoring_is_served_and_explained_exactly(db: Any) -> None:
    from privacy.ml.sources import source_load
    from privacy.runs import RunOptions, run_fit

    loaded = source_load("synthetic:1500:3", tasks=("htn_drug",))
    opts = RunOptions(
        task="htn_drug",
        epsilon=3.0,
        delta=1e-5,
        device="cpu",
        arch="logistic",
        epochs=2,
        batch_size=128,
        accountant="rdp",
    )
    _, _, raw, card = run_fit(loaded, opts)
    art = artifact_register(raw=raw, card=card)
    model_activate(task="htn_drug", sha256=art.sha256)
    res = serving.candidates_rank(
        task="htn_drug", features=_features(), candidates=["acei", "thiazide"]
    )
    assert res is not None and res.artifact_sha256 == art.sha256
    e = res.explanations[0]
    assert abs(e.base_value + sum(e.values.values()) - e.output) < 1e-9


@pytest.mark.slow
def test_generated_ndjson_feeds_the_same_training_path_as_real_fhir(
    db: Any, tmp_path: Path
) -> None:
    call_command(
        "generate_cohort", n=300, seed=9, out=str(tmp_path), format="ndjson", stdout=StringIO()
    )
    assert (tmp_path / "Patient.ndjson").exists()
    out = StringIO()
    call_command(
        "train",
        task="htn_drug",
        epsilon=4.0,
        source=f"fhir:{tmp_path}",
        epochs=3,
        batch_size=64,
        hidden=8,
        accountant="rdp",
        device="cpu",
        stdout=out,
    )
    import json

    summary = json.loads(out.getvalue())
    card = ModelArtifact.objects.get(sha256=summary["artifact_sha256"]).card
    assert card["data"]["dataset"] == f"fhir:{tmp_path.resolve()}"
    # each generated hypertensive patient's index-date start plus background-therapy starts
    assert card["data"]["n_decision_points"] >= 150
