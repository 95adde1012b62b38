"""How much of an attribution map lies on the foreground: pure numpy, no model, no files.

For an attribution map ``a`` (non-negative, one value per pixel) and a foreground mask ``m`` (values
in [0, 1] on the same pixel grid; a binary mask, or a mask resized with the model's own resampling):

- foreground share ``s = sum(a * m) / sum(a)``: the share of the attribution inside the mask;
- mask area ``A = mean(m)``: the mask's share of the image;
- foreground focus ``f = s / A``: 1.0 when attribution is spread like the pixels (no preference for
  the object), above 1 when it concentrates on the object, below 1 when it avoids it. At most
  ``1 / A``.

A map with no attribution at all (``sum(a) == 0``) or an empty mask has no share: NaN, left out of
the means (and counted). Means over images come with a percentile bootstrap interval over images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bgbench.stats import mean_interval

N_BOOT = 10000


def _maps(attributions: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(attributions, dtype=np.float64)
    m = np.asarray(masks, dtype=np.float64)
    if a.ndim != 3 or a.shape != m.shape:
        raise ValueError(f"attributions {a.shape} and masks {m.shape} must both be (N, H, W)")
    if (a < 0).any():
        raise ValueError("attributions must be non-negative (take absolute values first)")
    if (m < 0).any() or (m > 1).any():
        raise ValueError("mask values must lie in [0, 1]")
    return a, m


def foreground_share(attributions: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """float64 (N,): share of each map's total inside its mask, in [0, 1] (NaN for an all-zero map).

    ``attributions``: non-negative (N, H, W); ``masks``: (N, H, W) in [0, 1]."""
    a, m = _maps(attributions, masks)
    total = a.sum(axis=(1, 2))
    inside = (a * m).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, inside / np.where(total > 0, total, 1.0), np.nan)


def mask_area(masks: np.ndarray) -> np.ndarray:
    """float64 (N,): each mask's mean value, the foreground's share of the image, in [0, 1]."""
    m = np.asarray(masks, dtype=np.float64)
    if m.ndim != 3:
        raise ValueError(f"masks must be (N, H, W), got {m.shape}")
    return m.mean(axis=(1, 2))


def foreground_focus(share: np.ndarray, area: np.ndarray) -> np.ndarray:
    """float64 (N,): ``share / area`` (1.0 = no preference; NaN where either is NaN or area is 0)."""
    s, a = np.asarray(share, dtype=np.float64), np.asarray(area, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(a > 0, s / np.where(a > 0, a, 1.0), np.nan)


@dataclass(frozen=True)
class MeanCI:
    """Mean of the defined values with a 95% percentile bootstrap interval over them; ``n`` values
    used, ``n_undefined`` NaN values left out. ``low``/``high`` are None with fewer than 2 values."""

    mean: float | None
    low: float | None
    high: float | None
    n: int
    n_undefined: int

    def to_json(self) -> dict:
        return {
            "mean": self.mean,
            "ci95": [self.low, self.high],
            "n": self.n,
            "n_undefined": self.n_undefined,
        }


def mean_ci(values: np.ndarray, seed: int = 0) -> MeanCI:
    """The mean of ``values`` (float (N,), NaN = undefined, left out) with a bootstrap interval."""
    v = np.asarray(values, dtype=np.float64)
    kept = v[~np.isnan(v)]
    if kept.size == 0:
        return MeanCI(None, None, None, 0, int(v.size))
    est = mean_interval(kept, method="bootstrap", n_boot=N_BOOT, seed=seed)
    finite = kept.size >= 2
    return MeanCI(
        float(est.value),
        float(est.low) if finite else None,
        float(est.high) if finite else None,
        int(kept.size),
        int(v.size - kept.size),
    )


def paired_difference(first: np.ndarray, second: np.ndarray, seed: int = 0) -> MeanCI:
    """Mean of ``second - first`` per image (float (N,) each, the same images in the same order;
    images where either is NaN left out), with a bootstrap over images that keeps the pairing."""
    a, b = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired values must be 1-d of one length, got {a.shape} and {b.shape}")
    return mean_ci(b - a, seed=seed)


def relative_foreground_sensitivity(fg_noise_accuracy: float, bg_noise_accuracy: float) -> float:
    """Hard ImageNet's RFS (Moayeri, Singla, Feizi 2022): with ``a_fg`` the accuracy under noise on the
    foreground only and ``a_bg`` under the same noise on the background only, ``m = (a_fg + a_bg) / 2``,
    ``RFS = (a_bg - a_fg) / (2 * min(m, 1 - m))`` (0 when m is 0 or 1). In [-1, 1]: +1 when only noise
    on the object hurts (the model reads the object), -1 when only noise on the background does; the
    denominator is the largest gap the mean accuracy allows."""
    mean = 0.5 * (fg_noise_accuracy + bg_noise_accuracy)
    if mean <= 0.0 or mean >= 1.0:
        return 0.0
    return (bg_noise_accuracy - fg_noise_accuracy) / (2.0 * min(mean, 1.0 - mean))


def class_balanced_accuracy(correct: np.ndarray, labels: np.ndarray) -> float:
    """Mean over the classes present in ``labels`` of each class's accuracy (``correct`` bool (N,))."""
    c, y = np.asarray(correct, dtype=np.float64), np.asarray(labels)
    return float(np.mean([c[y == k].mean() for k in np.unique(y)]))


def _stratified_resamples(labels: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """int64 (n_boot, N): bootstrap indices drawn with replacement within each class (class sizes kept)."""
    rng = np.random.default_rng(seed)
    y = np.asarray(labels)
    out = np.empty((n_boot, y.size), dtype=np.int64)
    for k in np.unique(y):
        members = np.flatnonzero(y == k)
        out[:, members] = members[rng.integers(0, members.size, size=(n_boot, members.size))]
    return out


def rfs_interval(
    fg_noise_correct: np.ndarray,
    bg_noise_correct: np.ndarray,
    labels: np.ndarray,
    seed: int = 0,
    n_boot: int = 2000,
) -> tuple[float, float | None, float | None]:
    """(RFS, low, high): RFS of the class-balanced accuracies (as Hard ImageNet averages per class)
    with a 95% percentile bootstrap over images, resampled within each class (so every class stays);
    the interval is None with fewer than 2 images."""
    fg, bg = np.asarray(fg_noise_correct, dtype=bool), np.asarray(bg_noise_correct, dtype=bool)
    y = np.asarray(labels)
    value = relative_foreground_sensitivity(class_balanced_accuracy(fg, y), class_balanced_accuracy(bg, y))
    if fg.size < 2:
        return value, None, None
    draws = [
        relative_foreground_sensitivity(
            class_balanced_accuracy(fg[idx], y[idx]), class_balanced_accuracy(bg[idx], y[idx])
        )
        for idx in _stratified_resamples(y, n_boot, seed)
    ]
    low, high = np.quantile(draws, [0.025, 0.975])
    return value, float(low), float(high)
