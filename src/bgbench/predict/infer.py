"""Batched inference over decoded uint8 images (the loop eval, saliency and probes share).

Batches go to the device as uint8 through one pinned staging buffer (on CUDA), become float [0, 1]
there, and the classifier applies its own preprocessing under inference mode.
"""

from __future__ import annotations

import time

import numpy as np

from bgbench.errors import BgbenchError
from bgbench.progress import progress


def check_logits(logits, batch: int, num_outputs: int) -> None:
    """Raise a BgbenchError unless ``logits`` has shape (batch, num_outputs)."""
    if logits.ndim != 2 or logits.shape[0] != batch:
        raise BgbenchError(f"model returned shape {tuple(logits.shape)} for a batch of {batch} "
                           f"images, expected ({batch}, {num_outputs})")


def predict_images(predictor, images: np.ndarray, batch_size: int, desc: str = "predict",
                   quiet: bool = False) -> tuple[np.ndarray, np.ndarray, float]:
    """Mapped predictions and raw top-1 for ``images``.

    ``images``: uint8 (N, H, W, 3) (an array or memmap). Returns ``preds`` int64 (N,) in
    [-1, len(class_names)) (-1: an output outside the classes), ``top1`` int64 (N,) the raw argmax
    over the model's outputs, and the seconds the loop took.
    """
    import torch

    if batch_size < 1:
        raise BgbenchError(f"batch size must be at least 1, got {batch_size}")
    clf, label_map = predictor.classifier, predictor.label_map
    n = images.shape[0]
    device = clf.device
    pin = device.type == "cuda" and n > 0
    staging = torch.empty((max(1, min(batch_size, n)), *images.shape[1:]), dtype=torch.uint8, pin_memory=pin)
    staging_np = staging.numpy()
    preds = np.empty(n, dtype=np.int64)
    top1 = np.empty(n, dtype=np.int64)
    bar = progress(total=n, desc=desc, unit="img", quiet=quiet)
    start = time.perf_counter()
    try:
        with torch.inference_mode():
            for lo in range(0, n, batch_size):
                hi = min(n, lo + batch_size)
                staging_np[: hi - lo] = images[lo:hi]
                x = staging[: hi - lo].to(device, non_blocking=pin)
                logits = clf(x.permute(0, 3, 1, 2).float().div_(255.0))
                check_logits(logits, hi - lo, label_map.num_outputs)
                top1[lo:hi] = logits.argmax(dim=1).cpu().numpy()
                preds[lo:hi] = label_map.predict(logits).cpu().numpy()
                bar.update(hi - lo)
    finally:
        bar.close()
    return preds, top1, time.perf_counter() - start
