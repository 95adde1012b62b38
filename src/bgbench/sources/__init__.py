"""Sources: turn a dataset on disk into :class:`bgbench.sources.samples.Sample` objects.

``read_source(source, fmt)`` reads ImageNet-style trees (also ``bgbench synth`` output and IN-9 class
folders), Pascal VOC, COCO instances JSON, or a generic ``images/<class>/`` folder, and returns a
:class:`SourceSet`. It never decodes pixels and never raises for one bad file: problems found in the
annotations are recorded as ``Sample.problem`` (a one-line drop reason, see :mod:`.reasons`). Checks
that need the pixels live in :func:`validate_sample`; :func:`load_sample` runs decode + checks + mask
in one call and returns the reason instead of raising.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import bgbench.sources.reasons as reasons
from bgbench.errors import BgbenchError
from bgbench.sources.base import SourceSet, check_boxes, rank_per_class, select_per_class
from bgbench.sources.images import image_size, load_image
from bgbench.sources.masks import MaskError, decode_mask_ref
from bgbench.sources.samples import Sample

FORMATS: tuple[str, ...] = ("imagenet", "voc", "coco", "folder")

__all__ = [
    "FORMATS",
    "LoadedSample",
    "SourceSet",
    "image_size",
    "load_image",
    "load_mask",
    "load_sample",
    "rank_per_class",
    "read_source",
    "reasons",
    "select_per_class",
    "validate_sample",
]


def read_source(
    source: str | Path,
    fmt: str = "imagenet",
    split: str = "val",
    *,
    masks: str | Path | None = None,
    class_map: str | Path | dict[str, str] | None = None,
    per_class: int | None = None,
    seed: int = 0,
    annotations: str | Path | None = None,
    images: str | Path | None = None,
) -> SourceSet:
    """Read one split of a dataset into samples (deterministic order: class, then relative path).

    ``fmt``: ``imagenet`` | ``voc`` | ``coco`` | ``folder``. ``masks``: folder of provided masks
    (ImageNet/synth, folder formats). ``class_map``: JSON file or dict {dataset class: benchmark class}
    (VOC, COCO, folder). ``per_class``: balanced subset of N usable samples per class, chosen by a
    seeded hash (None = every sample, problems included). ``annotations``: extra XML folder
    (ImageNet, folder). ``images``: image folder (COCO, when not next to the JSON).
    Raises BgbenchError (one line, naming the path) for a wrong path or layout, or when no image of a
    usable class is found (the message counts what was skipped), before any work.
    """
    if fmt not in FORMATS:
        raise BgbenchError(f"unknown source format {fmt!r} (expected one of {', '.join(FORMATS)})")
    if fmt == "imagenet":
        if class_map is not None:
            raise BgbenchError("class_map is not used by the imagenet format (classes are the IN-9 mapping)")
        from bgbench.sources.imagenet import read_imagenet

        result = read_imagenet(source, split, annotations=annotations, masks=masks)
    elif fmt == "voc":
        from bgbench.sources.voc import read_voc

        result = read_voc(source, split, class_map=class_map)
    elif fmt == "coco":
        from bgbench.sources.coco import read_coco

        result = read_coco(source, split, class_map=class_map, images=images)
    else:
        from bgbench.sources.folder import read_folder

        result = read_folder(source, split, masks=masks, class_map=class_map, annotations=annotations)
    if not result.samples:
        skipped = "; ".join(f"{n} {why}" for why, n in sorted(result.skipped.items())) or "nothing found"
        hint = " (flat images need their XMLs: pass annotations=DIR)" if fmt == "imagenet" else ""
        raise BgbenchError(f"no {split} images of any usable class found: {skipped}{hint}", source)
    if per_class is not None:
        result.samples = select_per_class(result.samples, per_class, seed)
        result.has_masks = any(s.mask_ref is not None for s in result.samples)
    result.options.update({"per_class": per_class, "seed": seed})
    return result


def load_mask(sample: Sample, shape: tuple[int, ...]) -> np.ndarray | None:
    """The sample's provided mask as bool (H, W) for an image of ``shape`` (H, W[, C]); None if none.

    Raises ``BgbenchError`` whose message is a drop reason (``unreadable mask: ...`` or ``mask size
    differs from image size: ...``) when the mask cannot be used; the caller records it and moves on.
    """
    if sample.mask_ref is None:
        return None
    try:
        return decode_mask_ref(sample.mask_ref, (int(shape[0]), int(shape[1])))
    except MaskError as err:
        raise BgbenchError(str(err)) from None


def validate_sample(sample: Sample, image: np.ndarray) -> str | None:
    """Drop reason found with the decoded pixels (uint8 (H, W, 3)), or None when the sample is usable.

    Checks: the annotation's declared size equals the image's, and every box lies inside the image.
    A reader-detected ``sample.problem`` is returned as is.
    """
    if sample.problem:
        return sample.problem
    height, width = int(image.shape[0]), int(image.shape[1])
    if sample.annotation_size is not None and tuple(sample.annotation_size) != (width, height):
        w, h = sample.annotation_size
        return reasons.reason(reasons.SIZE_MISMATCH, f"annotation says {w}x{h}, image is {width}x{height}")
    return check_boxes(sample.boxes, (width, height))


@dataclass
class LoadedSample:
    """A decoded sample: ``image`` uint8 (H, W, 3) RGB, ``mask`` bool (H, W) or None, ``problem``.

    When ``problem`` is set the sample must be dropped with that reason; ``image``/``mask`` may be None.
    """

    sample: Sample
    image: np.ndarray | None
    mask: np.ndarray | None
    problem: str | None


def load_sample(sample: Sample, *, with_mask: bool = True) -> LoadedSample:
    """Decode, validate and load the mask of one sample; never raises for bad input (see ``problem``)."""
    if sample.problem:
        return LoadedSample(sample, None, None, sample.problem)
    try:
        image = load_image(sample.image_path)
    except BgbenchError as err:
        return LoadedSample(
            sample, None, None, reasons.reason(reasons.UNREADABLE_IMAGE, _strip_path(err, sample))
        )
    problem = validate_sample(sample, image)
    if problem:
        return LoadedSample(sample, image, None, problem)
    mask = None
    if with_mask:
        try:
            mask = load_mask(sample, image.shape)
        except BgbenchError as err:
            return LoadedSample(sample, image, None, str(err))
    return LoadedSample(sample, image, mask, None)


def _strip_path(err: BgbenchError, sample: Any) -> str:
    text = str(err)
    prefix = f"{sample.image_path}: "
    return text[len(prefix) :] if text.startswith(prefix) else text
