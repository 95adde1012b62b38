"""Generic folder reader: ``images/<class>/<stem>.<ext>`` with masks and/or box XMLs.

- SOURCE holds ``images/`` (or ``images/<split>/`` when that exists); the class is the folder name,
  classes are the sorted folder names, or the ``class_map`` targets (folders missing from the map are
  skipped and counted).
- Masks: ``masks/<class>/<stem>.png`` (or ``masks/<split>/<class>/``, or ``masks=``); nonzero pixels
  are foreground.
- Boxes: an XML (ILSVRC convention: 0-based inclusive corners; every object's box counts, whatever
  its name, since the class is the folder's) beside the image, in ``boxes/<class>/<stem>.xml`` (or
  ``boxes/<split>/<class>/``), or under ``annotations=``. Without an XML, boxes are derived from the
  mask: one tight box per 8-connected component holding at least 1% of the mask's pixels (specks
  ignored), largest first. The mask is decoded at read time for this.
- Neither mask nor XML: the sample carries the ``no bounding-box annotation`` problem.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import bgbench.sources.reasons as reasons
from bgbench.errors import BgbenchError
from bgbench.sources.base import (
    DirIndex,
    SourceSet,
    check_boxes,
    clamp_edge_boxes,
    count,
    list_images,
    load_class_map,
    mapped_classes,
)
from bgbench.sources.masks import MaskError, PngMask, mask_boxes, read_png_mask
from bgbench.sources.paths import outside_problem
from bgbench.sources.samples import Sample
from bgbench.sources.xml import AnnotationError, parse_annotation

SKIP_UNMAPPED = "images in class folders missing from the class map"


def _split_or_self(folder: Path, split: str) -> Path:
    return folder / split if (folder / split).is_dir() else folder


def _given_root(folder: str | Path, split: str, what: str) -> Path:
    """A folder the caller named (``masks=``, ``annotations=``), or its ``<split>/``; it must exist."""
    if not Path(folder).is_dir():
        raise BgbenchError(f"{what} folder not found", folder)
    return _split_or_self(Path(folder), split)


def _default_roots(folder: Path, split: str) -> list[Path]:
    """``[folder]`` (or its ``<split>/``) when the conventional folder exists inside SOURCE, else ``[]``."""
    return [_split_or_self(folder, split)] if folder.is_dir() else []


def _image_root_and_classes(source: Path, split: str) -> tuple[Path, list[str]]:
    """``images/`` (or ``images/<split>/``) and its sorted class folders; BgbenchError for a bad layout."""
    if not source.is_dir():
        raise BgbenchError("folder not found (expected images/<class>/<image> inside)", source)
    if not (source / "images").is_dir():
        raise BgbenchError("no images/ folder inside (expected images/<class>/<image>)", source)
    image_root = _split_or_self(source / "images", split)
    classes = sorted(p.name for p in image_root.iterdir() if p.is_dir() and not p.name.startswith("."))
    classes = [c for c in classes if c not in ("train", "val", "test")] or classes
    if not classes:
        raise BgbenchError("holds no class folders (expected images/<class>/<image>)", image_root)
    return image_root, classes


def read_folder(
    source: str | Path,
    split: str = "val",
    *,
    masks: str | Path | None = None,
    class_map: str | Path | dict[str, str] | None = None,
    annotations: str | Path | None = None,
) -> SourceSet:
    """Read a generic class-folder dataset (rules in the module docstring)."""
    source = Path(source)
    image_root, classes = _image_root_and_classes(source, split)
    # masks: the given folder replaces masks/; box XMLs: the given folder is searched before boxes/
    if masks is not None:
        mask_roots = [_given_root(masks, split, "masks")]
    else:
        mask_roots = _default_roots(source / "masks", split)
    box_roots = [] if annotations is None else [_given_root(annotations, split, "annotations")]
    box_roots += _default_roots(source / "boxes", split)

    mapping = load_class_map(class_map)
    if mapping is None:
        class_names, label_of = list(classes), {c: i for i, c in enumerate(classes)}
    else:
        class_names, label_of = mapped_classes(mapping)

    index = DirIndex()
    skipped: dict[str, int] = {}
    samples = []
    for folder in classes:
        files = list_images(image_root / folder)
        label = label_of.get(folder)
        if label is None:
            count(skipped, SKIP_UNMAPPED, len(files))
            continue
        for image in files:
            samples.append(_sample(image, folder, label, mask_roots, box_roots, index))
    options = {"class_map": mapping, "mask_dirs": [str(m) for m in mask_roots],
               "box_dirs": [str(b) for b in box_roots]}
    return SourceSet.from_samples(samples, class_names, "folder", image_root, split, skipped, options,
                                  mask_roots=mask_roots)


def _find(index: DirIndex, roots: list[Path], folder: str, name: str) -> Path | None:
    """The first ``<root>/<folder>/<name>`` that exists, over ``roots`` in order."""
    return next((hit for root in roots if (hit := index.find(root / folder, name))), None)


def _sample(image: Path, folder: str, label: int, mask_roots: list[Path], box_roots: list[Path],
            index: DirIndex) -> Sample:
    """One image's sample: boxes from its XML when there is one, else from its mask."""
    stem = image.stem
    sample = Sample(image, label, stem, f"{folder}/{image.name}")
    mask_path = _find(index, mask_roots, folder, stem + ".png")
    xml_path = index.find(image.parent, stem + ".xml") or _find(index, box_roots, folder, stem + ".xml")
    if xml_path is not None:
        outside = outside_problem(xml_path, [image.parent, *box_roots])
        if outside is not None:  # never parsed: the XML is not the dataset's
            return replace(sample, problem=outside, extra={"annotation": str(xml_path)})
        return _xml_sample(sample, xml_path, mask_path)
    if mask_path is None:
        problem = reasons.reason(reasons.NO_ANNOTATION, f"no mask or box XML for {stem}")
        return replace(sample, problem=problem)
    outside = outside_problem(mask_path, mask_roots)
    if outside is not None:  # never decoded: the mask file is not the dataset's
        return replace(sample, mask_ref=PngMask(mask_path), problem=outside)
    return _mask_sample(sample, mask_path)


