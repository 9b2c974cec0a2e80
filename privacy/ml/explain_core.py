"""Additive SHAP explanations for the served models, fast enough for every decision.

Why not call the `shap` package at serving time: KernelExplainer is sampled (not exact and
~1,000x slower) and DeepExplainer rebuilds autograd graphs per call (~100x slower). The two
model families we serve have closed forms that are exact for their own definition:

- Logistic models (one Linear, optionally + Sigmoid): exact interventional linear SHAP in
  logit space, phi_i = w_i * (x_i - mean_i), base = w . mean + b. With an independent
  (interventional) background this *is* the Shapley value of the logit, so it equals
  `shap.LinearExplainer` and exact subset enumeration.
- MLPs of Linear and element-wise activations (ReLU, LeakyReLU, Tanh, Sigmoid, Softplus,
  ELU): DeepLIFT with the rescale rule, averaged over a background sample, which is what
  `shap.DeepExplainer` computes. The rescale multiplier of an element-wise layer is
  (f(z) - f(z_ref)) / (z - z_ref), so summation-to-delta holds exactly for every reference
  and the average over references is additive against the mean background output.

Both run in one batched numpy pass in float64 over a background whose forward pass is
cached at construction. Additivity (base + sum(values) == output, in the explained output
space) is checked on every explanation and raises `AdditivityError` on violation: an
explanation that does not add up is never shown or audited.

Pure numpy; torch is only read (weights) when building from an `nn.Module`. No Django.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

OutputSpace = Literal["model", "logit"]

# Relative and absolute additivity tolerance. float64 arithmetic keeps the residual near
# 1e-12; anything above this tolerance means a bug or an unsupported layer, not rounding.
ADDITIVITY_ATOL = 1e-6
ADDITIVITY_RTOL = 1e-6
# Below this |z - z_ref| the rescale rule divides noise by noise: use the gradient at z
# instead (shap.DeepExplainer uses the same switch; the contribution is ~0 either way).
RESCALE_EPS = 1e-6
# The cached forward pass must reproduce the torch model; a mismatch means a layer we do not
# model (e.g. BatchNorm in train mode) slipped through.
TORCH_MATCH_TOL = 1e-4
MAX_BACKGROUND = 5000


class ExplainError(ValueError):
    """Bad input to an explainer (shape, non-finite values, empty background)."""


class UnsupportedModelError(TypeError):
    """The model holds a layer the exact explainers cannot treat."""


class AdditivityError(ArithmeticError):
    """base_value + sum(values) != output beyond tolerance: the explanation is not shown."""

    def __init__(self, *, target: int, residual: float, output: float) -> None:
        super().__init__(
            f"additivity violated for output {target}: base + sum(values) - output = "
            f"{residual:.3g} (output {output:.6g})"
        )
        self.target = target
        self.residual = residual


@dataclass(frozen=True)
class Attribution:
    """SHAP values of one input for each model output (k outputs, d features).

    `outputs[j] == base_values[j] + values[j].sum()` within tolerance, in `output_space`
    ("logit" for logistic models and MLPs explained before their final sigmoid,
    "model" for whatever the network itself outputs).
    """

    base_values: np.ndarray  # (k,)
    values: np.ndarray  # (k, d)
    outputs: np.ndarray  # (k,)
    output_space: str

    def as_dicts(
        self, *, feature_names: Sequence[str], targets: Sequence[str]
    ) -> list[dict[str, Any]]:
        """The decision-log shape: [{"target", "base_value", "values": {name: v}, "output"}].

        Plain floats so the record is JSON-able; one dict per output, in `targets` order.
        """
        k, d = self.values.shape
        if len(feature_names) != d:
            raise ExplainError(f"{len(feature_names)} feature names for {d} features")
        if len(targets) != k:
            raise ExplainError(f"{len(targets)} targets for {k} outputs")
        return [
            {
                "target": str(targets[j]),
                "base_value": float(self.base_values[j]),
                "values": {
                    str(name): float(v)
                    for name, v in zip(feature_names, self.values[j], strict=True)
                },
                "output": float(self.outputs[j]),
            }
            for j in range(k)
        ]


def additivity_check(
    *,
    base_values: np.ndarray,
    values: np.ndarray,
    outputs: np.ndarray,
    atol: float = ADDITIVITY_ATOL,
    rtol: float = ADDITIVITY_RTOL,
) -> None:
    """Raise AdditivityError unless base + sum(values) == output for every output."""
    residual = base_values + values.sum(axis=-1) - outputs
    bound = atol + rtol * np.abs(outputs)
    bad = np.flatnonzero(~(np.abs(residual) <= bound))  # also catches NaN
    if bad.size:
        j = int(bad[0])
        raise AdditivityError(target=j, residual=float(residual[j]), output=float(outputs[j]))


def _as_input(x: Any, d: int) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.shape != (d,):
        raise ExplainError(f"expected one input of {d} features, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ExplainError("input has missing or non-finite values: impute before explaining")
    return arr


def _as_background(background: Any, d: int | None = None) -> np.ndarray:
    arr = np.asarray(background, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ExplainError("background must be a non-empty (n, d) array")
    if d is not None and arr.shape[1] != d:
        raise ExplainError(f"background has {arr.shape[1]} features, model expects {d}")
    if arr.shape[0] > MAX_BACKGROUND:
        raise ExplainError(f"background larger than {MAX_BACKGROUND} rows: subsample it")
    if not np.all(np.isfinite(arr)):
        raise ExplainError("background has missing or non-finite values")
    return arr


# --- Linear (logistic) models -------------------------------------------------------------


class LinearShap:
    """Exact interventional SHAP for f(x) = W x + b (the logit of a logistic model).

    Args:
        weight: (k, d) or (d,) coefficients.
        bias: (k,) or scalar intercepts.
        background: (n, d) sample whose mean is the interventional reference (a single
            mean row is accepted too); never a zeros row, which would explain against a
            patient who does not exist.
    """

    def __init__(self, *, weight: Any, bias: Any, background: Any) -> None:
        w = np.atleast_2d(np.asarray(weight, dtype=np.float64))
        b = np.atleast_1d(np.asarray(bias, dtype=np.float64)).reshape(-1)
        if b.shape[0] != w.shape[0]:
            raise ExplainError(f"bias has {b.shape[0]} entries for {w.shape[0]} outputs")
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            raise ExplainError("weights must be finite")
        bg = _as_background(background, w.shape[1])
        self.weight = w
        self.bias = b
        self.mean = bg.mean(axis=0)
        self.base_values = w @ self.mean + b
        self.n_features = w.shape[1]
        self.n_outputs = w.shape[0]
        self.output_space = "logit"

    @classmethod
    def from_torch(cls, model: Any, *, background: Any) -> LinearShap:
        """Build from a torch Linear or Sequential(Linear[, Sigmoid]) (logit space)."""
        layers = _torch_layers(model)
        if layers and layers[-1][0] == "act" and layers[-1][1] == "sigmoid":
            layers = layers[:-1]
        if len(layers) != 1 or layers[0][0] != "linear":
            raise UnsupportedModelError("LinearShap needs a single Linear layer (+ Sigmoid)")
        _, weight, bias = layers[0]
        return cls(weight=weight, bias=bias, background=background)

    def forward(self, x: Any) -> np.ndarray:
        """The logit(s) of one input (same interface as DeepLiftShap.forward)."""
        return self.weight @ _as_input(x, self.n_features) + self.bias

    def explain(self, x: Any) -> Attribution:
        """SHAP values of one input; additivity checked."""
        arr = _as_input(x, self.n_features)
        values = self.weight * (arr - self.mean)
        outputs = self.weight @ arr + self.bias
        additivity_check(base_values=self.base_values, values=values, outputs=outputs)
        return Attribution(self.base_values.copy(), values, outputs, self.output_space)


# --- Linear / element-wise MLPs (DeepLIFT rescale, averaged over a background) -----------


def _leaky(slope: float) -> tuple[Callable[[np.ndarray], np.ndarray], Callable]:
    return (
        lambda z: np.where(z > 0, z, slope * z),
        lambda z: np.where(z > 0, 1.0, slope),
    )


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic


def _elu(alpha: float) -> tuple[Callable[[np.ndarray], np.ndarray], Callable]:
    return (
        lambda z: np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0))),
        lambda z: np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0))),
    )


def _activation(name: str, param: float = 0.0) -> tuple[Callable, Callable]:
    if name == "relu":
        return _leaky(0.0)
    if name == "leaky_relu":
        return _leaky(param)
    if name == "sigmoid":
        return _sigmoid, lambda z: _sigmoid(z) * (1.0 - _sigmoid(z))
    if name == "tanh":
        return np.tanh, lambda z: 1.0 - np.tanh(z) ** 2
    if name == "softplus":  # torch default beta=1, threshold only affects float32 rounding
        return lambda z: np.logaddexp(0.0, z), _sigmoid
    if name == "elu":
        return _elu(param)
    raise UnsupportedModelError(f"activation {name!r} is not supported")


# A layer: ("linear", W (out, in), b (out,)) or ("act", name, param).
Layer = tuple[Any, ...]


def _torch_layers(model: Any) -> list[Layer]:
    """Flatten a torch module into linear / activation steps (weights copied as float64)."""
    from torch import nn  # local: the linear path and numpy users need no torch import

    modules = list(model.modules()) if isinstance(model, nn.Sequential) else [model]
    layers: list[Layer] = []
    for module in modules:
        if isinstance(module, nn.Sequential | nn.Identity | nn.Dropout | nn.Flatten):
            continue
        if isinstance(module, nn.Linear):
            w = module.weight.detach().cpu().double().numpy().copy()
            b = (
                module.bias.detach().cpu().double().numpy().copy()
                if module.bias is not None
                else np.zeros(w.shape[0])
            )
            layers.append(("linear", w, b))
        elif isinstance(module, nn.ReLU):
            layers.append(("act", "relu", 0.0))
        elif isinstance(module, nn.LeakyReLU):
            layers.append(("act", "leaky_relu", float(module.negative_slope)))
        elif isinstance(module, nn.Sigmoid):
            layers.append(("act", "sigmoid", 0.0))
        elif isinstance(module, nn.Tanh):
            layers.append(("act", "tanh", 0.0))
        elif isinstance(module, nn.Softplus) and module.beta == 1:
            layers.append(("act", "softplus", 0.0))
        elif isinstance(module, nn.ELU):
            layers.append(("act", "elu", float(module.alpha)))
        else:
            raise UnsupportedModelError(
                f"layer {type(module).__name__} is not supported: use Linear and "
                "element-wise activations (ReLU, LeakyReLU, Tanh, Sigmoid, Softplus, ELU)"
            )
    if not layers or layers[0][0] != "linear":
        raise UnsupportedModelError("the model must start with a Linear layer")
    return layers


class DeepLiftShap:
    """DeepLIFT (rescale rule) SHAP for an MLP, averaged over a background sample.

    Equal to `shap.DeepExplainer` on the same model and background. Per explanation it does
    one forward pass for the input and one backward pass of multipliers for all references
    and outputs at once; the background's forward pass is cached here.

    Args:
        layers: steps as produced by `from_torch` (prefer that constructor).
        background: (n, d) reference sample, e.g. a fixed training subsample.
        output_space: "model" explains what the network outputs; "logit" drops a final
            Sigmoid so a classifier is explained in logit space (as LinearShap is).
    """

    def __init__(
        self, *, layers: Sequence[Layer], background: Any, output_space: OutputSpace = "model"
    ) -> None:
        steps = list(layers)
        if output_space == "logit":
            if not (steps and steps[-1][0] == "act" and steps[-1][1] == "sigmoid"):
                raise UnsupportedModelError("output_space='logit' needs a final Sigmoid")
            steps = steps[:-1]
        elif output_space != "model":
            raise ExplainError(f"unknown output_space {output_space!r}")
        if not steps or steps[0][0] != "linear":
            raise UnsupportedModelError("the model must start with a Linear layer")
        self.output_space = output_space
        self.n_features = steps[0][1].shape[1]
        self._linears: list[tuple[np.ndarray, np.ndarray]] = []
        self._acts: list[tuple[Callable, Callable] | None] = []
        # Normalize to alternating (linear, optional activation) pairs; consecutive
        # activations are composed by keeping them as separate pairs with identity linears.
        for step in steps:
            if step[0] == "linear":
                w, b = np.asarray(step[1], np.float64), np.asarray(step[2], np.float64)
                if self._linears and self._linears[-1][0].shape[0] != w.shape[1]:
                    raise UnsupportedModelError("Linear layer shapes do not chain")
                self._linears.append((w, b))
                self._acts.append(None)
            else:
                fn = _activation(step[1], step[2])
                if self._acts[-1] is not None:
                    width = self._linears[-1][0].shape[0]
                    self._linears.append((np.eye(width), np.zeros(width)))
                    self._acts.append(fn)
                else:
                    self._acts[-1] = fn
        self.n_outputs = self._linears[-1][0].shape[0]
        self.background = _as_background(background, self.n_features)
        # Cached forward pass of the references: pre- and post-activation per layer.
        self._bg_pre: list[np.ndarray] = []
        self._bg_post: list[np.ndarray] = []
        h = self.background
        for (w, b), act in zip(self._linears, self._acts, strict=True):
            z = h @ w.T + b
            h = z if act is None else act[0](z)
            self._bg_pre.append(z)
            self._bg_post.append(h)
        self.background_outputs = h
        self.base_values = h.mean(axis=0)

    @classmethod
    def from_torch(
        cls, model: Any, *, background: Any, output_space: OutputSpace = "model"
    ) -> DeepLiftShap:
        """Read a torch MLP (eval mode) and check our float64 pass reproduces it."""
        import torch

        explainer = cls(
            layers=_torch_layers(model), background=background, output_space=output_space
        )
        was_training = model.training
        model.eval()
        try:
            dtype = next(model.parameters()).dtype
            with torch.no_grad():
                ref = model(torch.as_tensor(explainer.background, dtype=dtype))
        finally:
            model.train(was_training)
        ref_np = ref.double().cpu().numpy().reshape(explainer.background.shape[0], -1)
        if output_space == "logit":
            ref_np = np.log(np.clip(ref_np, 1e-12, 1.0)) - np.log(np.clip(1 - ref_np, 1e-12, 1))
            mask = (ref_np > -20) & (ref_np < 20)  # logit of a saturated float32 is noise
        else:
            mask = np.ones_like(ref_np, dtype=bool)
        mine = explainer.background_outputs
        scale = 1.0 + np.abs(mine)
        if ref_np.shape != mine.shape or np.any(
            (np.abs(ref_np - mine) / scale)[mask] > TORCH_MATCH_TOL
        ):
            raise UnsupportedModelError("the explainer's forward pass does not match the model")
        return explainer

    def forward(self, x: Any) -> np.ndarray:
        """Model output(s) for one input in the explained output space."""
        h = _as_input(x, self.n_features)
        for (w, b), act in zip(self._linears, self._acts, strict=True):
            h = w @ h + b
            if act is not None:
                h = act[0](h)
        return h

    def explain(self, x: Any) -> Attribution:
        """SHAP values of one input for every output; additivity checked."""
        arr = _as_input(x, self.n_features)
        pre: list[np.ndarray] = []
        h = arr
        for (w, b), act in zip(self._linears, self._acts, strict=True):
            z = w @ h + b
            h = z if act is None else act[0](z)
            pre.append(z)
        outputs = h
        # Multipliers d(output_j)/d(layer input) under the rescale rule, for all references
        # (n) and outputs (k) at once. Until the first activation they do not depend on the
        # reference, so they stay one (k, width) matrix; after it, (n, k, width). The stacked
        # matmul is kept on purpose: one (n*k, width) GEMM would let a multithreaded BLAS
        # spin up threads for a tiny product, ~10x slower on a busy 2-core server.
        n, k = self.background.shape[0], self.n_outputs
        shared: np.ndarray | None = np.eye(k)
        mult = np.empty(0)
        for i in range(len(self._linears) - 1, -1, -1):
            w, _ = self._linears[i]
            act = self._acts[i]
            if act is not None:
                z, z_ref = pre[i], self._bg_pre[i]
                delta_in = z - z_ref  # (n, width)
                delta_out = act[0](z) - self._bg_post[i]
                small = np.abs(delta_in) < RESCALE_EPS
                if small.any():
                    ratio = delta_out / np.where(small, 1.0, delta_in)
                    rescale = np.where(small, act[1](np.broadcast_to(z, delta_in.shape)), ratio)
                else:
                    rescale = delta_out / delta_in
                if shared is not None:
                    mult = shared[None, :, :] * rescale[:, None, :]
                    shared = None
                else:
                    mult = mult * rescale[:, None, :]
            if shared is not None:
                shared = shared @ w
            else:
                mult = mult @ w
        delta = arr - self.background
        if shared is not None:  # no activation at all: a linear model
            values = shared * delta.mean(axis=0)
        else:
            values = np.einsum("nkd,nd->kd", mult, delta) / n
        additivity_check(base_values=self.base_values, values=values, outputs=outputs)
        return Attribution(self.base_values.copy(), values, outputs, self.output_space)


def explainer_for(
    model: Any, *, background: Any, output_space: OutputSpace = "logit"
) -> LinearShap | DeepLiftShap:
    """The exact explainer for a served torch model.

    A single Linear (+ Sigmoid) gets exact linear SHAP in logit space; anything deeper gets
    DeepLIFT-rescale SHAP. `output_space="logit"` explains a classifier before its final
    sigmoid (the scale on which feature effects add up for both families); a network with
    no final sigmoid is explained in its own output space either way.
    """
    layers = _torch_layers(model)
    core = layers[:-1] if layers[-1][0] == "act" and layers[-1][1] == "sigmoid" else layers
    if len(core) == 1:
        return LinearShap.from_torch(model, background=background)
    has_sigmoid = len(core) < len(layers)
    return DeepLiftShap.from_torch(
        model,
        background=background,
        output_space=output_space if has_sigmoid else "model",
    )
