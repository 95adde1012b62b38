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

from pathlib import Path

from bgbench.errors import BgbenchError
from bgbench.samples import Sample
from bgbench.sources import reasons
from bgbench.sources.base import (
    DirIndex,
    SourceSet,
    check_boxes,
    clamp_edge_boxes,
    count,
    finalize,
    list_images,
    load_class_map,
    target_classes,
)
from bgbench.sources.masks import MaskError, PngMask, mask_boxes, read_png_mask
from bgbench.sources.xml import AnnotationError, parse_annotation

SKIP_UNMAPPED = "images in class folders missing from the class map"


def _split_or_self(folder: Path, split: str) -> Path:
    return folder / split if (folder / split).is_dir() else folder


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
    if not source.is_dir():
        raise BgbenchError("folder not found (expected images/<class>/<image> inside)", source)
    if not (source / "images").is_dir():
        raise BgbenchError("no images/ folder inside (expected images/<class>/<image>)", source)
    image_root = _split_or_self(source / "images", split)
    classes = sorted(p.name for p in image_root.iterdir() if p.is_dir() and not p.name.startswith("."))
    classes = [c for c in classes if c not in ("train", "val", "test")] or classes
    if not classes:
        raise BgbenchError("holds no class folders (expected images/<class>/<image>)", image_root)
    mask_roots: list[Path] = []
    if masks is not None:
        if not Path(masks).is_dir():
            raise BgbenchError("masks folder not found", masks)
        mask_roots.append(_split_or_self(Path(masks), split))
    elif (source / "masks").is_dir():
        mask_roots.append(_split_or_self(source / "masks", split))
    box_roots: list[Path] = []
    if annotations is not None:
        if not Path(annotations).is_dir():
            raise BgbenchError("annotations folder not found", annotations)
        box_roots.append(_split_or_self(Path(annotations), split))
    if (source / "boxes").is_dir():
        box_roots.append(_split_or_self(source / "boxes", split))

    mapping = load_class_map(class_map)
    if mapping is None:
        class_names, label_of = list(classes), {c: i for i, c in enumerate(classes)}
    else:
        class_names, target_index = target_classes(set(mapping.values()))
        label_of = {src: target_index[dst] for src, dst in mapping.items()}

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
            samples.append(_sample(image, image_root, folder, label, mask_roots, box_roots, index))
    samples = finalize(samples)
    return SourceSet(
        class_names=class_names,
        samples=samples,
        has_masks=any(s.mask_ref is not None for s in samples),
        format="folder",
        root=image_root,
        split=split,
        skipped=skipped,
        options={
            "class_map": mapping,
            "mask_dirs": [str(m) for m in mask_roots],
            "box_dirs": [str(b) for b in box_roots],
        },
    )


def _sample(
    image: Path,
    image_root: Path,
    folder: str,
    label: int,
    mask_roots: list[Path],
    box_roots: list[Path],
    index: DirIndex,
) -> Sample:
    stem = image.stem
    source_id = f"{folder}/{image.name}"
    mask_path = next((hit for root in mask_roots if (hit := index.find(root / folder, stem + ".png"))), None)
    mask_ref = None if mask_path is None else PngMask(mask_path)
    xml_path = index.find(image.parent, stem + ".xml") or next(
        (hit for root in box_roots if (hit := index.find(root / folder, stem + ".xml"))), None
    )
    extra: dict[str, object] = {}
    if xml_path is not None:
        extra["annotation"] = str(xml_path)
        try:
            ann = parse_annotation(xml_path)
        except AnnotationError as err:
            return Sample(image, label, stem, source_id, mask_ref=mask_ref, problem=str(err), extra=extra)
        if not ann.objects:
            return Sample(
                image,
                label,
                stem,
                source_id,
                annotation_size=ann.size,
                mask_ref=mask_ref,
                problem=reasons.reason(reasons.NO_ANNOTATION, "the XML has no <object>"),
                extra=extra,
            )
        boxes = tuple(clamp_edge_boxes([o.box for o in ann.objects], ann.size))
        return Sample(
            image,
            label,
            stem,
            source_id,
            boxes=boxes,
            annotation_size=ann.size,
            mask_ref=mask_ref,
            problem=check_boxes(boxes, ann.size),
            extra=extra,
        )
    if mask_path is None:
        return Sample(
            image,
            label,
            stem,
            source_id,
            problem=reasons.reason(reasons.NO_ANNOTATION, f"no mask or box XML for {stem}"),
        )
    try:
        mask = read_png_mask(mask_path)
    except MaskError as err:
        return Sample(image, label, stem, source_id, mask_ref=mask_ref, problem=str(err))
    size = (int(mask.shape[1]), int(mask.shape[0]))
    boxes = tuple(mask_boxes(mask))
    problem = (
        None if boxes else reasons.reason(reasons.EMPTY_MASK, f"{mask_path.name} has no foreground pixel")
    )
    extra["boxes_from"] = "mask"
    # the mask's size stands in for the annotation size: validate_sample then flags a mask/image mismatch
    return Sample(
        image,
        label,
        stem,
        source_id,
        boxes=boxes,
        annotation_size=size,
        mask_ref=mask_ref,
        problem=problem,
        extra=extra,
    )
