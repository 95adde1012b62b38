"""``--full``: the whole foreground x background prediction matrix, no early exit.

The matrix is int8 (int16 when there are more than 126 targets) of shape (F, N): cell (f, b) is the
mapped prediction for foreground f on background b (-1 = outside the classes), ``NOT_DONE``
(-128 / -32768) where not evaluated yet. It is saved atomically every ``checkpoint_seconds`` and at
the end, so an interrupted run resumes with only the missing cells.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch

from bgbench.challenge.search import Predict, compose_batch


def matrix_dtype(num_targets: int) -> np.dtype:
    return np.dtype(np.int8) if num_targets < 127 else np.dtype(np.int16)


def not_done_value(dtype: np.dtype) -> int:
    return int(np.iinfo(dtype).min)


def new_matrix(n_fg: int, n_bg: int, num_targets: int) -> np.ndarray:
    """An all-``NOT_DONE`` matrix (n_fg, n_bg)."""
    dtype = matrix_dtype(num_targets)
    return np.full((n_fg, n_bg), not_done_value(dtype), dtype=dtype)


def _pending_batches(matrix: np.ndarray, rows: Sequence[int],
                     batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(fg index, bg index) arrays of at most ``batch_size`` missing cells, row by row, kept full
    across row boundaries."""
    missing = not_done_value(matrix.dtype)
    fs: list[np.ndarray] = []
    bs: list[np.ndarray] = []
    held = 0
    for r in rows:
        cols = np.flatnonzero(matrix[r] == missing)
        while len(cols):
            room = batch_size - held
            part, cols = cols[:room], cols[room:]
            fs.append(np.full(len(part), r, dtype=np.int64))
            bs.append(part)
            held += len(part)
            if held == batch_size:
                yield np.concatenate(fs), np.concatenate(bs)
                fs, bs, held = [], [], 0
    if held:
        yield np.concatenate(fs), np.concatenate(bs)


def fill_matrix(predict: Predict, fg_images: torch.Tensor, fg_masks: torch.Tensor, bg_images: torch.Tensor,
                matrix: np.ndarray, rows: Sequence[int] | None = None, *, batch_size: int = 256,
                checkpoint: Callable[[np.ndarray], None] | None = None, checkpoint_seconds: float = 60.0,
                on_batch: Callable[[int], None] | None = None) -> int:
    """Evaluate every missing cell of ``matrix`` in ``rows`` (default all) in place.

    Tensors as in :func:`bgbench.challenge.search.search_backgrounds`. ``checkpoint(matrix)`` is
    called every ``checkpoint_seconds`` and once at the end. Returns composites evaluated."""
    rows = range(matrix.shape[0]) if rows is None else rows
    device = bg_images.device
    done = 0
    last = time.monotonic()
    for fi, bi in _pending_batches(matrix, rows, batch_size):
        with torch.inference_mode():
            batch = compose_batch(fg_images, fg_masks, bg_images, torch.as_tensor(fi, device=device),
                                  torch.as_tensor(bi, device=device))
            preds = predict(batch).to("cpu").numpy()
        matrix[fi, bi] = preds.astype(matrix.dtype)
        done += len(fi)
        if on_batch is not None:
            on_batch(len(fi))
        if checkpoint is not None and time.monotonic() - last >= checkpoint_seconds:
            checkpoint(matrix)
            last = time.monotonic()
    if checkpoint is not None:
        checkpoint(matrix)
    return done
