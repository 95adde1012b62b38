"""Small statistics helpers for studies across models: ranks, Spearman's rho, means with intervals.

Pure numpy (no scipy), deterministic for a given ``seed``. Conventions:

- Inputs are 1-d float arrays (or lists); NaN values are not allowed (drop them before calling).
- Intervals are two-sided, ``confidence`` in (0, 1) (default 0.95), returned as ``(low, high)``.
- Bootstrap intervals are percentile intervals over ``n_boot`` resamples drawn with
  ``numpy.random.default_rng(seed)``; resamples on which the statistic is undefined (e.g. a
  resample of identical models has no rank correlation) are left out and counted.

For single accuracies and the paired BG-Gap use :mod:`bgbench.metrics` (Wilson / Newcombe); this
module is for statistics *over models* (Spearman across a model zoo, the mean BG-Gap of a zoo) and
for resampling images shared by several models (:func:`bootstrap_mean_over_items`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bgbench.metrics import Interval, check_confidence

__all__ = ["Estimate", "bootstrap_mean_over_items", "bootstrap_ratio_over_clusters", "mean_interval",
           "rankdata", "spearman",
           "spearman_bootstrap", "t_quantile"]


@dataclass(frozen=True)
class Estimate(Interval):
    """A point value with a ``(low, high)`` interval and how it was made.

    ``n``: number of units (models, images) behind it; ``n_boot_used``: bootstrap resamples that gave
    a defined value (None for closed-form intervals). ``low``/``high`` are NaN when undefined.
    """

    n: int
    n_boot_used: int | None = None

    def to_json(self) -> dict:
        def num(x: float) -> float | None:
            return None if x is None or not math.isfinite(x) else float(x)

        return {"value": num(self.value), "ci95": [num(self.low), num(self.high)], "method": self.method,
                "n": self.n, "n_boot_used": self.n_boot_used}


def _vector(x, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-d, got shape {a.shape}")
    if np.isnan(a).any():
        raise ValueError(f"{name} contains NaN")
    return a


def _pair(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Two 1-d float64 arrays of the same length (paired values), checked as :func:`_vector`."""
    a, b = _vector(x, "x"), _vector(y, "y")
    if a.shape != b.shape:
        raise ValueError(f"x {a.shape} and y {b.shape} must have the same length")
    return a, b


def _percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """The central ``confidence`` share of 1-d ``values`` (percentile interval of a bootstrap)."""
    alpha = (1.0 - confidence) / 2.0
    low, high = (float(v) for v in np.quantile(values, [alpha, 1.0 - alpha]))
    return low, high


def rankdata(x) -> np.ndarray:
    """Ranks 1..n of a 1-d array (float64 (n,)); ties get the average of the ranks they span."""
    a = _vector(x, "x")
    n = a.size
    order = np.argsort(a, kind="mergesort")
    sorted_a = a[order]
    ranks = np.empty(n, dtype=np.float64)
    if n == 0:
        return ranks
    # boundaries of runs of equal values in sorted order
    starts = np.flatnonzero(np.r_[True, sorted_a[1:] != sorted_a[:-1]])
    ends = np.r_[starts[1:], n]
    for s, e in zip(starts, ends, strict=True):
        ranks[order[s:e]] = (s + 1 + e) / 2.0  # mean of ranks s+1 .. e
    return ranks


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    da, db = a - a.mean(), b - b.mean()
    denom = math.sqrt(float(da @ da) * float(db @ db))
    return float(da @ db) / denom if denom > 0 else float("nan")


def spearman(x, y) -> float:
    """Spearman's rank correlation in [-1, 1] (Pearson correlation of average ranks, so ties are
    handled); NaN when either input is constant or has fewer than 2 values."""
    a, b = _pair(x, y)
    if a.size < 2:
        return float("nan")
    return _pearson(rankdata(a), rankdata(b))


def spearman_bootstrap(x, y, *, n_boot: int = 10000, confidence: float = 0.95, seed: int = 0) -> Estimate:
    """Spearman's rho of paired values (e.g. one pair per model) with a percentile bootstrap interval
    over the pairs: each resample draws n pairs with replacement; resamples where either side is
    constant (rho undefined) are dropped and ``n_boot_used`` says how many remained."""
    check_confidence(confidence)
    a, b = _pair(x, y)
    rho = spearman(a, b)
    n = a.size
    if n < 3 or not math.isfinite(rho):
        return Estimate(rho, float("nan"), float("nan"), "spearman, percentile bootstrap over pairs", n, 0)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    values = np.array([spearman(a[i], b[i]) for i in idx])
    values = values[np.isfinite(values)]
    if values.size == 0:
        low = high = float("nan")
    else:
        low, high = _percentile_interval(values, confidence)
    return Estimate(rho, low, high, "spearman, percentile bootstrap over pairs", n, int(values.size))


