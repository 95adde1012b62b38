"""``--draws K``: mixed_same, mixed_rand and mixed_next composited on the fly with K seeded donors.

One background per foreground (what the build writes) leaves the BG-Gap interval wide on small
datasets (about +-10 points at n = 70). Here every foreground of ``original`` gets K donors per mixed
variant under the build's donor rules (:func:`bgbench.donors.choose_donors`, draw k; draw 0 is the
build's own donor) and is pasted with its ``fg_mask`` onto each donor's ``only_bg_t`` with the one
compositing function (:func:`bgbench.composite.composite_torch`). Accuracy is over all F x K
composites; intervals come from a percentile bootstrap over *foregrounds* (the K composites of one
foreground are not independent), and BG-Gap pairs each foreground's mixed_same and mixed_rand means.

Inputs are the decoded files of the tree (JPEG ``original`` and ``only_bg_t``), so a draw-0
composite can differ from the build's mixed file by the JPEG round trip of its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bgbench.data import Foregrounds, In9Tree
from bgbench.errors import BgbenchError
from bgbench.progress import progress
from bgbench.rowfile import read_rows
from bgbench.variants import MIXED_VARIANTS

if TYPE_CHECKING:
    import torch

    from bgbench.predict import Predictor

N_BOOT = 10000


@dataclass(frozen=True)
class DrawOutcome:
    """What ``--draws`` scored, per mixed variant, as int64 (F, K) arrays over the F foregrounds of
    ``original`` and the K draws: ``preds`` (mapped prediction in [-1, C), -1 also where the draw has
    no donor) and ``backgrounds`` (the donor's class in the predictor's class space, -1: no donor);
    ``labels`` int64 (F,) the foregrounds' classes in that space; ``keys`` their ``<class>/<stem>``."""

    preds: dict[str, np.ndarray]
    backgrounds: dict[str, np.ndarray]
    labels: np.ndarray
    keys: list[str]

    def correct(self) -> dict[str, np.ndarray]:
        """Per mixed variant, float (F, K): 1.0 right, 0.0 wrong, NaN where the draw has no donor."""
        return {v: np.where(self.backgrounds[v] >= 0,
                            (self.preds[v] == self.labels[:, None]).astype(np.float64), np.nan)
                for v in self.preds}


def draw_predictions(predictor: Predictor, tree: In9Tree, split: str, draws: int, seed: int,
                     batch_size: int) -> DrawOutcome:
    """Composite and score every foreground of ``original/<split>`` of ``tree`` (each mask with its
    image, :meth:`~bgbench.data.In9Tree.foregrounds`) on K seeded donors per mixed variant; the donors'
    backgrounds are the foregrounds' own ``only_bg_t`` images, one per foreground."""
    import torch

    from bgbench.donors import choose_donors

    if draws < 1:
        raise BgbenchError(f"--draws must be at least 1, got {draws}")
    fg = tree.foregrounds(split, backgrounds=True, needed_by="--draws")
    keys, labels, bank = fg.keys, np.asarray(fg.labels), fg.backgrounds
    relabel = predictor.relabel()
    dev = predictor.device
    preds = {v: np.full((len(keys), draws), -1, dtype=np.int64) for v in MIXED_VARIANTS}
    backgrounds = {v: np.full((len(keys), draws), -1, dtype=np.int64) for v in MIXED_VARIANTS}
    total = len(MIXED_VARIANTS) * draws * len(keys)
    bar = progress(total=total, desc="eval --draws", unit="img", quiet=tree.quiet)
    with torch.inference_mode():
        for k in range(draws):
            donors = choose_donors(keys, labels.tolist(), len(fg.class_names), seed, draw=k)
            for variant in MIXED_VARIANTS:
                chosen = np.array([-1 if d is None else d for d in donors[variant]], dtype=np.int64)
                has = chosen >= 0
                backgrounds[variant][has, k] = relabel[labels[chosen[has]]]
                for lo in range(0, len(keys), batch_size):
                    rows = np.arange(lo, min(len(keys), lo + batch_size))
                    rows = rows[chosen[rows] >= 0]
                    if len(rows):
                        x = _composites(fg, bank, rows, chosen[rows], dev)
                        preds[variant][rows, k] = predictor.predict(x).cpu().numpy()
                    bar.update(min(batch_size, len(keys) - lo))
    bar.close()
    return DrawOutcome(preds, backgrounds, relabel[labels], keys)


