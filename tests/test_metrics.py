"""Metrics against published worked examples and against their definitions."""

from __future__ import annotations

import numpy as np
import pytest

from bgbench.metrics import (
    accuracy,
    bg_gap,
    confusion_matrix,
    newcombe_paired,
    newcombe_unpaired,
    per_class_accuracy,
    wilson_interval,
)


def paired_outcomes(a: int, b: int, c: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Bool outcome pairs from a 2x2 table (a both right, b only first, c only second, d neither)."""
    first = np.array([1] * a + [1] * b + [0] * c + [0] * d, dtype=bool)
    second = np.array([1] * a + [0] * b + [1] * c + [0] * d, dtype=bool)
    return first, second


def test_wilson_matches_published_values_and_edges():
    # Newcombe (1998, Stat Med 17:857) Table I: 81/263 -> 0.2553, 0.3662; 8/10 -> 0.4902, 0.9433
    assert wilson_interval(81, 263) == pytest.approx((0.2553, 0.3662), abs=5e-5)
    assert wilson_interval(8, 10) == pytest.approx((0.4902, 0.9433), abs=5e-5)
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=5e-5)
    assert wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_accuracy_counts_unmapped_predictions_as_wrong():
    labels = np.array([0, 1, 2, 3, 4])
    preds = np.array([0, 1, -1, 3, 8])
    result = accuracy(labels, preds)
    assert (result.k, result.n, result.value) == (3, 5, 0.6)
    assert result.low < 0.6 < result.high
    assert result.to_json()["ci95"] == [result.low, result.high]


def test_per_class_accuracy_and_confusion():
    labels = np.array([0, 0, 0, 1, 1, 2])
    preds = np.array([0, 1, -1, 1, 1, 0])
    per_class = per_class_accuracy(labels, preds, 4)
    assert [(p.k, p.n) for p in per_class] == [(1, 3), (2, 2), (0, 1), (0, 0)]
    assert per_class[3].to_json()["accuracy"] is None
    matrix = confusion_matrix(labels, preds, 3)
    assert matrix.tolist() == [[1, 1, 0, 1], [0, 2, 0, 0], [1, 0, 0, 0]]


def test_newcombe_unpaired_matches_paper_example():
    # Newcombe (1998, Stat Med 17:873) example (a): 56/70 - 48/80, method 10: 0.0524 to 0.3339
    gap = newcombe_unpaired(56, 70, 48, 80)
    assert gap.value == pytest.approx(0.2)
    assert (gap.low, gap.high) == pytest.approx((0.0524, 0.3339), abs=5e-5)


def test_newcombe_paired_matches_worked_example():
    # Altman et al., Statistics with Confidence (2000), Table 6.2: 14, 5, 0, 22 -> 0.122 (0.011, 0.226)
    gap = newcombe_paired(*paired_outcomes(14, 5, 0, 22))
    assert gap.value == pytest.approx(5 / 41)
    assert (gap.low, gap.high) == pytest.approx((0.0115, 0.2265), abs=5e-4)
    assert gap.n_pairs == 41 and gap.method == "newcombe-paired"


def test_paired_interval_is_narrower_for_correlated_outcomes_and_covers():
    rng = np.random.default_rng(0)
    n, trials, covered, widths_paired, widths_unpaired = 300, 400, 0, [], []
    for _ in range(trials):
        # correlated outcomes: the same "easy" foregrounds tend to be right in both sets
        u = rng.random(n)
        first = u < 0.80
        second = (u < 0.70) ^ (rng.random(n) < 0.05)
        true_second = 0.70 * 0.95 + 0.30 * 0.05
        gap = newcombe_paired(first, second)
        covered += gap.low <= 0.80 - true_second <= gap.high
        widths_paired.append(gap.high - gap.low)
        unpaired = newcombe_unpaired(int(first.sum()), n, int(second.sum()), n)
        widths_unpaired.append(unpaired.high - unpaired.low)
    assert 0.92 <= covered / trials <= 0.99
    assert np.mean(widths_paired) < 0.7 * np.mean(widths_unpaired)


def test_bg_gap_pairs_by_key_and_falls_back_to_unpaired():
    same_keys = ["c/a", "c/b", "c/c", "c/d"]
    rand_keys = ["c/d", "c/c", "c/b", "c/a"]  # same foregrounds, other order
    same = np.array([True, True, True, False])
    rand = np.array([False, True, False, True])  # aligned with rand_keys: d wrong, c right, b wrong, a right
    gap = bg_gap(same_keys, same, rand_keys, rand)
    assert gap.method == "newcombe-paired" and gap.value == pytest.approx(0.75 - 0.5)
    reference = newcombe_paired(same, np.array([True, False, True, False]))
    assert (gap.low, gap.high) == (reference.low, reference.high)
    other = bg_gap(same_keys, same, ["x/1", "x/2", "x/3"], np.array([True, False, False]))
    assert other.method == "newcombe-unpaired" and other.value == pytest.approx(0.75 - 1 / 3)
