"""Accuracy, BG-Gap and their 95% intervals: pure functions on label / prediction arrays.

Intervals
- A single accuracy k/n gets the Wilson score interval (good coverage even near 0 or 1 and for
  small n, unlike the normal approximation; never leaves [0, 1]).
- BG-Gap = accuracy(mixed_same) - accuracy(mixed_rand). In IN-9 both sets hold the *same*
  foregrounds (one mixed_same and one mixed_rand image per foreground), so the two accuracies are
  paired and strongly correlated. We use Newcombe's hybrid score interval for a difference of
  *paired* proportions (Newcombe 1998, Stat. Med. 17:2635, method 10): it combines the two Wilson
  intervals with the observed correlation (phi) of the paired outcomes, is closed-form and
  deterministic (same numbers on every run, unlike a bootstrap), and is narrower than the
  independent-samples interval when outcomes are positively correlated. When the two sets cannot be
  paired image by image (different file names), the same formula with phi = 0 gives Newcombe's
  interval for independent proportions (method 10 of Newcombe 1998, Stat. Med. 17:873); the result
  says which one was used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

__all__ = ["Gap", "Interval", "Proportion", "accuracy", "bg_gap", "confusion_matrix", "newcombe_paired",
           "newcombe_unpaired", "per_class_accuracy", "proportion", "wilson_interval"]


def check_confidence(confidence: float) -> None:
    """ValueError unless the two-sided ``confidence`` level lies in (0, 1)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")


def _z(confidence: float) -> float:
    check_confidence(confidence)
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


class _Valued:
    """Reads as its ``value`` where a number is wanted: ``float(x)``, ``f"{x:.3f}"`` (an empty format
    spec keeps the dataclass's own text)."""

    value: float

    def __float__(self) -> float:
        return float(self.value)

    def __format__(self, spec: str) -> str:
        return format(float(self.value), spec) if spec else str(self)


@dataclass(frozen=True)
class Proportion(_Valued):
    """k successes out of n with a confidence interval; ``value`` is NaN when n == 0."""

    k: int
    n: int
    value: float
    low: float
    high: float

    def to_json(self) -> dict:
        value = None if self.n == 0 else self.value
        return {"accuracy": value, "correct": self.k, "n": self.n,
                "ci95": None if self.n == 0 else [self.low, self.high]}


@dataclass(frozen=True)
class Interval(_Valued):
    """A point ``value`` with a ``(low, high)`` confidence interval and the ``method`` that made it."""

    value: float
    low: float
    high: float
    method: str


@dataclass(frozen=True)
class Gap(Interval):
    """A difference of two proportions ``value = p1 - p2`` with an interval and the method used."""

    n_pairs: int | None = None

    def to_json(self) -> dict:
        return {"value": self.value, "ci95": [self.low, self.high], "method": self.method,
                "n_pairs": self.n_pairs}


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials, within [0, 1]; (0, 1) when n == 0."""
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return 0.0, 1.0
    z = _z(confidence)
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    if k == 0:
        low = 0.0
    if k == n:
        high = 1.0
    return low, high


def proportion(k: int, n: int, confidence: float = 0.95) -> Proportion:
    low, high = wilson_interval(int(k), int(n), confidence)
    return Proportion(k=int(k), n=int(n), value=(k / n) if n else float("nan"), low=low, high=high)


def accuracy(labels: np.ndarray, preds: np.ndarray, confidence: float = 0.95) -> Proportion:
    """Share of ``preds == labels`` (int arrays of shape (N,); a prediction of -1 is always wrong)."""
    labels, preds = np.asarray(labels), np.asarray(preds)
    if labels.shape != preds.shape or labels.ndim != 1:
        raise ValueError(f"labels {labels.shape} and preds {preds.shape} must be equal 1-d shapes")
    return proportion(int(np.count_nonzero(labels == preds)), int(labels.shape[0]), confidence)


def per_class_accuracy(labels: np.ndarray, preds: np.ndarray, num_classes: int,
                       confidence: float = 0.95) -> list[Proportion]:
    """Accuracy restricted to the images of each true class 0..num_classes-1 (n may be 0)."""
    labels, preds = np.asarray(labels), np.asarray(preds)
    out = []
    for c in range(num_classes):
        sel = labels == c
        out.append(proportion(int(np.count_nonzero(preds[sel] == c)), int(np.count_nonzero(sel)), confidence))
    return out


def confusion_matrix(labels: np.ndarray, preds: np.ndarray, num_classes: int) -> np.ndarray:
    """int64 (num_classes, num_classes + 1): rows true class, columns predicted class, last column
    counts predictions outside the classes (-1, e.g. ImageNet classes outside the nine)."""
    labels, preds = np.asarray(labels, dtype=np.int64), np.asarray(preds, dtype=np.int64)
    cols = np.where((preds >= 0) & (preds < num_classes), preds, num_classes)
    matrix = np.zeros((num_classes, num_classes + 1), dtype=np.int64)
    np.add.at(matrix, (labels, cols), 1)
    return matrix


def _newcombe(p1: float, p2: float, ci1: tuple[float, float], ci2: tuple[float, float],
              phi: float) -> tuple[float, float]:
    (l1, u1), (l2, u2) = ci1, ci2
    d = p1 - p2
    delta = (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2
    eps = (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2
    low = d - math.sqrt(max(delta, 0.0))
    high = d + math.sqrt(max(eps, 0.0))
    return max(-1.0, low), min(1.0, high)


def newcombe_unpaired(k1: int, n1: int, k2: int, n2: int, confidence: float = 0.95) -> Gap:
    """p1 - p2 for independent samples with Newcombe's hybrid score interval."""
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples need at least one observation")
    p1, p2 = k1 / n1, k2 / n2
    ci1, ci2 = wilson_interval(k1, n1, confidence), wilson_interval(k2, n2, confidence)
    low, high = _newcombe(p1, p2, ci1, ci2, 0.0)
    return Gap(value=p1 - p2, low=low, high=high, method="newcombe-unpaired")


