"""The nine IN-9 super-classes and the ImageNet-1k -> IN-9 mapping (published facts, package data).

Index conventions: ImageNet-1k indices follow the sorted-wnid order (0 = n01440764 tench);
IN-9 indices follow the released folder order (0 dog ... 8 fish); -1 means "none of the nine".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

IN9_CLASSES: tuple[str, ...] = (
    "dog", "bird", "vehicle", "reptile", "carnivore", "insect", "instrument", "primate", "fish",
)
"""Super-class names in IN-9 index order."""

IN9_WNIDS: tuple[str, ...] = (
    "n02084071", "n01503061", "n04576211", "n01661091", "n02075296",
    "n02159955", "n03800933", "n02469914", "n02512053",
)
"""WordNet ancestor of each super-class, in IN-9 index order."""

IN9_FOLDERS: tuple[str, ...] = tuple(f"{i:02d}_{name}" for i, name in enumerate(IN9_CLASSES))
"""Class folder names of the released layout: ``00_dog`` ... ``08_fish``."""

NUM_IMAGENET_CLASSES = 1000

IN9_MEAN: tuple[float, float, float] = (0.4717, 0.4499, 0.3837)
"""Per-channel RGB mean (on [0, 1] pixels) the authors' 9-class IN-9 models normalise with."""

IN9_STD: tuple[float, float, float] = (0.2600, 0.2516, 0.2575)
"""Per-channel RGB standard deviation paired with :data:`IN9_MEAN`."""


@dataclass(frozen=True)
class ImageNetClass:
    wnid: str
    imagenet_index: int
    in9: int


@lru_cache(maxsize=1)
def imagenet_in9_classes() -> tuple[ImageNetClass, ...]:
    """The 370 ImageNet-1k classes that fall under one of the nine super-classes."""
    text = resources.files("bgbench.resources").joinpath("imagenet_to_in9.json").read_text()
    return tuple(ImageNetClass(**row) for row in json.loads(text)["classes"])


@lru_cache(maxsize=1)
def wnid_to_in9() -> dict[str, int]:
    """ImageNet wnid -> IN-9 index, for the 370 mapped classes only."""
    return {c.wnid: c.in9 for c in imagenet_in9_classes()}


def imagenet_to_in9_array() -> np.ndarray:
    """int64 array of shape (1000,): IN-9 index of each ImageNet-1k class, -1 for the other 630."""
    table = np.full(NUM_IMAGENET_CLASSES, -1, dtype=np.int64)
    for c in imagenet_in9_classes():
        table[c.imagenet_index] = c.in9
    return table


@lru_cache(maxsize=1)
def imagenet_class_names() -> tuple[str, ...]:
    """Short human-readable names of the 1000 ImageNet-1k classes, in index order."""
    text = resources.files("bgbench.resources").joinpath("imagenet_class_names.txt").read_text()
    names = tuple(text.splitlines())
    assert len(names) == NUM_IMAGENET_CLASSES
    return names


def in9_folder(index: int) -> str:
    """Folder name of IN-9 class ``index`` (0..8), e.g. ``03_reptile``."""
    return IN9_FOLDERS[index]
