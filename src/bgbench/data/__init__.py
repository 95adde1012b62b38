"""The data layer: the one reader of an IN-9 style tree.

:class:`In9Tree` discovers a tree's splits and variants and serves decoded images (cached memmaps),
aligned foreground masks, the ``only_bg_t`` background bank, the foregrounds (image + mask pairs),
foreground keys, the donors of the build's manifest and content fingerprints; :func:`shard` and
:func:`batches` split and stream its arrays. Modules: :mod:`~bgbench.data.discover` (listing),
:mod:`~bgbench.data.images` (decoding and the cache), :mod:`~bgbench.data.masks`,
:mod:`~bgbench.data.donors`, :mod:`~bgbench.data.tree`. Stage code reads trees only through here
(``tests/test_codeshape.py`` checks it); the build writes them (:mod:`bgbench.builder`).
"""

from __future__ import annotations

from bgbench.data.discover import foreground_key, foreground_keys
from bgbench.data.images import VariantData, cache_root
from bgbench.data.masks import MaskData
from bgbench.data.tree import BACKGROUND_VARIANT, FOREGROUND_VARIANT, Foregrounds, In9Tree, batches, shard

__all__ = ["BACKGROUND_VARIANT", "FOREGROUND_VARIANT", "Foregrounds", "In9Tree", "MaskData", "VariantData",
           "batches", "cache_root", "foreground_key", "foreground_keys", "shard"]