def newcombe_paired(correct1: np.ndarray, correct2: np.ndarray, confidence: float = 0.95) -> Gap:
    """mean(correct1) - mean(correct2) for paired bool outcomes of shape (N,) (pair i = same item).

    Newcombe's method 10: Wilson intervals of both proportions combined with the phi correlation
    of the 2x2 table (a both right, b only first right, c only second right, d both wrong), whose
    numerator ``ad - bc`` is reduced by n/2 when positive (floored at 0), as in the paper; phi is 0
    when a margin is empty.
    """
    c1, c2 = np.asarray(correct1, dtype=bool), np.asarray(correct2, dtype=bool)
    if c1.shape != c2.shape or c1.ndim != 1 or c1.size == 0:
        raise ValueError("paired outcomes must be two non-empty 1-d arrays of equal length")
    n = int(c1.size)
    a = int(np.count_nonzero(c1 & c2))
    b = int(np.count_nonzero(c1 & ~c2))
    c = int(np.count_nonzero(~c1 & c2))
    d = n - a - b - c
    denom = math.sqrt(float(a + b) * (c + d) * (a + c) * (b + d))
    cross = float(a * d - b * c)
    # method 10's continuity-corrected phi: shrink a positive numerator by n/2 (not below 0)
    numerator = max(cross - n / 2.0, 0.0) if cross > 0 else cross
    phi = numerator / denom if denom > 0 else 0.0
    k1, k2 = a + b, a + c
    ci1, ci2 = wilson_interval(k1, n, confidence), wilson_interval(k2, n, confidence)
    low, high = _newcombe(k1 / n, k2 / n, ci1, ci2, phi)
    return Gap(value=(k1 - k2) / n, low=low, high=high, method="newcombe-paired", n_pairs=n)


def bg_gap(same_keys: list[str], same_correct: np.ndarray, rand_keys: list[str], rand_correct: np.ndarray,
           confidence: float = 0.95) -> Gap:
    """BG-Gap = accuracy(mixed_same) - accuracy(mixed_rand) with a 95% interval.

    ``*_keys`` identify each image's foreground (e.g. ``<class>/<stem>``, the path inside the
    variant folder); ``*_correct`` are bool arrays aligned with them. When both key lists hold the
    same unique keys, outcomes are paired by key (paired interval); otherwise the two accuracies
    are treated as independent samples. The point value is always the plain difference of the two
    accuracies over all images of each set.
    """
    same_correct = np.asarray(same_correct, dtype=bool)
    rand_correct = np.asarray(rand_correct, dtype=bool)
    value = float(same_correct.mean() - rand_correct.mean())
    if len(set(same_keys)) == len(same_keys) == len(rand_keys) and set(same_keys) == set(rand_keys):
        index = {key: i for i, key in enumerate(rand_keys)}
        order = np.array([index[key] for key in same_keys], dtype=np.int64)
        gap = newcombe_paired(same_correct, rand_correct[order], confidence)
    else:
        gap = newcombe_unpaired(int(same_correct.sum()), same_correct.size,
                                int(rand_correct.sum()), rand_correct.size, confidence)
    return Gap(value=value, low=gap.low, high=gap.high, method=gap.method, n_pairs=gap.n_pairs)
