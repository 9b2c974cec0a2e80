from __future__ import annotations

import numpy as np
import pytest
import torch

from privacy.ml.cohort import RISK_TASK, split_by_patient, task_data_from_cohort
from privacy.ml.models import model_build
from privacy.ml.pipeline import artifact_build, artifact_load, task_evaluate, task_fit
from privacy.ml.train import DPConfig, SecureModeUnavailable, device_resolve, model_train
from privacy.synth.generator import cohort_generate


@pytest.fixture(scope="module")
def cohort():  # type: ignore[no-untyped-def]
    return cohort_generate(n=8000, seed=4)


def _splits(cohort, task):  # type: ignore[no-untyped-def]
    d = task_data_from_cohort(cohort, task)
    tr, va, te = split_by_patient(d.patient, seed=0)
    return d.subset(tr), d.subset(va), d.subset(te)


@pytest.mark.slow
def test_dp_training_spends_the_target_epsilon_under_prv_and_reports_rdp() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 8)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    m = model_build(arch="logistic", n_in=8, n_out=2)
    r = model_train(
        model=m,
        X=X,
        y=y,
        loss_kind="softmax",
        epochs=3,
        batch_size=400,
        lr=0.5,
        dp=DPConfig(epsilon=3.0, delta=1e-5),
    )
    assert r.accountant == "prv" and r.grad_sample_mode == "ghost"
    assert 2.9 <= r.epsilon <= 3.01
    assert r.epsilon_rdp > r.epsilon  # RDP is the looser bound for the same noise
    assert r.sample_rate == 0.1 and r.steps == 30 and r.noise_multiplier > 0.5


@pytest.mark.slow
def test_ghost_clipping_gives_the_same_model_as_hooks() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(1000, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    out = []
    for mode in ("ghost", "hooks"):
        m = model_build(arch="mlp", n_in=6, n_out=2, hidden=8, seed=3)
        model_train(
            model=m,
            X=X,
            y=y,
            loss_kind="softmax",
            epochs=1,
            batch_size=200,
            lr=0.3,
            dp=DPConfig(epsilon=2.0, delta=1e-5, grad_sample_mode=mode, accountant="rdp"),
            seed=5,
        )
        out.append(torch.cat([p.detach().flatten() for p in m.parameters()]))
    assert torch.allclose(out[0], out[1], atol=1e-4)


def test_secure_mode_is_refused_without_torchcsprng() -> None:
    m = model_build(arch="logistic", n_in=2, n_out=2)
    with pytest.raises(SecureModeUnavailable, match="torchcsprng"):
        model_train(
            model=m,
            X=np.zeros((10, 2), np.float32),
            y=np.zeros(10),
            loss_kind="softmax",
            dp=DPConfig(epsilon=1.0, delta=1e-5, secure_mode=True),
        )


def test_device_auto_falls_back_to_cpu_and_cuda_is_refused_without_a_gpu() -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert device_resolve("auto").type == "cpu"
    with pytest.raises(RuntimeError, match="CUDA"):
        device_resolve("cuda")


@pytest.mark.slow
def test_recommender_beats_both_baselines_and_dp_stays_close(cohort) -> None:  # type: ignore[no-untyped-def]
    train, val, test = _splits(cohort, "htn_drug")
    plain = task_fit(train=train, val=val, epochs=8, batch_size=512)
    dp = task_fit(
        train=train,
        val=val,
        epochs=8,
        batch_size=512,
        dp=DPConfig(epsilon=8.0, delta=1e-5, accountant="rdp"),
    )
    ev_plain = task_evaluate(fitted=plain, train=train, test=test)
    ev_dp = task_evaluate(fitted=dp, train=train, test=test)
    acc = ev_plain["top1_accuracy"]["value"]
    assert acc > ev_plain["baseline_majority"]["value"] + 0.2
    assert acc > ev_plain["baseline_guideline_default"]["value"] + 0.1
    assert ev_dp["top1_accuracy"]["value"] > acc - 0.1
    assert ev_dp["membership_inference"]["advantage"] < 0.1
    assert ev_plain["regret"]["value"] >= 0


@pytest.mark.slow
def test_risk_model_thresholds_give_high_sensitivity_on_test(cohort) -> None:  # type: ignore[no-untyped-def]
    train, val, test = _splits(cohort, RISK_TASK)
    fitted = task_fit(train=train, val=val, epochs=4, batch_size=512)
    ev = task_evaluate(fitted=fitted, train=train, test=test)
    assert ev["any_complication"]["sensitivity"]["value"] > 0.78
    assert ev["any_complication"]["auroc"]["value"] > 0.65


def test_artifact_is_content_addressed_and_round_trips(cohort) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    train, val, _ = _splits(cohort, "t2d_drug")
    fitted = task_fit(train=train, val=val, epochs=1, batch_size=512, hidden=8)
    raw1, _ = artifact_build(fitted=fitted, train=train, sites=["a"])
    raw2, _ = artifact_build(fitted=fitted, train=train, sites=["a"])
    assert hashlib.sha256(raw1).hexdigest() == hashlib.sha256(raw2).hexdigest()
    model, meta = artifact_load(raw1)
    x = torch.as_tensor(fitted.scaler.transform(val.X[:50]))
    with torch.no_grad():
        assert torch.allclose(model(x), fitted.model(x), atol=1e-4)
    assert meta["task"] == "t2d_drug" and len(meta["background"]) == 32
