"""A source sample: one image with its label and annotations, before segmentation.

Readers in :mod:`bgbench.sources` yield :class:`Sample` objects; the build pipeline segments them and
writes variants. Boxes use ImageNet's XML convention: ``(xmin, ymin, xmax, ymax)`` inclusive pixel
corners in the pixels of the original file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Sample:
    """One source image.

    ``label`` indexes ``class_names`` of the source (IN-9 order for ImageNet); ``stem`` is the output
    file stem (unique within the class); ``mask_ref`` tells the source how to load a provided mask
    (a PNG path, or a COCO annotation list); ``problem`` is set by the reader when the sample is
    already known to be unusable (the drop reason), e.g. ``"missing annotation XML"``.
    """

    image_path: Path
    label: int
    stem: str
    source_id: str
    boxes: tuple[Box, ...] = ()
    annotation_size: tuple[int, int] | None = None  # (width, height) declared by the annotation
    mask_ref: Any = None
    problem: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
