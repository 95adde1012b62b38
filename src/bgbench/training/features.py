"""Frozen-backbone features, computed once and cached on disk for last-layer retraining.

The cache key (:func:`bgbench.resume.run_key`) covers everything that decides the features: the
model's identity (spec, weights hash, preprocessing; the autocast precision unless fp32), the data's
content fingerprint, and how the images were made (variant, background-swap draws and seed). A rerun,
another recipe, or another seed of the head reuses them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from bgbench.progress import progress


def compute_features(
    classifier: Any, module: torch.nn.Module, batches, total: int, desc: str, quiet: bool
) -> np.ndarray:
    """float32 (total, D) pre-logit features of the float [0, 1] (B, 3, H, W) batches ``batches``
    yields (preprocessed by ``classifier``, the module in eval mode under the classifier's autocast
    precision, no gradients)."""
    from bgbench.training.network import features

    out: list[np.ndarray] = []
    module.eval()
    bar = progress(total=total, desc=desc, unit="img", quiet=quiet)
    try:
        with torch.inference_mode():
            for x01 in batches:
                with classifier.autocast():
                    feats = features(module, classifier.preprocess(x01))
                out.append(feats.float().cpu().numpy())
                bar.update(len(x01))
    finally:
        bar.close()
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


def cached(cache_dir: Path | None, key: str, make, write: bool = True) -> np.ndarray:
    """``make()`` stored as ``cache_dir/features-<key>.npy`` (atomic; only with ``write``), or read
    back from there."""
    from bgbench.atomic import atomic_save_npy

    if cache_dir is None:
        return make()
    path = Path(cache_dir) / f"features-{key[:32]}.npy"
    if path.is_file():
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            pass  # a damaged cache file is recomputed
    value = make()
    if write:
        atomic_save_npy(path, value)
    return value
