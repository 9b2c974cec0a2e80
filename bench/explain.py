"""SHAP time per decision: our exact explainers beside shap's Kernel and Deep explainers.

Run: `.venv/bin/python bench/explain.py` (about a minute on two cores). Same models, same
background (a fixed 100-row training sample, never a zeros row), same decisions, one run:

- logistic (one Linear, the served logistic shape from privacy.ml.models): our exact linear
  SHAP vs shap.LinearExplainer (exact, the reference) and shap.KernelExplainer;
- MLP recommender (Linear/ReLU, 7 candidate logits, privacy.ml.models' `mlp`): our
  DeepLIFT-rescale SHAP vs shap.DeepExplainer (the same estimand, the reference) and
  shap.KernelExplainer.

Fidelity = max |value - reference value| over every feature, output and decision. Kernel
estimates the interventional Shapley value by sampling coalitions; for the logistic model
that value is exactly linear SHAP, so its error is measured against it. For the MLP the
exact Shapley value needs 2^50 coalitions, so Kernel's error is bounded from below by the
spread between two Kernel runs with different seeds (it cannot be closer to the truth than
to itself), and a small 10-feature MLP is added where exact enumeration is possible for
both estimands. Ratios are against timings measured in this same process.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import shap

from ehr_integration.fhir.contract import FEATURE_NAMES, TASK_CANDIDATES
from privacy.ml.explain_core import DeepLiftShap, LinearShap
from privacy.ml.models import model_build

warnings.filterwarnings("ignore")


def _data(n: int, d: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    w = rng.normal(size=(d, k)) * (rng.random((d, k)) < 0.3)
    logits = x @ w + 0.5 * np.maximum(x[:, :k], 0)
    return x, logits.argmax(axis=1) if k > 1 else (logits[:, 0] > 0).astype(np.int64)


def _fit(model: torch.nn.Module, x: np.ndarray, y: np.ndarray, *, multi: bool) -> None:
    """A few hundred full-batch Adam steps: a fitted model, not a random one."""
    xt = torch.as_tensor(x, dtype=torch.float32)
    yt = torch.as_tensor(y)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss() if multi else torch.nn.BCEWithLogitsLoss()
    for _ in range(300):
        opt.zero_grad()
        out = model(xt)
        loss = loss_fn(out, yt) if multi else loss_fn(out[:, 0], yt.float())
        loss.backward()
        opt.step()
    model.eval()


_CPU_MS: dict[int, np.ndarray] = {}


def _timed(fn: Any, inputs: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """Wall time per call, plus this thread's CPU time (kept aside): on a shared machine
    the wall-clock tail is mostly waiting for a core, which CPU time leaves out."""
    results, times, cpu = [], [], []
    for x in inputs:
        start, start_cpu = time.perf_counter(), time.thread_time()
        results.append(fn(x))
        times.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
    wall = np.array(times) * 1000.0
    _CPU_MS[id(wall)] = np.array(cpu) * 1000.0
    return results, wall


def _stats(ms: np.ndarray) -> dict[str, float]:
    cpu = _CPU_MS.get(id(ms), np.array([np.nan]))
    return {
        "median_ms": float(np.median(ms)),
        "p95_ms": float(np.percentile(ms, 95)),
        "cpu_median_ms": float(np.median(cpu)),
        "cpu_p95_ms": float(np.percentile(cpu, 95)),
        "n": len(ms),
    }


def _kernel_values(explainer: Any, x: np.ndarray, nsamples: int, k: int) -> np.ndarray:
    raw = np.asarray(
        explainer.shap_values(x[None, :], nsamples=nsamples, l1_reg=False, silent=True)
    )
    return raw.reshape(x.shape[0], k).T if k > 1 else raw.reshape(1, x.shape[0])


def _deep_values(explainer: Any, x: np.ndarray, k: int) -> np.ndarray:
    raw = np.asarray(explainer.shap_values(torch.as_tensor(x[None, :], dtype=torch.float64)))
    return raw.reshape(x.shape[0], k).T


def bench_logistic(args: argparse.Namespace, x_all: np.ndarray, y: np.ndarray) -> dict:
    d = x_all.shape[1]
    torch.manual_seed(0)
    model = model_build(arch="logistic", n_in=d, n_out=1, seed=1)
    _fit(model, x_all, y, multi=False)
    background = x_all[: args.background]
    decisions = x_all[args.background : args.background + args.decisions]
    ours = LinearShap.from_torch(model, background=background)
    coef = model[0].weight.detach().double().numpy()
    intercept = model[0].bias.detach().double().numpy()
    reference = shap.LinearExplainer((coef, intercept), background)
    ours_out, ours_ms = _timed(ours.explain, decisions)
    ref_vals = [np.asarray(reference.shap_values(x[None, :])).reshape(1, d) for x in decisions]
    ours_err = max(np.abs(a.values - r).max() for a, r in zip(ours_out, ref_vals, strict=True))
    residual = max(abs(a.base_values[0] + a.values.sum() - a.outputs[0]) for a in ours_out)

    def logit(z: np.ndarray) -> np.ndarray:
        return z @ coef[0] + intercept[0]

    kernel = shap.KernelExplainer(logit, background)
    few = decisions[: args.kernel_decisions]
    kernel_out, kernel_ms = _timed(lambda x: _kernel_values(kernel, x, args.nsamples, 1), few)
    kernel_err = max(
        np.abs(v - r).max() for v, r in zip(kernel_out, ref_vals[: len(few)], strict=True)
    )
    return {
        "model": f"logistic, {d} features, 1 output (logit)",
        "ours": {
            **_stats(ours_ms),
            "max_abs_error_vs_exact": float(ours_err),
            "max_additivity_residual": float(residual),
        },
        "kernel": {
            **_stats(kernel_ms),
            "nsamples": args.nsamples,
            "max_abs_error_vs_exact": float(kernel_err),
        },
        "speedup_vs_kernel": float(np.median(kernel_ms) / np.median(ours_ms)),
    }


def bench_mlp(args: argparse.Namespace, x_all: np.ndarray, y: np.ndarray, k: int) -> dict:
    d = x_all.shape[1]
    model = model_build(arch="mlp", n_in=d, n_out=k, hidden=64, seed=2)
    _fit(model, x_all, y, multi=True)
    background = x_all[: args.background]
    decisions = x_all[args.background : args.background + args.decisions]
    ours = DeepLiftShap.from_torch(model, background=background)
    ours_out, ours_ms = _timed(ours.explain, decisions)
    residual = max(
        float(np.abs(a.base_values + a.values.sum(axis=1) - a.outputs).max()) for a in ours_out
    )
    # The reference runs on a float64 copy: a float32 DeepExplainer differs from any float64
    # computation by ~1e-5 of rounding alone, which would hide a real disagreement.
    import copy

    deep = shap.DeepExplainer(
        copy.deepcopy(model).double(), torch.as_tensor(background, dtype=torch.float64)
    )
    few_deep = decisions[: args.deep_decisions]
    deep_out, deep_ms = _timed(lambda x: _deep_values(deep, x, k), few_deep)
    ours_err = max(
        np.abs(a.values - r).max() for a, r in zip(ours_out[: len(deep_out)], deep_out, strict=True)
    )

    def f(z: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.as_tensor(z, dtype=torch.float32)).double().numpy()

    kernel = shap.KernelExplainer(f, background)
    few = decisions[: args.kernel_decisions]
    np.random.seed(11)
    kernel_out, kernel_ms = _timed(lambda x: _kernel_values(kernel, x, args.nsamples, k), few)
    np.random.seed(12)
    kernel_again = [_kernel_values(kernel, x, args.nsamples, k) for x in few[:3]]
    spread = max(np.abs(a - b).max() for a, b in zip(kernel_out[:3], kernel_again, strict=True))
    return {
        "model": f"MLP {d}-64-64-{k} (ReLU), {k} candidate logits",
        "ours": {
            **_stats(ours_ms),
            "max_abs_error_vs_deep_explainer": float(ours_err),
            "max_additivity_residual": residual,
        },
        "deep_explainer": _stats(deep_ms),
        "kernel": {
            **_stats(kernel_ms),
            "nsamples": args.nsamples,
            "seed_to_seed_spread": float(spread),
        },
        "speedup_vs_kernel": float(np.median(kernel_ms) / np.median(ours_ms)),
        "speedup_vs_deep_explainer": float(np.median(deep_ms) / np.median(ours_ms)),
    }


def _exact_shapley(f: Any, x: np.ndarray, background: np.ndarray) -> np.ndarray:
    d = x.shape[0]
    values: dict[tuple[int, ...], np.ndarray] = {}
    for size in range(d + 1):
        for subset in itertools.combinations(range(d), size):
            mixed = background.copy()
            mixed[:, list(subset)] = x[list(subset)]
            values[subset] = f(mixed).mean(axis=0)
    phi = np.zeros((values[()].shape[0], d))
    for i in range(d):
        for subset, v in values.items():
            if i in subset:
                continue
            s = len(subset)
            weight = math.factorial(s) * math.factorial(d - s - 1) / math.factorial(d)
            phi[:, i] += weight * (values[tuple(sorted((*subset, i)))] - v)
    return phi


def bench_small_mlp_vs_exact(args: argparse.Namespace) -> dict:
    """10 features: exact interventional Shapley by enumeration, for ours and for Kernel."""
    d, k = 10, 1
    x_all, y = _data(2000, d, 2, seed=5)
    model = model_build(arch="mlp", n_in=d, n_out=2, hidden=32, seed=3)
    _fit(model, x_all, y, multi=True)
    background = x_all[:50]
    decisions = x_all[50:55]

    def f(z: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.as_tensor(z, dtype=torch.float32)).double().numpy()

    ours = DeepLiftShap.from_torch(model, background=background)
    kernel = shap.KernelExplainer(f, background)
    ours_err, kernel_err, scale = 0.0, 0.0, 0.0
    for x in decisions:
        exact = _exact_shapley(f, x, background)
        scale = max(scale, float(np.abs(exact).max()))
        ours_err = max(ours_err, float(np.abs(ours.explain(x).values - exact).max()))
        kernel_vals = _kernel_values(kernel, x, 2 * d + 2048, 2)
        kernel_err = max(kernel_err, float(np.abs(kernel_vals - exact).max()))
    del k
    return {
        "model": "MLP 10-32-32-2 (ReLU), exact Shapley by enumerating 1,024 coalitions",
        "ours_deeplift_max_abs_error_vs_exact_shapley": ours_err,
        "kernel_max_abs_error_vs_exact_shapley": kernel_err,
        "max_abs_exact_shapley_value": scale,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=500)
    parser.add_argument("--kernel-decisions", type=int, default=10)
    parser.add_argument("--deep-decisions", type=int, default=30)
    parser.add_argument("--background", type=int, default=100)
    parser.add_argument("--nsamples", type=int, default=2 * len(FEATURE_NAMES) + 2048)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    d = len(FEATURE_NAMES)
    k = len(TASK_CANDIDATES["t2d_drug"])
    n = args.background + args.decisions
    x_bin, y_bin = _data(max(n, 4000), d, 1, seed=1)
    x_multi, y_multi = _data(max(n, 4000), d, k, seed=2)
    report = {
        "machine": f"{platform.machine()}, {platform.python_version()}, torch threads 1",
        "background_rows": args.background,
        "logistic": bench_logistic(args, x_bin, y_bin),
        "mlp": bench_mlp(args, x_multi, y_multi, k),
        "small_mlp_exact": bench_small_mlp_vs_exact(args),
    }
    lg, mlp = report["logistic"], report["mlp"]
    print(f"SHAP per decision ({args.background}-row background; Kernel nsamples {args.nsamples})")
    print(f"  {lg['model']}")
    print(
        f"    ours (exact linear)  median {lg['ours']['median_ms']:.3f} ms  "
        f"p95 {lg['ours']['p95_ms']:.3f} ms (CPU p95 {lg['ours']['cpu_p95_ms']:.3f} ms)  "
        f"max err vs exact {lg['ours']['max_abs_error_vs_exact']:.1e}"
    )
    print(
        f"    KernelExplainer      median {lg['kernel']['median_ms']:.1f} ms  "
        f"max err vs exact {lg['kernel']['max_abs_error_vs_exact']:.1e}   "
        f"-> ours {lg['speedup_vs_kernel']:,.0f}x faster"
    )
    print(f"  {mlp['model']}")
    print(
        f"    ours (DeepLIFT)      median {mlp['ours']['median_ms']:.3f} ms  "
        f"p95 {mlp['ours']['p95_ms']:.3f} ms (CPU p95 {mlp['ours']['cpu_p95_ms']:.3f} ms)  "
        "max err vs DeepExplainer "
        f"{mlp['ours']['max_abs_error_vs_deep_explainer']:.1e}  additivity residual "
        f"{mlp['ours']['max_additivity_residual']:.1e}"
    )
    print(
        f"    DeepExplainer        median {mlp['deep_explainer']['median_ms']:.1f} ms   "
        f"-> ours {mlp['speedup_vs_deep_explainer']:,.0f}x faster"
    )
    print(
        f"    KernelExplainer      median {mlp['kernel']['median_ms']:.1f} ms  seed-to-seed "
        f"spread {mlp['kernel']['seed_to_seed_spread']:.1e}   "
        f"-> ours {mlp['speedup_vs_kernel']:,.0f}x faster"
    )
    sm = report["small_mlp_exact"]
    print(f"  {sm['model']}")
    print(
        f"    max err vs exact Shapley: ours (DeepLIFT) "
        f"{sm['ours_deeplift_max_abs_error_vs_exact_shapley']:.1e}, Kernel "
        f"{sm['kernel_max_abs_error_vs_exact_shapley']:.1e} (largest exact value "
        f"{sm['max_abs_exact_shapley_value']:.2f}; DeepLIFT is additive but not the Shapley "
        "value of a nonlinear net)"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