def _t_cdf(t: float, df: float) -> float:
    """Student t CDF by Simpson integration of the density from 0 (accurate to ~1e-10 here)."""
    if t == 0.0:
        return 0.5
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    m = 2000  # even number of Simpson intervals
    grid = np.linspace(0.0, abs(t), m + 1)
    dens = np.exp(log_norm - (df + 1) / 2 * np.log1p(grid * grid / df))
    h = abs(t) / m
    area = h / 3 * (dens[0] + dens[-1] + 4 * dens[1:-1:2].sum() + 2 * dens[2:-1:2].sum())
    return 0.5 + area if t > 0 else 0.5 - area


def t_quantile(p: float, df: float) -> float:
    """Quantile of Student's t with ``df`` > 0 degrees of freedom at probability ``p`` in (0, 1)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be in (0, 1)")
    if df <= 0:
        raise ValueError("df must be positive")
    if p == 0.5:
        return 0.0
    target = max(p, 1 - p)
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, df) < target:
        hi *= 2.0
        if hi > 1e8:
            break
    for _ in range(80):  # bisection to double precision
        mid = (lo + hi) / 2
        if _t_cdf(mid, df) < target:
            lo = mid
        else:
            hi = mid
    q = (lo + hi) / 2
    return q if p > 0.5 else -q


def mean_interval(values, *, method: str = "t", confidence: float = 0.95, n_boot: int = 10000,
                  seed: int = 0) -> Estimate:
    """Mean of 1-d values with a ``"t"`` (Student t, df = n - 1) or ``"bootstrap"`` (percentile)
    interval; the interval is NaN with fewer than 2 values."""
    check_confidence(confidence)
    a = _vector(values, "values")
    n = a.size
    if n == 0:
        raise ValueError("need at least one value")
    mean = float(a.mean())
    if n < 2:
        return Estimate(mean, float("nan"), float("nan"), method, n, 0 if method == "bootstrap" else None)
    if method == "t":
        half = t_quantile(0.5 + confidence / 2, n - 1) * float(a.std(ddof=1)) / math.sqrt(n)
        return Estimate(mean, mean - half, mean + half, "t", n)
    if method == "bootstrap":
        rng = np.random.default_rng(seed)
        means = a[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
        low, high = _percentile_interval(means, confidence)
        return Estimate(mean, low, high, "percentile bootstrap", n, n_boot)
    raise ValueError(f"unknown method {method!r} (expected 't' or 'bootstrap')")


def bootstrap_mean_over_items(scores, *, n_boot: int = 10000, confidence: float = 0.95,
                              seed: int = 0) -> Estimate:
    """Mean over units (rows) of their mean over items (columns) of ``scores`` float (U, N), with a
    percentile bootstrap over the *items*: each resample draws N columns with replacement, the same
    columns for every row. Use it when several models (rows) were scored on the same images
    (columns): the images are the random sample, so resampling them keeps the models' shared
    image-to-image variation (e.g. the mean only_bg_t accuracy of a zoo, the mean BG-Gap with
    per-foreground differences in {-1, 0, 1})."""
    check_confidence(confidence)
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] == 0 or s.shape[1] == 0:
        raise ValueError(f"scores must be a non-empty 2-d array (units, items), got shape {s.shape}")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    per_item = s.mean(axis=0)  # the statistic is linear: mean over rows, then over resampled columns
    n = per_item.size
    rng = np.random.default_rng(seed)
    means = per_item[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
    low, high = _percentile_interval(means, confidence)
    return Estimate(float(per_item.mean()), low, high, "percentile bootstrap over items", n, n_boot)


def bootstrap_ratio_over_clusters(k, n, *, n_boot: int = 2000, confidence: float = 0.95,
                                  seed: int = 0) -> Estimate:
    """sum(k) / sum(n) with a percentile bootstrap over *clusters*: ``k`` and ``n`` are 1-d arrays
    (C,) of successes and trials per cluster (e.g. the composites of one foreground in one group:
    they share the foreground, so they are not independent trials). Each resample draws C clusters
    with replacement. Every cluster needs n >= 1 and 0 <= k <= n."""
    check_confidence(confidence)
    ks, ns = _vector(k, "k"), _vector(n, "n")
    if ks.shape != ns.shape or ks.size == 0:
        raise ValueError(f"k {ks.shape} and n {ns.shape} must be non-empty and of the same length")
    if (ns < 1).any() or (ks < 0).any() or (ks > ns).any():
        raise ValueError("every cluster needs n >= 1 and 0 <= k <= n")
    value = float(ks.sum() / ns.sum())
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, ks.size, size=(n_boot, ks.size))
    ratios = ks[picks].sum(axis=1) / ns[picks].sum(axis=1)
    low, high = _percentile_interval(ratios, confidence)
    return Estimate(value, low, high, "percentile bootstrap over clusters", int(ks.size), n_boot)
