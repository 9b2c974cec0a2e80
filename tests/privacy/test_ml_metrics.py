from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy.ml.metrics import (
    auroc,
    membership_advantage,
    subgroup_accuracy,
    threshold_for_sensitivity,
    wilson_ci,
)


def test_wilson_interval_matches_the_textbook_value() -> None:
    # Newcombe RG, Stat Med 1998;17:857, example: 81/263 -> 0.2553 to 0.3662
    lo, hi = wilson_ci(81, 263)
    assert round(lo, 4) == 0.2553 and round(hi, 4) == 0.3662
    assert wilson_ci(0, 10)[0] == 0.0 and abs(wilson_ci(10, 10)[1] - 1.0) < 1e-12


def test_auroc_golden_values_and_ties() -> None:
    assert auroc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == 0.75
    assert auroc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(0, 1)), min_size=2, max_size=60))
def test_auroc_agrees_with_pairwise_counting(pairs: list[tuple[bool, float]]) -> None:
    y = np.array([p[0] for p in pairs])
    s = np.array([p[1] for p in pairs])
    if y.all() or (~y).all():
        return
    pos, neg = s[y], s[~y]
    expected = (
        (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    ) / (len(pos) * len(neg))
    assert abs(auroc(y, s) - expected) < 1e-12


def test_threshold_reaches_the_target_sensitivity() -> None:
    rng = np.random.default_rng(0)
    y = rng.random(2000) < 0.3
    s = rng.random(2000) + y * 0.3
    t = threshold_for_sensitivity(y, s, 0.87)
    assert (s[y] >= t).mean() >= 0.87


def test_membership_advantage_is_zero_for_identical_losses_and_one_when_separable() -> None:
    same = membership_advantage(np.ones(100), np.ones(100))
    assert same["advantage"] <= 0.01
    sep = membership_advantage(np.zeros(100), np.ones(100))
    assert sep["advantage"] == 1.0 and sep["attack_auroc"] == 1.0


def test_subgroup_gap_is_the_spread_between_groups() -> None:
    correct = np.array([1] * 90 + [0] * 10 + [1] * 70 + [0] * 30, bool)
    fem = np.array([True] * 100 + [False] * 100)
    out = subgroup_accuracy(correct, {"sex": {"female": fem, "male": ~fem}})
    assert abs(out["sex"]["largest_gap"] - 0.2) < 1e-12
    assert out["largest_gap"]["attribute"] == "sex"