def _composites(fg: Foregrounds, bank: np.ndarray, rows: np.ndarray, donors: np.ndarray,
                device: torch.device) -> torch.Tensor:
    """float [0, 1] (B, 3, H, W) on ``device``: foregrounds ``rows`` pasted with their masks onto the
    bank images ``donors`` (int64 (B,) each) by :func:`bgbench.composite.composite_torch`; only these
    rows are read from the (memory-mapped) arrays."""
    import torch

    from bgbench.composite import composite_torch

    image = torch.from_numpy(read_rows(fg.images, rows)).to(device).permute(0, 3, 1, 2)
    background = torch.from_numpy(read_rows(bank, donors)).to(device).permute(0, 3, 1, 2)
    mask = torch.from_numpy(read_rows(fg.masks, rows)).to(device)[:, None].float()
    return composite_torch(image.float() / 255.0, background.float() / 255.0, mask)


def draw_groups(outcome: DrawOutcome, class_names: list[str], min_count: int) -> dict[str, Any]:
    """Per mixed variant, the :class:`~bgbench.eval.groups.GroupTable` of all F x K composites
    (intervals resample foregrounds: a foreground's composites are one unit)."""
    from bgbench.eval.groups import group_table

    tables = {}
    for variant, preds in outcome.preds.items():
        f, k = preds.shape  # row-major ravel: foreground i's K composites are entries i*K .. i*K+K-1
        tables[variant] = group_table(np.repeat(outcome.labels, k), outcome.backgrounds[variant].ravel(),
                                      preds.ravel(), len(class_names), units=np.repeat(np.arange(f), k),
                                      min_count=min_count, class_names=class_names)
    return tables


def _interval(per_foreground: np.ndarray, seed: int) -> dict[str, Any]:
    from bgbench.stats import bootstrap_mean_over_items

    kept = per_foreground[~np.isnan(per_foreground)]
    if kept.size == 0:
        return {"value": None, "ci95": None, "n_foregrounds": 0}
    est = bootstrap_mean_over_items(kept[None, :], n_boot=N_BOOT, seed=seed)
    return {"value": est.value, "ci95": [est.low, est.high], "n_foregrounds": int(kept.size)}


def summarize_draws(correct: dict[str, np.ndarray], draws: int, seed: int,
                    keys: list[str] | None = None) -> dict[str, Any]:
    """The ``draws`` block of eval.json: per variant accuracy over all composites with a bootstrap
    interval over foregrounds, and the paired BG-Gap (mixed_same - mixed_rand per foreground).
    With ``keys`` (the foregrounds' ``<class>/<stem>``), each variant also lists ``per_foreground``
    (the share of a foreground's composites classified right, None without a donor) so results of
    several folds can be pooled."""
    block: dict[str, Any] = {"k": draws, "seed": seed, "method": "percentile bootstrap over foregrounds",
                             "variants": {}}
    if keys is not None:
        block["foregrounds"] = list(keys)
    for variant, matrix in correct.items():
        means = row_means(matrix)
        entry = _interval(means, seed=1)
        entry["n_composites"] = int((~np.isnan(matrix)).sum())
        if keys is not None:
            entry["per_foreground"] = [None if np.isnan(v) else float(v) for v in means]
        block["variants"][variant] = entry
    block["bg_gap"] = _interval(row_means(correct["mixed_same"]) - row_means(correct["mixed_rand"]), seed=2)
    return block


def row_means(matrix: np.ndarray) -> np.ndarray:
    """Mean of each row over its non-NaN entries (NaN for a row with none), float (F,)."""
    valid = ~np.isnan(matrix)
    counts = valid.sum(axis=1)
    sums = np.where(valid, matrix, 0.0).sum(axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
