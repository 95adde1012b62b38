"""Phase 2 of a build: the mixed variants, composited from exact arrays.

A mixed image is ``composite(original, donor only_bg_t, fg_mask)`` at the output size. Each input is
the exact array phase 1 computed, not a decoded JPEG, so a mixed file carries one JPEG compression
(like every other variant) and its foreground pixels are exactly the resized foreground:

- the foreground's ``original``: its source image decoded again and resized/cropped (decoding is
  deterministic and Resize + CenterCrop is an index selection);
- its mask: the lossless ``fg_mask`` .npy phase 1 wrote (GrabCut is never rerun);
- the donor's ``only_bg_t``: the donor's source image decoded again, tiled from its boxes
  (:func:`bgbench.variants.resized_only_bg_t`, no segmentation needed), resized and cropped.

Nothing large is stored between the phases. A source image whose size changed since phase 1 is an
error (the build's output would no longer be one function of its inputs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bgbench.builder.writer import variant_path, write_variant
from bgbench.errors import BgbenchError
from bgbench.layout import MASK_VARIANT
from bgbench.resume import finished
from bgbench.variants import MIXED_VARIANTS, Box, mixed, resize_crop, resized_only_bg_t


@dataclass(frozen=True)
class MixSource:
    """A kept image as phase 2 recomputes it: source file, boxes and the (width, height) phase 1 saw."""

    image_path: str
    boxes: tuple[Box, ...]
    image_size: tuple[int, int]

    @classmethod
    def of(cls, image_path: str | Path, record: dict[str, Any]) -> MixSource:
        """From a kept image's source path and its phase-1 record (``boxes``, ``image_size``)."""
        boxes = tuple((int(b[0]), int(b[1]), int(b[2]), int(b[3])) for b in record["boxes"])
        return cls(str(image_path), boxes, (int(record["image_size"][0]), int(record["image_size"][1])))


@dataclass(frozen=True)
class MixTask:
    """Phase 2 of one kept image: ``record`` (its phase-1 record), ``source`` (its MixSource),
    ``donors`` ({variant: MixSource of the donor, or None when the variant has no donor}) and where
    and how to write (``out``, ``split``, ``resize``, ``size``, ``quality``)."""

    record: dict[str, Any]
    source: MixSource
    donors: dict[str, MixSource | None]
    out: str
    split: str
    resize: int
    size: int
    quality: int

    def path(self, variant: str) -> Path:
        return variant_path(self.out, variant, self.split, self.record["class"], self.record["stem"])


def _decode(source: MixSource) -> np.ndarray:
    from bgbench.sources import load_image

    image = load_image(source.image_path)
    size = (int(image.shape[1]), int(image.shape[0]))
    if size != source.image_size:
        w, h = source.image_size
        raise BgbenchError(f"source image changed during the build (was {w}x{h}, now {size[0]}x{size[1]}); "
                           "build again into a new output folder", source.image_path)
    return image


def resized_original(source: MixSource, resize: int = 256, size: int = 224,
                     image: np.ndarray | None = None) -> np.ndarray:
    """The exact pre-JPEG ``original`` of a kept image: uint8 (size, size, 3).

    ``image``: its already decoded source (uint8 (H, W, 3)), else the file is decoded.
    """
    return resize_crop(_decode(source) if image is None else image, resize, size)


def donor_background(source: MixSource, resize: int = 256, size: int = 224,
                     image: np.ndarray | None = None) -> np.ndarray:
    """The exact pre-JPEG ``only_bg_t`` of a kept image (a donor): uint8 (size, size, 3).

    ``image``: its already decoded source (uint8 (H, W, 3)), else the file is decoded.
    """
    background = resized_only_bg_t(_decode(source) if image is None else image, source.boxes, resize, size)
    if background is None:  # phase 1 kept it, so a strip exists unless the boxes changed
        raise BgbenchError("donor has no background strip outside its boxes", source.image_path)
    return background


def missing_variants(task: MixTask) -> list[str]:
    """The mixed variants of this image that have a donor and are not written yet."""
    return [v for v in MIXED_VARIANTS if task.donors.get(v) is not None and not finished(task.path(v))]


def mixed_arrays(task: MixTask, variants: Sequence[str] = MIXED_VARIANTS) -> dict[str, np.ndarray]:
    """The exact pre-JPEG mixed images (uint8 (size, size, 3)) of ``variants`` that have a donor.

    Reads the image's fg_mask .npy (so phase 1 must have written it) and decodes the source images.
    """
    todo = [v for v in variants if task.donors.get(v) is not None]
    if not todo:
        return {}
    image = _decode(task.source)
    foreground = resized_original(task.source, task.resize, task.size, image=image)
    mask = np.load(task.path(MASK_VARIANT), allow_pickle=False)
    backgrounds: dict[MixSource, np.ndarray] = {}
    images = {}
    for variant in todo:
        donor = task.donors[variant]
        assert donor is not None
        if donor not in backgrounds:  # one decode per distinct donor; its own image (mixed_same) reused
            own = image if donor == task.source else None
            backgrounds[donor] = donor_background(donor, task.resize, task.size, image=own)
        images[variant] = mixed(foreground, mask, backgrounds[donor])
    return images


def mix_image(task: MixTask) -> int:
    """Phase 2 for one kept image: write each missing mixed variant. Returns the files written."""
    todo = missing_variants(task)
    for variant, image in mixed_arrays(task, todo).items():
        write_variant(task.out, variant, task.split, task.record["class"], task.record["stem"], image,
                      task.quality)
    return len(todo)
