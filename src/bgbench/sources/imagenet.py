"""ImageNet (ILSVRC2012) reader, also for ``bgbench synth`` trees and IN-9-style class folders.

Layouts read (SOURCE may be the split folder or a folder holding ``<split>/``):

- ``<split>/<wnid>/<stem>.JPEG`` (train, or val sorted into class folders); the class is the folder's;
- ``<split>/<NN_class>/<stem>.JPEG`` (IN-9 folder names such as ``00_dog``); the class is the folder's;
- ``<split>/<stem>.JPEG`` (flat ILSVRC val); the class is the XML's object name.

XMLs are looked up beside the image (``<stem>.xml``), then in the ``annotations`` folder, then in the
usual parallel trees: ``Annotations/CLS-LOC/<split>``, ``Annotations/<split>``, ``bbox/<split>``,
``xml/<split>``, ``xml``, ``bbox`` (under SOURCE's root, its parent and grandparent), each either
mirroring the class folders or flat. Masks (``<stem>.png``) come from ``masks`` or
``<root>/masks/<split>`` when present.

Only IN-9 classes are used: the 370 mapped leaf wnids and the nine super-class wnids (synth trees use
those). Folders of other wnids, and flat images whose XML names only other wnids, are skipped and
counted in ``SourceSet.skipped``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import bgbench.sources.reasons as reasons
from bgbench.classes import IN9_CLASSES, IN9_FOLDERS, IN9_WNIDS, wnid_to_in9
from bgbench.errors import BgbenchError
from bgbench.layout import SPLITS
from bgbench.sources.base import (
    DirIndex,
    SourceSet,
    box_area,
    check_boxes,
    clamp_edge_boxes,
    count,
    is_image_name,
    list_images,
)
from bgbench.sources.masks import PngMask
from bgbench.sources.paths import outside_problem
from bgbench.sources.samples import Box, Sample
from bgbench.sources.xml import Annotation, AnnotationError, parse_annotation

WNID_RE = re.compile(r"^n\d{8}$")

SKIP_UNMAPPED_FOLDERS = "class folders of wnids outside IN-9"
SKIP_UNMAPPED_IMAGES = "images of classes outside IN-9"
SKIP_FLAT_NO_CLASS = "flat images without a usable annotation (class unknown)"
SKIP_FLAT_XML_OUTSIDE = "flat images whose annotation XML is a link out of the dataset (refused)"


def in9_label(name: str) -> int | None:
    """IN-9 index of a class name: a mapped leaf wnid, a super-class wnid, ``dog`` or ``00_dog``."""
    name = name.strip()
    label = wnid_to_in9().get(name)
    if label is not None:
        return label
    for table in (IN9_WNIDS, IN9_FOLDERS, IN9_CLASSES):
        if name in table:
            return table.index(name)
    return None


def read_imagenet(
    source: str | Path,
    split: str = "val",
    *,
    annotations: str | Path | None = None,
    masks: str | Path | None = None,
) -> SourceSet:
    """Read an ImageNet-style tree into IN-9 samples (see the module docstring for layouts).

    Raises BgbenchError before reading anything when SOURCE, ``annotations`` or ``masks`` does not
    exist or SOURCE holds neither a ``<split>/`` folder nor class folders / images.
    """
    source = Path(source)
    split_dir, root = _resolve_split_dir(source, split)
    ann_dirs = _annotation_dirs(split_dir, root, split, annotations)
    mask_dirs = _mask_dirs(root, split, masks)
    index = DirIndex()
    skipped: dict[str, int] = {}
    samples: list[Sample] = []

    entries = sorted(split_dir.iterdir(), key=lambda p: p.name)
    for entry in entries:
        if entry.is_dir():
            if WNID_RE.match(entry.name):
                label = in9_label(entry.name)
                if label is None:
                    count(skipped, SKIP_UNMAPPED_FOLDERS)
                    count(skipped, SKIP_UNMAPPED_IMAGES, len(list_images(entry)))
                    continue
            elif entry.name in IN9_FOLDERS:
                label = IN9_FOLDERS.index(entry.name)
            else:
                continue  # xml/, masks/, anything else: not a class folder
            for image in list_images(entry):
                samples.append(
                    _folder_sample(image, split_dir, entry.name, label, ann_dirs, mask_dirs, index)
                )
        elif _is_image(entry):
            sample = _flat_sample(entry, split_dir, ann_dirs, mask_dirs, index, skipped)
            if sample is not None:
                samples.append(sample)

    options = {"annotation_dirs": [str(d) for d in ann_dirs], "mask_dirs": [str(d) for d in mask_dirs]}
    return SourceSet.from_samples(samples, list(IN9_FOLDERS), "imagenet", split_dir, split, skipped, options,
                                  mask_roots=mask_dirs)


def _resolve_split_dir(source: Path, split: str) -> tuple[Path, Path]:
    if not source.exists():
        raise BgbenchError("source folder not found", source)
    if not source.is_dir():
        raise BgbenchError("not a folder (expected an ImageNet tree: <split>/<wnid>/<image>.JPEG)", source)
    if (source / split).is_dir():
        return source / split, source
    if _looks_like_split(source):
        return source, (source.parent if source.name in SPLITS else source)
    others = [s for s in SPLITS if (source / s).is_dir()]
    found = f"; found {', '.join(o + '/' for o in others)} (pick it with split=)" if others else ""
    raise BgbenchError(
        f"no {split}/ folder and no class folders (<wnid>/ or 00_dog/...) or images inside; expected "
        f"SOURCE/{split}/<wnid>/<image>.JPEG or SOURCE/<wnid>/<image>.JPEG{found}",
        source,
    )


def _looks_like_split(folder: Path) -> bool:
    for entry in folder.iterdir():
        if entry.is_dir() and (WNID_RE.match(entry.name) or entry.name in IN9_FOLDERS):
            return True
        if _is_image(entry):
            return True
    return False


def _annotation_dirs(split_dir: Path, root: Path, split: str, annotations: str | Path | None) -> list[Path]:
    candidates: list[Path] = []
    if annotations is not None:
        ann = Path(annotations)
        if not ann.is_dir():
            raise BgbenchError("annotations folder not found (expected a folder of <stem>.xml files)", ann)
        candidates += [ann / split, ann]
    bases = []
    for base in (root, root.parent, root.parent.parent):
        if base not in bases:
            bases.append(base)
    for base in bases:
        candidates += [
            base / "Annotations" / "CLS-LOC" / split,
            base / "Annotations" / split,
            base / "bbox" / split,
            base / "xml" / split,
        ]
    candidates += [root / "xml", root / "bbox", root / "Annotations"]
    out: list[Path] = []
    for c in candidates:
        if c.is_dir() and c != split_dir and c not in out:
            out.append(c)
    return out


def _mask_dirs(root: Path, split: str, masks: str | Path | None) -> list[Path]:
    if masks is not None:
        folder = Path(masks)
        if not folder.is_dir():
            raise BgbenchError("masks folder not found (expected <class>/<stem>.png files)", folder)
        return [d for d in (folder / split, folder) if d.is_dir()]
    default = root / "masks" / split
    return [default] if default.is_dir() else []


def _find(index: DirIndex, dirs: list[Path], rel_dir: str, name: str) -> Path | None:
    for d in dirs:
        for folder in (d / rel_dir, d) if rel_dir else (d,):
            hit = index.find(folder, name)
            if hit is not None:
                return hit
    return None


def _folder_sample(
    image: Path,
    split_dir: Path,
    folder: str,
    label: int,
    ann_dirs: list[Path],
    mask_dirs: list[Path],
    index: DirIndex,
) -> Sample:
    stem = image.stem
    source_id = f"{folder}/{image.name}"
    prefix = stem.split("_", 1)[0]
    extra: dict[str, Any] = {
        "wnid": folder if WNID_RE.match(folder) else (prefix if WNID_RE.match(prefix) else None)
    }
    mask_ref = _mask_ref(index, mask_dirs, folder, stem)
    xml_path = index.find(image.parent, stem + ".xml") or _find(index, ann_dirs, folder, stem + ".xml")
    if xml_path is None:
        return Sample(
            image,
            label,
            stem,
            source_id,
            mask_ref=mask_ref,
            extra=extra,
            problem=reasons.reason(reasons.NO_ANNOTATION, f"no {stem}.xml found"),
        )
    extra["annotation"] = str(xml_path)
    try:
        outside = outside_problem(xml_path, [split_dir, *ann_dirs])
        if outside is not None:  # never parsed: the XML is not the dataset's
            raise AnnotationError(outside)
        ann = parse_annotation(xml_path)
    except AnnotationError as err:
        return Sample(image, label, stem, source_id, mask_ref=mask_ref, extra=extra, problem=str(err))
    boxes, problem, leaf = _boxes_for_label(ann, label, folder_name=folder)
    if leaf and not WNID_RE.match(folder):
        extra["wnid"] = leaf
    return Sample(
        image,
        label,
        stem,
        source_id,
        boxes=tuple(boxes),
        annotation_size=ann.size,
        mask_ref=mask_ref,
        problem=problem,
        extra=extra,
    )


def _flat_sample(
    image: Path,
    split_dir: Path,
    ann_dirs: list[Path],
    mask_dirs: list[Path],
    index: DirIndex,
    skipped: dict[str, int],
) -> Sample | None:
    stem = image.stem
    xml_path = index.find(split_dir, stem + ".xml") or _find(index, ann_dirs, "", stem + ".xml")
    if xml_path is None:
        count(skipped, SKIP_FLAT_NO_CLASS)
        return None
    if outside_problem(xml_path, [split_dir, *ann_dirs]) is not None:
        count(skipped, SKIP_FLAT_XML_OUTSIDE)
        return None
    try:
        ann = parse_annotation(xml_path)
    except AnnotationError:
        count(skipped, SKIP_FLAT_NO_CLASS)
        return None
    labelled = [(in9_label(o.name), o) for o in ann.objects]
    mapped = [(lbl, o) for lbl, o in labelled if lbl is not None]
    if not mapped:
        if ann.objects and all(WNID_RE.match(o.name) for o in ann.objects):
            count(skipped, SKIP_UNMAPPED_IMAGES)
        else:
            count(skipped, SKIP_FLAT_NO_CLASS)
        return None
    # several IN-9 classes in one image: the class of the largest box wins (as for VOC/COCO)
    label = min(mapped, key=lambda item: (-box_area(item[1].box), item[0]))[0]
    boxes, problem, leaf = _boxes_for_label(ann, label, folder_name=None)
    extra = {"wnid": leaf, "annotation": str(xml_path)}
    return Sample(
        image,
        label,
        stem,
        image.name,
        boxes=tuple(boxes),
        annotation_size=ann.size,
        mask_ref=_mask_ref(index, mask_dirs, "", stem),
        problem=problem,
        extra=extra,
    )


def _boxes_for_label(
    ann: Annotation, label: int, folder_name: str | None
) -> tuple[list[Box], str | None, str | None]:
    """Boxes of the objects of IN-9 class ``label``, the drop reason (or None) and the leaf wnid."""
    if not ann.objects:
        return [], reasons.reason(reasons.NO_ANNOTATION, "the XML has no <object>"), None
    kept = [o for o in ann.objects if in9_label(o.name) == label]
    if not kept:
        names = sorted({o.name for o in ann.objects})
        others = [n for n in names if in9_label(n) is not None]
        if others:
            return (
                [],
                reasons.reason(
                    reasons.CLASS_MISMATCH,
                    f"XML names {', '.join(others)} ({IN9_CLASSES[in9_label(others[0])]}), "
                    f"folder {folder_name} is {IN9_CLASSES[label]}",
                ),
                None,
            )
        return [], reasons.reason(reasons.UNKNOWN_CLASS, f"XML object name(s) {', '.join(names)[:120]}"), None
    boxes = clamp_edge_boxes([o.box for o in kept], ann.size)
    leaf = next((o.name for o in kept if WNID_RE.match(o.name)), None)
    return boxes, check_boxes(boxes, ann.size), leaf


def _mask_ref(index: DirIndex, mask_dirs: list[Path], rel_dir: str, stem: str) -> PngMask | None:
    path = _find(index, mask_dirs, rel_dir, stem + ".png")
    return None if path is None else PngMask(path)


def _is_image(path: Path) -> bool:
    return is_image_name(path.name) and path.is_file()
