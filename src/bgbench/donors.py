"""Seeded choice of the background donor of each mixed variant (pure; no files).

Donors are drawn from the *kept* images of the same split. Image ``i`` draws its donor for variant
``v`` with its own generator, seeded by ``derive_seed(seed, "donor", v, source_id_i)``, uniformly
among the candidates listed in kept order:

- ``mixed_same``: kept images of the same class, other than itself (when it is its class's only
  kept image, itself: its foreground on its own tiled background, so every kept image still has a
  mixed_same; the manifest shows the donor is the image itself);
- ``mixed_rand``: kept images of any class, other than itself;
- ``mixed_next``: kept images of class ``(y + 1) mod num_classes``.

So the choice depends only on the kept set and the seed: never on the executor, the order in which
workers finished, or how often the build was interrupted. Without a candidate the donor is None
(that mixed image is not written and the manifest says why).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bgbench.segment import derive_seed
from bgbench.variants import MIXED_VARIANTS


def _pick_excluding(candidates: np.ndarray, position: int | None, rng: np.random.Generator) -> int | None:
    """Uniform element of ``candidates`` other than ``candidates[position]`` (None if none left)."""
    n = len(candidates) - (position is not None)
    if n <= 0:
        return None
    k = int(rng.integers(n))
    if position is not None and k >= position:
        k += 1
    return int(candidates[k])


def choose_donors(source_ids: Sequence[str], labels: Sequence[int], num_classes: int,
                  seed: int, draw: int = 0) -> dict[str, list[int | None]]:
    """Donor index (into the kept list) of every kept image for each mixed variant.

    source_ids, labels: the kept images in kept order (labels in [0, num_classes)). ``draw`` k > 0
    gives the k-th further seeded draw under the same rules (``bgbench eval --draws``); draw 0 is
    the build's own choice. Returns ``{variant: [donor index or None, ...]}``, one entry per image.
    """
    if len(source_ids) != len(labels):
        raise ValueError("source_ids and labels differ in length")
    labels_arr = np.asarray(labels, dtype=np.int64)
    everyone = np.arange(len(labels_arr))
    by_class = {c: np.flatnonzero(labels_arr == c) for c in range(num_classes)}
    position_in_class = np.zeros(len(labels_arr), dtype=np.int64)
    for members in by_class.values():
        position_in_class[members] = np.arange(len(members))

    donors: dict[str, list[int | None]] = {v: [] for v in MIXED_VARIANTS}
    for i, (sid, y) in enumerate(zip(source_ids, labels_arr.tolist(), strict=True)):
        for variant in MIXED_VARIANTS:
            parts = (seed, "donor", variant, sid) + ((draw,) if draw else ())
            rng = np.random.default_rng(derive_seed(*parts))
            if variant == "mixed_same":
                donor = _pick_excluding(by_class[y], int(position_in_class[i]), rng)
                donor = i if donor is None else donor
            elif variant == "mixed_rand":
                donor = _pick_excluding(everyone, i, rng)
            else:
                donor = _pick_excluding(by_class[(y + 1) % num_classes], None, rng)
            donors[variant].append(donor)
    return donors
