"""Exact SHAP explainers: agreement with shap's own explainers and exact enumeration."""

from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import pytest
import shap
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from privacy.ml.explain_core import (
    AdditivityError,
    Attribution,
    DeepLiftShap,
    ExplainError,
    LinearShap,
    UnsupportedModelError,
    additivity_check,
    explainer_for,
)


def _mlp(d: int, hidden: tuple[int, ...], k: int, *, seed: int, act=nn.ReLU, sigmoid=False):
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    width = d
    for h in hidden:
        layers += [nn.Linear(width, h), act()]
        width = h
    layers.append(nn.Linear(width, k))
    if sigmoid:
        layers.append(nn.Sigmoid())
    return nn.Sequential(*layers).eval()


def _torch_out(model: nn.Module, x: np.ndarray) -> np.ndarray:
    # float64 copy of the weights: the reference must not carry float32 rounding
    reference = copy.deepcopy(model).double()
    with torch.no_grad():
        return reference(torch.as_tensor(np.atleast_2d(x), dtype=torch.float64)).numpy()


def _interventional_shapley(f, x: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Exact Shapley values of v(S) = mean_r f(x_S, r_rest), by enumerating every subset."""
    d = x.shape[0]
    phi = np.zeros(d)

    def value(subset: tuple[int, ...]) -> float:
        mixed = background.copy()
        mixed[:, list(subset)] = x[list(subset)]
        return float(np.mean(f(mixed)))

    for i in range(d):
        others = [j for j in range(d) if j != i]
        for size in range(d):
            weight = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
            for subset in itertools.combinations(others, size):
                phi[i] += weight * (value((*subset, i)) - value(subset))
    return phi


# --- linear / logistic ----------------------------------------------------------------------


def test_linear_shap_equals_exact_subset_enumeration_of_the_logit() -> None:
    rng = np.random.default_rng(1)
    d = 5
    w, b = rng.normal(size=d), 0.3
    background = rng.normal(size=(12, d))
    x = rng.normal(size=d)
    attribution = LinearShap(weight=w, bias=b, background=background).explain(x)
    exact = _interventional_shapley(lambda z: z @ w + b, x, background)
    np.testing.assert_allclose(attribution.values[0], exact, atol=1e-12)
    assert attribution.output_space == "logit"
    assert attribution.base_values[0] == pytest.approx(background.mean(0) @ w + b)


def test_linear_shap_agrees_with_shap_linear_explainer_on_a_torch_logistic_model() -> None:
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(8, 1), nn.Sigmoid()).eval()
    rng = np.random.default_rng(3)
    background = rng.normal(size=(80, 8))  # shap subsamples above 100 rows
    xs = rng.normal(size=(5, 8))
    explainer = LinearShap.from_torch(model, background=background)
    coef = model[0].weight.detach().double().numpy()
    intercept = model[0].bias.detach().double().numpy()
    reference = shap.LinearExplainer((coef, intercept), background)
    for x in xs:
        ours = explainer.explain(x)
        theirs = np.asarray(reference.shap_values(x[None, :])).reshape(-1)
        np.testing.assert_allclose(ours.values[0], theirs, atol=1e-10)
        assert ours.base_values[0] == pytest.approx(float(np.ravel(reference.expected_value)[0]))
        logit = math.log(_torch_out(model, x)[0, 0] / (1 - _torch_out(model, x)[0, 0]))
        assert ours.outputs[0] == pytest.approx(logit, abs=1e-9)
        assert explainer.forward(x)[0] == pytest.approx(logit, abs=1e-9)


def test_linear_shap_handles_several_outputs() -> None:
    rng = np.random.default_rng(4)
    w, b = rng.normal(size=(3, 4)), rng.normal(size=3)
    background = rng.normal(size=(20, 4))
    x = rng.normal(size=4)
    attribution = LinearShap(weight=w, bias=b, background=background).explain(x)
    assert attribution.values.shape == (3, 4)
    np.testing.assert_allclose(attribution.outputs, w @ x + b)
    for j in range(3):
        exact = _interventional_shapley(lambda z, j=j: z @ w[j] + b[j], x, background)
        np.testing.assert_allclose(attribution.values[j], exact, atol=1e-12)


# --- DeepLIFT rescale for MLPs --------------------------------------------------------------


@pytest.mark.parametrize(
    ("hidden", "k", "act"),
    [((16,), 1, nn.ReLU), ((32, 16), 7, nn.ReLU), ((12,), 3, nn.Tanh), ((8, 8), 2, nn.ELU)],
)
def test_deeplift_agrees_with_shap_deep_explainer(hidden, k, act) -> None:
    d = 10
    model = _mlp(d, hidden, k, seed=7, act=act)
    rng = np.random.default_rng(7)
    background = rng.normal(size=(40, d))
    xs = rng.normal(size=(3, d))
    ours = DeepLiftShap.from_torch(model, background=background)
    reference = shap.DeepExplainer(model, torch.as_tensor(background, dtype=torch.float32))
    theirs = np.asarray(reference.shap_values(torch.as_tensor(xs, dtype=torch.float32)))
    theirs = theirs.reshape(3, d, k)  # shap 0.51: (n, d, k)
    for i, x in enumerate(xs):
        attribution = ours.explain(x)
        np.testing.assert_allclose(attribution.values, theirs[i].T, atol=2e-6)
        np.testing.assert_allclose(
            attribution.base_values, np.ravel(reference.expected_value), atol=2e-6
        )


def test_deeplift_explains_a_sigmoid_classifier_in_probability_or_logit_space() -> None:
    d = 6
    model = _mlp(d, (16,), 1, seed=11, sigmoid=True)
    rng = np.random.default_rng(11)
    background = rng.normal(size=(30, d))
    x = rng.normal(size=d)
    prob = DeepLiftShap.from_torch(model, background=background).explain(x)
    reference = shap.DeepExplainer(model, torch.as_tensor(background, dtype=torch.float32))
    theirs = np.asarray(reference.shap_values(torch.as_tensor(x[None], dtype=torch.float32)))
    np.testing.assert_allclose(prob.values[0], theirs.reshape(d), atol=2e-6)
    assert prob.outputs[0] == pytest.approx(_torch_out(model, x)[0, 0], abs=1e-9)

    logit = DeepLiftShap.from_torch(model, background=background, output_space="logit")
    attribution = logit.explain(x)
    without_sigmoid = nn.Sequential(*list(model)[:-1])
    assert attribution.outputs[0] == pytest.approx(_torch_out(without_sigmoid, x)[0, 0])
    assert attribution.output_space == "logit"


def test_deeplift_of_a_network_that_stays_linear_is_exact_linear_shap() -> None:
    # All pre-activations positive on the data: the ReLU net is an affine map, where DeepLIFT,
    # linear SHAP and the exact Shapley values must coincide.
    d = 4
    model = nn.Sequential(nn.Linear(d, 5), nn.ReLU(), nn.Linear(5, 1)).double().eval()
    with torch.no_grad():
        model[0].weight.copy_(torch.rand(5, d, dtype=torch.float64))
        model[0].bias.fill_(10.0)
    rng = np.random.default_rng(5)
    background = rng.uniform(0, 1, size=(9, d))
    x = rng.uniform(0, 1, size=d)
    attribution = DeepLiftShap.from_torch(model, background=background).explain(x)
    exact = _interventional_shapley(lambda z: _torch_out(model, z)[:, 0], x, background)
    np.testing.assert_allclose(attribution.values[0], exact, atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    d=st.integers(1, 12),
    depth=st.integers(1, 3),
    k=st.integers(1, 4),
    n_bg=st.integers(1, 30),
    scale=st.sampled_from([0.01, 1.0, 30.0]),
)
def test_deeplift_is_additive_for_random_networks(seed, d, depth, k, n_bg, scale) -> None:
    model = _mlp(d, (9,) * depth, k, seed=seed, act=nn.ReLU)
    rng = np.random.default_rng(seed)
    background = rng.normal(scale=scale, size=(n_bg, d))
    x = rng.normal(scale=scale, size=d)
    attribution = DeepLiftShap.from_torch(model, background=background).explain(x)
    out = _torch_out(model, x)[0]
    base = _torch_out(model, background).mean(axis=0)
    np.testing.assert_allclose(attribution.outputs, out, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(attribution.base_values, base, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(
        attribution.base_values + attribution.values.sum(axis=1), out, rtol=1e-8, atol=1e-8
    )


def test_explanation_equal_to_a_background_row_gives_zero_values() -> None:
    model = _mlp(5, (8,), 2, seed=2)
    background = np.random.default_rng(2).normal(size=(1, 5))
    attribution = DeepLiftShap.from_torch(model, background=background).explain(background[0])
    np.testing.assert_allclose(attribution.values, 0.0, atol=1e-12)


# --- checks and refusals --------------------------------------------------------------------


def test_it_raises_when_additivity_does_not_hold() -> None:
    model = _mlp(4, (6,), 1, seed=0)
    explainer = DeepLiftShap.from_torch(model, background=np.zeros((3, 4)) + 0.5)
    explainer.base_values = explainer.base_values + 1e-3  # a corrupted cache
    with pytest.raises(AdditivityError) as caught:
        explainer.explain(np.ones(4))
    assert caught.value.target == 0
    with pytest.raises(AdditivityError):
        additivity_check(
            base_values=np.array([0.0]), values=np.array([[np.nan]]), outputs=np.array([0.0])
        )
    additivity_check(
        base_values=np.array([1.0]), values=np.array([[0.5, 0.25]]), outputs=np.array([1.75])
    )


@pytest.mark.parametrize(
    "model",
    [
        nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)),
        nn.Sequential(nn.ReLU(), nn.Linear(4, 1)),
        nn.Sequential(nn.Linear(4, 4), nn.Softmax(dim=1)),
    ],
)
def test_it_refuses_layers_it_cannot_explain_exactly(model) -> None:
    with pytest.raises(UnsupportedModelError):
        DeepLiftShap.from_torch(model.eval(), background=np.zeros((2, 4)))


def test_it_rejects_missing_values_and_bad_shapes() -> None:
    explainer = LinearShap(weight=np.ones(3), bias=0.0, background=np.zeros((2, 3)))
    with pytest.raises(ExplainError, match="impute"):
        explainer.explain([1.0, float("nan"), 0.0])
    with pytest.raises(ExplainError):
        explainer.explain([1.0, 2.0])
    with pytest.raises(ExplainError):
        LinearShap(weight=np.ones(3), bias=0.0, background=np.zeros((0, 3)))
    with pytest.raises(ExplainError):
        DeepLiftShap.from_torch(_mlp(3, (4,), 1, seed=0), background=np.zeros((2, 5)))
    with pytest.raises(UnsupportedModelError):
        DeepLiftShap.from_torch(
            _mlp(3, (4,), 1, seed=0), background=np.zeros((2, 3)), output_space="logit"
        )


def test_explainer_for_picks_the_exact_explainer_for_the_model_family() -> None:
    background = np.random.default_rng(0).normal(size=(10, 4))
    logistic = nn.Sequential(nn.Linear(4, 1), nn.Sigmoid()).eval()
    assert isinstance(explainer_for(logistic, background=background), LinearShap)
    mlp = _mlp(4, (8,), 1, seed=1, sigmoid=True)
    chosen = explainer_for(mlp, background=background)
    assert isinstance(chosen, DeepLiftShap)
    assert chosen.output_space == "logit"
    regressor = _mlp(4, (8,), 3, seed=1)
    assert explainer_for(regressor, background=background).output_space == "model"


def test_as_dicts_gives_the_decision_log_shape() -> None:
    attribution = Attribution(
        base_values=np.array([0.1]),
        values=np.array([[0.2, -0.05]]),
        outputs=np.array([0.25]),
        output_space="logit",
    )
    (record,) = attribution.as_dicts(feature_names=["egfr", "bmi"], targets=["sglt2i"])
    assert record == {
        "target": "sglt2i",
        "base_value": 0.1,
        "values": {"egfr": 0.2, "bmi": -0.05},
        "output": 0.25,
    }
    with pytest.raises(ExplainError):
        attribution.as_dicts(feature_names=["egfr"], targets=["sglt2i"])


@pytest.mark.slow
def test_kernel_explainer_reference_agrees_with_linear_shap() -> None:
    # KernelExplainer is sampled: with nsamples above 2^d it enumerates every coalition,
    # and l1_reg=False stops shap 0.51 from keeping only 10 features.
    rng = np.random.default_rng(9)
    d = 6
    w, b = rng.normal(size=d), -0.2
    background = rng.normal(size=(15, d))
    x = rng.normal(size=d)
    kernel = shap.KernelExplainer(lambda z: z @ w + b, background)
    theirs = np.asarray(kernel.shap_values(x[None], nsamples=2**d + 2, l1_reg=False)).reshape(d)
    ours = LinearShap(weight=w, bias=b, background=background).explain(x)
    np.testing.assert_allclose(ours.values[0], theirs, atol=1e-8)
