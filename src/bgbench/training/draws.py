"""Per-sample random draws: every augmentation draw of a training image is a function of (seed, epoch,
sample index) alone, so how the samples are batched or sharded across processes cannot change it.

:func:`sample_uniforms` hashes the triple (and a column number) with SplitMix64 into uniform floats;
one row holds every draw one image needs in one epoch (columns below). :func:`epoch_order` is the
epoch's global permutation of the training set from (seed, epoch). :class:`SampleSwap` is the
background swap of :mod:`bgbench.augment` taking its draws from those rows.
"""

from __future__ import annotations

import numpy as np
import torch

from bgbench.augment import BackgroundSwap

#: columns of a row of :func:`sample_uniforms`: the crop (area, log aspect, x, y, flip), then the swap
#: (whether, which background, foreground scale, shift x, shift y)
CROP_COLUMNS = slice(0, 5)
SWAP, SWAP_PICK, SWAP_SCALE, SWAP_DX, SWAP_DY = 5, 6, 7, 8, 9
N_COLUMNS = 10

_MASK64 = (1 << 64) - 1


def _splitmix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser of ``x + golden``, elementwise on uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def sample_uniforms(seed: int, epoch: int, index: np.ndarray, columns: int = N_COLUMNS) -> torch.Tensor:
    """float32 (len(index), columns) uniforms in [0, 1): row i depends only on (seed, epoch,
    index[i]) and column j on j too (24-bit values, exact in float32, never 1.0)."""
    key = _splitmix(np.array([seed & _MASK64], dtype=np.uint64))
    key = _splitmix(key ^ np.uint64(epoch & _MASK64))
    rows = _splitmix(key ^ np.asarray(index, dtype=np.uint64).reshape(-1, 1))
    bits = _splitmix(rows ^ (np.arange(columns, dtype=np.uint64)[None, :] * np.uint64(0x632BE59BD9B4E019)))
    return torch.from_numpy(((bits >> np.uint64(40)).astype(np.float32)) * np.float32(2.0**-24))


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """int64 (n,): the epoch's permutation of the training set, from (seed, epoch) only."""
    return np.random.default_rng([seed & _MASK64, epoch]).permutation(n)


class SampleSwap(BackgroundSwap):
    """:class:`~bgbench.augment.BackgroundSwap` whose draws come from per-sample rows (:meth:`set_draws`
    before each call): swap when column SWAP < p; the background is picked by SWAP_PICK uniformly among
    the allowed bank images; the scale and shift use SWAP_SCALE, SWAP_DX, SWAP_DY."""

    def set_draws(self, rows: torch.Tensor) -> None:
        """``rows``: float32 (B, N_COLUMNS) from :func:`sample_uniforms`, one per image of the next batch."""
        self._rows = rows.cpu()
        self._chosen = torch.zeros(0, dtype=torch.long)

    def draw(self, labels: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        rows, bank_labels = self._rows, self.bank_labels
        labels_cpu = labels.cpu()
        pick = rows[:, SWAP_PICK]
        if self.swap_classes == "any":
            index = (pick * len(bank_labels)).long().clamp(max=len(bank_labels) - 1)
        else:
            index = torch.full((len(labels_cpu),), -1, dtype=torch.long)
            for label in labels_cpu.unique().tolist():
                allowed = (bank_labels != label).nonzero().squeeze(1)
                mine = labels_cpu == label
                if len(allowed):
                    index[mine] = allowed[(pick[mine] * len(allowed)).long().clamp(max=len(allowed) - 1)]
        swap = (rows[:, SWAP] < self.p) & (index >= 0)
        self._chosen = swap.nonzero().squeeze(1)
        return swap.to(device), index.to(device)

    def _rand(self, *shape: int) -> torch.Tensor:
        """The moved foregrounds' draws (``_move`` asks (n,) for the scale, then (n, 2) for the shift,
        n = the swapped images of the batch)."""
        rows = self._rows[self._chosen]
        return rows[:, SWAP_SCALE] if len(shape) == 1 else rows[:, SWAP_DX:SWAP_DY + 1]
