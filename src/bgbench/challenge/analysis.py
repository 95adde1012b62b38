"""Numbers beyond the single challenge accuracy (pure numpy, no files).

- :func:`per_class`: fooled rate per foreground class;
- :func:`matrix_decisions` / :func:`matrix_analysis`: from the full prediction matrix (F, N), the
  decisions under both readings, each background's share of other-class foregrounds it fools (and
  pushes to its own class), the most fooling backgrounds per class, and the share of foregrounds
  that some background pushes to each target class.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bgbench.metrics import wilson_interval


def per_class(labels: np.ndarray, fooled: np.ndarray, class_names: list[str]) -> list[dict[str, Any]]:
    """One row per class: foregrounds, fooled, fooled rate with 95% interval, challenge accuracy.

    labels: int64 (F,); fooled: bool (F,)."""
    rows = []
    for index, name in enumerate(class_names):
        sel = labels == index
        n, k = int(sel.sum()), int(fooled[sel].sum())
        lo, hi = wilson_interval(k, n)
        rows.append({"class": name, "index": index, "n": n, "n_fooled": k,
                     "fooled_rate": k / n if n else None, "fooled_rate_ci95": [lo, hi],
                     "challenge_accuracy": 1 - k / n if n else None})
    return rows


def matrix_decisions(preds: np.ndarray, fg_labels: np.ndarray,
                     bg_labels: np.ndarray) -> dict[str, np.ndarray]:
    """Decisions from the full matrix. preds: int (F, N) mapped predictions (-1 = outside).

    Returns ``fooled`` bool (F,) (some prediction != label), ``first`` int64 (F,) first fooling
    background in folder order (-1 if none), ``strict`` bool (F,) (some prediction == the
    background's class != label) and ``strict_first`` int64 (F,)."""
    y = fg_labels[:, None]
    wrong = preds != y
    strict_hits = (preds == bg_labels[None, :]) & (bg_labels[None, :] != y)
    fooled = wrong.any(axis=1)
    strict = strict_hits.any(axis=1)
    return {"fooled": fooled, "first": np.where(fooled, wrong.argmax(axis=1), -1),
            "strict": strict, "strict_first": np.where(strict, strict_hits.argmax(axis=1), -1)}


def matrix_analysis(preds: np.ndarray, fg_labels: np.ndarray, bg_labels: np.ndarray, class_names: list[str],
                    bg_paths: list[str], top_k: int = 5) -> dict[str, Any]:
    """Per-background fooling rates, the top ``top_k`` backgrounds per class and target reachability.

    A background's ``fool_rate`` is the share of foregrounds of OTHER classes whose prediction it
    makes wrong; ``push_rate`` the share it makes predicted as the background's own class.
    ``reachability[t]``: share of foregrounds not of class t that some background makes predicted t.
    """
    y = fg_labels[:, None]
    other = y != bg_labels[None, :]  # (F, N)
    n_other = other.sum(axis=0)
    fools = ((preds != y) & other).sum(axis=0)
    pushes = ((preds == bg_labels[None, :]) & other).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        fool_rate = np.where(n_other > 0, fools / np.maximum(n_other, 1), 0.0)
        push_rate = np.where(n_other > 0, pushes / np.maximum(n_other, 1), 0.0)
    top = []
    for index, name in enumerate(class_names):
        members = np.flatnonzero(bg_labels == index)
        order = members[np.lexsort((members, -fool_rate[members]))][:top_k]
        top.append({"class": name, "index": index, "backgrounds": [
            {"background": bg_paths[b], "background_index": int(b), "fool_rate": float(fool_rate[b]),
             "push_rate": float(push_rate[b]), "n_other_foregrounds": int(n_other[b])} for b in order]})
    reach = []
    for t, name in enumerate(class_names):
        eligible = fg_labels != t
        hit = (preds[eligible] == t).any(axis=1)
        n = int(eligible.sum())
        reach.append({"class": name, "index": t, "n_foregrounds": n, "n_reachable": int(hit.sum()),
                      "share": float(hit.mean()) if n else None})
    return {"background_fool_rate": fool_rate, "background_push_rate": push_rate,
            "top_backgrounds": top, "reachability": reach}