def _xml_sample(sample: Sample, xml_path: Path, mask_path: Path | None) -> Sample:
    """``sample`` with the boxes of every object in ``xml_path`` (and the mask, when there is one)."""
    mask_ref = None if mask_path is None else PngMask(mask_path)
    extra: dict[str, object] = {"annotation": str(xml_path)}
    try:
        ann = parse_annotation(xml_path)
    except AnnotationError as err:
        return replace(sample, mask_ref=mask_ref, problem=str(err), extra=extra)
    if not ann.objects:
        return replace(
            sample,
            annotation_size=ann.size,
            mask_ref=mask_ref,
            problem=reasons.reason(reasons.NO_ANNOTATION, "the XML has no <object>"),
            extra=extra,
        )
    boxes = tuple(clamp_edge_boxes([o.box for o in ann.objects], ann.size))
    return replace(
        sample,
        boxes=boxes,
        annotation_size=ann.size,
        mask_ref=mask_ref,
        problem=check_boxes(boxes, ann.size),
        extra=extra,
    )


def _mask_sample(sample: Sample, mask_path: Path) -> Sample:
    """``sample`` with its mask and boxes derived from it (the mask is decoded here for that)."""
    mask_ref = PngMask(mask_path)
    try:
        mask = read_png_mask(mask_path)
    except MaskError as err:
        return replace(sample, mask_ref=mask_ref, problem=str(err))
    size = (int(mask.shape[1]), int(mask.shape[0]))
    boxes = tuple(mask_boxes(mask))
    problem = (
        None if boxes else reasons.reason(reasons.EMPTY_MASK, f"{mask_path.name} has no foreground pixel")
    )
    # the mask's size stands in for the annotation size: validate_sample then flags a mask/image mismatch
    return replace(
        sample,
        boxes=boxes,
        annotation_size=size,
        mask_ref=mask_ref,
        problem=problem,
        extra={"boxes_from": "mask"},
    )
