"""Evaluation metrics with confidence intervals, subgroup gaps and membership inference.

Why Wilson intervals for proportions and a percentile bootstrap for AUROC/regret: Wilson
keeps its coverage near 0 and 1 where accuracy and sensitivity live; AUROC has no simple
closed form interval that holds for small subgroups. All functions are pure numpy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np


def wilson_ci(successes: int, n: int, *, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson EB, JASA 1927)."""
    if n <= 0:
        return (math.nan, math.nan)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def proportion(successes: int, n: int) -> dict[str, float]:
    lo, hi = wilson_ci(successes, n)
    return {"value": successes / n if n else math.nan, "ci_low": lo, "ci_high": hi, "n": n}


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve via the rank-sum (Mann-Whitney U) with midranks for ties."""
    y = np.asarray(y).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    order = np.argsort(score, kind="mergesort")
    s = np.asarray(score)[order]
    ranks = np.empty(len(s))
    # midranks: equal scores share the mean of their positions
    _, start, counts = np.unique(s, return_index=True, return_counts=True)
    mid = start + (counts - 1) / 2.0 + 1.0
    ranks_sorted = np.repeat(mid, counts)
    ranks[order] = ranks_sorted
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def bootstrap_ci(
    stat: Callable[[np.ndarray], float], n: int, *, n_boot: int = 200, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap: `stat` takes an index array into the evaluation sample."""
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_boot):
        v = stat(rng.integers(0, n, n))
        if math.isfinite(v):
            vals.append(v)
    if not vals:
        return (math.nan, math.nan)
    return (float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5)))


def threshold_for_sensitivity(y: np.ndarray, score: np.ndarray, target: float) -> float:
    """The highest threshold whose sensitivity (score >= t) reaches `target` on (y, score)."""
    pos = np.sort(np.asarray(score)[np.asarray(y).astype(bool)])
    if pos.size == 0:
        return 0.5
    k = math.floor((1.0 - target) * pos.size)
    return float(pos[min(k, pos.size - 1)])


def binary_metrics(
    y: np.ndarray, score: np.ndarray, threshold: float, *, seed: int = 0
) -> dict[str, object]:
    """Sensitivity/specificity (Wilson), AUROC (bootstrap), calibration (ECE, Brier)."""
    y = np.asarray(y).astype(bool)
    score = np.asarray(score, float)
    pred = score >= threshold
    tp, fn = int((pred & y).sum()), int((~pred & y).sum())
    tn, fp = int((~pred & ~y).sum()), int((pred & ~y).sum())
    auc = auroc(y, score)
    auc_ci = bootstrap_ci(lambda i: auroc(y[i], score[i]), len(y), n_boot=100, seed=seed)
    return {
        "threshold": threshold,
        "prevalence": float(y.mean()) if len(y) else math.nan,
        "sensitivity": proportion(tp, tp + fn),
        "specificity": proportion(tn, tn + fp),
        "ppv": proportion(tp, tp + fp),
        "auroc": {"value": auc, "ci_low": auc_ci[0], "ci_high": auc_ci[1], "n": len(y)},
        "calibration": calibration(y, score),
    }


def calibration(y: np.ndarray, p: np.ndarray, *, bins: int = 10) -> dict[str, object]:
    """Expected calibration error over equal-width bins, Brier score, and the bins."""
    y = np.asarray(y, float)
    p = np.clip(np.asarray(p, float), 0, 1)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            mp, my = float(p[m].mean()), float(y[m].mean())
            ece += m.mean() * abs(mp - my)
            table.append({"bin": b, "n": int(m.sum()), "mean_predicted": mp, "observed": my})
    return {
        "ece": float(ece),
        "brier": float(np.mean((p - y) ** 2)) if len(y) else math.nan,
        "bins": table,
    }


AGE_BANDS = ((0, 50, "<50"), (50, 65, "50-64"), (65, 75, "65-74"), (75, 200, ">=75"))


def subgroups(features: Mapping[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """Masks for sex, age band and race (Black / not Black) from raw feature columns."""
    age, fem, black = features["age_years"], features["sex_female"], features["race_black"]
    return {
        "sex": {"female": fem == 1, "male": fem == 0},
        "age_band": {name: (age >= lo) & (age < hi) for lo, hi, name in AGE_BANDS},
        "race": {"black": black == 1, "not_black": black == 0},
    }


def subgroup_accuracy(
    correct: np.ndarray, groups: Mapping[str, Mapping[str, np.ndarray]]
) -> dict[str, object]:
    """Accuracy per subgroup with Wilson CIs and the largest gap within each attribute."""
    out: dict[str, object] = {}
    worst: dict[str, Any] = {"attribute": None, "gap": 0.0}
    for attr, masks in groups.items():
        rows = {}
        for name, m in masks.items():
            n = int(m.sum())
            if n:
                rows[name] = proportion(int(correct[m].sum()), n)
        vals = [r["value"] for r in rows.values() if r["n"] >= 30]
        gap = float(max(vals) - min(vals)) if len(vals) >= 2 else math.nan
        out[attr] = {"groups": rows, "largest_gap": gap}
        if math.isfinite(gap) and gap > worst["gap"]:
            worst = {"attribute": attr, "gap": gap}
    out["largest_gap"] = worst
    return out


def membership_advantage(loss_members: np.ndarray, loss_nonmembers: np.ndarray) -> dict[str, float]:
    """Loss-threshold membership inference (Yeom S et al., CSF 2018): the attacker says
    "member" when the loss is below a threshold. Advantage = max over thresholds of
    TPR - FPR (0 = no better than chance); AUROC of the attack beside it. Equal-size samples
    are expected (the caller draws them) so the base rate is 1/2."""
    lm, ln = np.asarray(loss_members, float), np.asarray(loss_nonmembers, float)
    y = np.concatenate([np.ones(len(lm), bool), np.zeros(len(ln), bool)])
    s = -np.concatenate([lm, ln])
    order = np.argsort(-s, kind="mergesort")
    ys, ss = y[order], s[order]
    tpr = np.cumsum(ys) / max(1, ys.sum())
    fpr = np.cumsum(~ys) / max(1, (~ys).sum())
    # Thresholds sit between distinct scores only: tied losses cannot be told apart.
    cut = np.r_[ss[1:] != ss[:-1], True] if len(ss) else np.zeros(0, bool)
    gaps = np.r_[0.0, (tpr - fpr)[cut]]
    return {
        "advantage": float(np.max(gaps)) if len(ys) else math.nan,
        "attack_auroc": auroc(y, s),
        "n_members": len(lm),
        "n_nonmembers": len(ln),
    }
