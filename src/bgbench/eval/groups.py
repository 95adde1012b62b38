"""Foreground x background group analysis of a mixed variant (pure arrays; no files, no models).

A mixed image has two classes: its foreground's (the label) and its background donor's. Grouping
the images by the pair gives a ``C x C`` table (rows: foreground class, columns: background class)
of counts and correct predictions, and says which background classes pull which objects away:

- ``to_background[f, b]``: images of group (f, b), b != f, predicted as the *background's* class b;
  ``pull[f, b] = to_background[f, b] / counts[f, b]`` (NaN on the diagonal and for empty groups);
- the pull of a background class b over all other foregrounds: ``sum_f to_background[f, b] /
  sum_{f != b} counts[f, b]``;
- the share of all errors that predict the background's class, beside the share expected if each
  error that lands on one of the C classes picked one of the other ``C - 1`` uniformly (errors
  outside the classes, e.g. the 630 ImageNet classes outside IN-9's nine, cannot be pulled to the
  background's class, so they count in neither);
- worst-group accuracy: the lowest accuracy among groups with at least ``min_count`` images (ties:
  the larger group, then the first in row-major order), with its 95% interval.

Intervals: when every image is its own unit (a built mixed variant: one composite per foreground)
a group's accuracy is k of n independent trials and gets the Wilson score interval
(:func:`bgbench.metrics.proportion`, as every accuracy in eval.json). With ``units`` (``eval
--draws``: the K composites of one foreground share it, and several may fall into one group) the
trials are clustered, so the interval is a percentile bootstrap over the units
(:func:`bgbench.stats.bootstrap_ratio_over_clusters`; Wilson over composites would be too narrow),
widened where needed to the Wilson interval of the same share over the number of distinct units
(a percentile bootstrap collapses to a point when every unit is right, or every one wrong). Either
interval is for the group as chosen: picking the minimum of many groups biases the worst value
downwards, which no per-group interval corrects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: a group needs at least this many images to be eligible as the worst group (``--group-min``)
DEFAULT_MIN_COUNT = 10
N_BOOT = 2000


@dataclass(frozen=True)
class GroupStat:
    """k of n with a 95% interval for one group (``fg``, ``bg``) or one background class (``fg`` None)."""

    fg: int | None
    bg: int
    k: int
    n: int
    low: float
    high: float
    method: str

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else float("nan")

    def to_json(self, class_names: list[str]) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        if self.fg is not None:
            doc["foreground"] = class_names[self.fg]
        doc.update({"background": class_names[self.bg], "k": self.k, "n": self.n,
                    "value": None if not self.n else self.value,
                    "ci95": None if not self.n else [self.low, self.high], "method": self.method})
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any], class_names: list[str]) -> GroupStat:
        fg = class_names.index(doc["foreground"]) if "foreground" in doc else None
        ci = doc.get("ci95") or [float("nan"), float("nan")]
        return cls(fg, class_names.index(doc["background"]), int(doc["k"]), int(doc["n"]), float(ci[0]),
                   float(ci[1]), str(doc.get("method", "")))


@dataclass(frozen=True)
class GroupTable:
    """The group analysis of one mixed variant. Matrices are int64 (C, C), rows = foreground class,
    columns = background class: ``counts`` (images), ``correct`` (predicted as the foreground),
    ``to_background`` (predicted as the background's class, zero on the diagonal),
    ``in_class_errors`` (wrong, but predicted as one of the C classes). ``unit`` is
    ``"image"`` or ``"foreground"`` (what the intervals resample); ``n_unknown`` images had no known
    background and are left out; ``worst`` is None when no group has ``min_count`` images;
    ``pull_by_background`` has one entry per background class (n = 0 when it never backs another
    class's foreground)."""

    class_names: list[str]
    counts: np.ndarray
    correct: np.ndarray
    to_background: np.ndarray
    in_class_errors: np.ndarray
    min_count: int
    unit: str
    n_unknown: int
    worst: GroupStat | None
    pull_by_background: list[GroupStat]

    @property
    def accuracy(self) -> np.ndarray:
        """float (C, C) accuracy per group in [0, 1], NaN for an empty group."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.counts > 0, self.correct / np.maximum(self.counts, 1), np.nan)

    @property
    def pull(self) -> np.ndarray:
        """float (C, C) share of group (f, b) predicted as b, NaN on the diagonal and for empty groups."""
        out = np.where(self.counts > 0, self.to_background / np.maximum(self.counts, 1), np.nan)
        np.fill_diagonal(out, np.nan)
        return out

    @property
    def errors(self) -> int:
        return int(self.counts.sum() - self.correct.sum())

    @property
    def error_to_background_share(self) -> float | None:
        """Share of all errors that predict the background's class (None without errors)."""
        return None if self.errors == 0 else float(self.to_background.sum() / self.errors)

    @property
    def error_to_background_chance(self) -> float | None:
        """The share expected if each error of an off-diagonal group that names one of the C classes
        picked one of its C - 1 wrong classes uniformly (None without errors)."""
        c = len(self.class_names)
        if self.errors == 0 or c < 2:
            return None
        off = self.in_class_errors.copy()
        np.fill_diagonal(off, 0)
        return float(off.sum() / (c - 1) / self.errors)

    def to_json(self) -> dict[str, Any]:
        names = self.class_names
        return {"unit": self.unit, "min_count": self.min_count, "n": int(self.counts.sum()),
                "n_unknown": self.n_unknown, "counts": self.counts.tolist(), "correct": self.correct.tolist(),
                "to_background": self.to_background.tolist(),
                "in_class_errors": self.in_class_errors.tolist(), "errors": self.errors,
                "error_to_background_share": self.error_to_background_share,
                "error_to_background_chance": self.error_to_background_chance,
                "worst": None if self.worst is None else self.worst.to_json(names),
                "pull_by_background": [p.to_json(names) for p in self.pull_by_background]}

    @classmethod
    def from_json(cls, doc: dict[str, Any], class_names: list[str]) -> GroupTable:
        """Rebuild from :meth:`to_json`'s document (``class_names``: the evaluation's)."""
        worst = doc.get("worst")
        counts = np.asarray(doc["counts"], dtype=np.int64)
        correct = np.asarray(doc["correct"], dtype=np.int64)
        in_class = doc.get("in_class_errors")
        return cls(list(class_names), counts, correct, np.asarray(doc["to_background"], dtype=np.int64),
                   counts - correct if in_class is None else np.asarray(in_class, dtype=np.int64),
                   int(doc["min_count"]), str(doc["unit"]), int(doc.get("n_unknown", 0)),
                   None if worst is None else GroupStat.from_json(worst, class_names),
                   [GroupStat.from_json(p, class_names) for p in doc.get("pull_by_background", [])])

    def summary(self) -> str:
        """One line: the worst group with its interval, and the share of errors going to the background."""
        from bgbench.results.base import pct_ci

        names = self.class_names
        if self.worst is None:
            worst = f"no group with at least {self.min_count} images"
        else:
            w = self.worst
            worst = (f"worst group {names[w.fg]} on {names[w.bg]} {pct_ci(w.value, [w.low, w.high])} "
                     f"({w.k}/{w.n})")
        share, chance = self.error_to_background_share, self.error_to_background_chance
        tail = "" if share is None or not chance else (
            f"; {100 * share:.0f}% of errors predict the background's class "
            f"(even spread: {100 * chance:.0f}%)")
        return worst + tail


def _check(fg: np.ndarray, bg: np.ndarray, preds: np.ndarray, num_classes: int,
           units: np.ndarray | None) -> None:
    n = fg.shape
    if fg.ndim != 1 or bg.shape != n or preds.shape != n or (units is not None and units.shape != n):
        raise ValueError("fg, bg, preds (and units) must be 1-d arrays of the same length")
    if n[0] and (fg.min() < 0 or fg.max() >= num_classes):
        raise ValueError(f"foreground labels must lie in [0, {num_classes})")
    if n[0] and (bg.min() < -1 or bg.max() >= num_classes or preds.min() < -1 or preds.max() >= num_classes):
        raise ValueError(f"background labels and predictions must lie in [-1, {num_classes})")


def interval(hits: np.ndarray, units: np.ndarray | None, seed: int = 0) -> tuple[float, float, str]:
    """95% interval of the share of True in ``hits`` bool (M,), M >= 1: Wilson when ``units`` is None
    or every unit occurs once, else a percentile bootstrap over the units int (M,), widened to at
    least the Wilson interval of the share over the number of distinct units (share rounded to a
    whole count of them)."""
    from bgbench.metrics import proportion, wilson_interval
    from bgbench.stats import bootstrap_ratio_over_clusters

    if units is None or len(np.unique(units)) == len(units):
        p = proportion(int(hits.sum()), len(hits))
        return p.low, p.high, "wilson"
    _, inverse = np.unique(units, return_inverse=True)
    k = np.bincount(inverse, weights=hits.astype(np.float64))
    n = np.bincount(inverse).astype(np.float64)
    est = bootstrap_ratio_over_clusters(k, n, n_boot=N_BOOT, seed=seed)
    share, clusters = float(k.sum() / n.sum()), len(n)
    w_low, w_high = wilson_interval(round(share * clusters), clusters)
    return (min(est.low, w_low), max(est.high, w_high),
            "percentile bootstrap over foregrounds (at least Wilson over foregrounds)")


def group_table(fg, bg, preds, num_classes: int, *, units=None, min_count: int = DEFAULT_MIN_COUNT,
                class_names: list[str] | None = None) -> GroupTable:
    """The group table of one mixed variant.

    ``fg``: int (N,) foreground (true) class in [0, C); ``bg``: int (N,) background donor's class in
    [-1, C) (-1: unknown, left out and counted in ``n_unknown``); ``preds``: int (N,) predicted class
    in [-1, C) (-1: outside the classes, always wrong); ``units``: optional int (N,) id of the
    independent unit each image belongs to (its foreground, for ``--draws``); ``min_count`` >= 1.
    """
    fg, bg, preds = (np.asarray(a, dtype=np.int64) for a in (fg, bg, preds))
    units = None if units is None else np.asarray(units, dtype=np.int64)
    _check(fg, bg, preds, num_classes, units)
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1, got {min_count}")
    known = bg >= 0
    f, b, p = fg[known], bg[known], preds[known]
    u = None if units is None else units[known]
    cells = f * num_classes + b
    size = num_classes * num_classes
    counts = np.bincount(cells, minlength=size).reshape(num_classes, num_classes)
    correct = np.bincount(cells[p == f], minlength=size).reshape(num_classes, num_classes)
    to_bg = np.bincount(cells[(p == b) & (b != f)], minlength=size).reshape(num_classes, num_classes)
    in_class = np.bincount(cells[(p != f) & (p >= 0)], minlength=size).reshape(num_classes, num_classes)
    names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
    unit = "image" if units is None else "foreground"
    return GroupTable(names, counts, correct, to_bg, in_class, min_count, unit, int((~known).sum()),
                      _worst(f, b, p, u, counts, correct, min_count),
                      _pulls(f, b, p, u, num_classes))


def _worst(f, b, p, u, counts: np.ndarray, correct: np.ndarray, min_count: int) -> GroupStat | None:
    """The eligible group with the lowest accuracy (ties: larger n, then row-major order)."""
    eligible = np.argwhere(counts >= min_count)
    if not len(eligible):
        return None
    acc = correct / np.maximum(counts, 1)
    fi, bi = min(((int(r), int(c)) for r, c in eligible),
                 key=lambda rc: (acc[rc], -counts[rc], rc))
    rows = (f == fi) & (b == bi)
    low, high, method = interval(p[rows] == fi, None if u is None else u[rows])
    return GroupStat(fi, bi, int(correct[fi, bi]), int(counts[fi, bi]), low, high, method)


def _pulls(f, b, p, u, num_classes: int) -> list[GroupStat]:
    """Per background class: the share of other-class foregrounds on it predicted as its class."""
    stats = []
    for c in range(num_classes):
        rows = (b == c) & (f != c)
        if not rows.any():
            stats.append(GroupStat(None, c, 0, 0, float("nan"), float("nan"), ""))
            continue
        hits = p[rows] == c
        low, high, method = interval(hits, None if u is None else u[rows], seed=c)
        stats.append(GroupStat(None, c, int(hits.sum()), int(rows.sum()), low, high, method))
    return stats
