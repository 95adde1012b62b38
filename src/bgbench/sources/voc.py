"""Pascal VOC reader: ``JPEGImages/<id>.jpg`` + ``Annotations/<id>.xml`` (+ segmentation PNGs).

- Ids: ``ImageSets/Main/<split>.txt`` (first column) when ``ImageSets/Main`` exists (else
  ``ImageSets/Segmentation/<split>.txt``), otherwise every image in ``JPEGImages``.
- Classes: the user's ``class_map`` targets, else the standard 20 VOC classes when every object name
  is one of them, else the sorted object names present in the split.
- One label per image: the class of the largest box (ties: smaller label); the sample's boxes are all
  boxes of that class (``difficult`` ones included). Objects of unmapped classes are ignored.
- Coordinates: VOC pixels are 1-based; boxes are converted to 0-based inclusive corners (minus 1).
- Masks: ``SegmentationObject/<id>.png`` (value k = k-th XML object, 255 = void) restricted to the
  instances of the label's class; else ``SegmentationClass/<id>.png`` (value = 1-based index in the
  standard 20) restricted to the label's VOC class(es).
- Images without a readable annotation cannot be labelled: they are counted in ``skipped``.
"""

from __future__ import annotations

from pathlib import Path

import bgbench.sources.reasons as reasons
from bgbench.errors import BgbenchError
from bgbench.sources.base import (
    DirIndex,
    SourceSet,
    check_boxes,
    count,
    largest_box_label,
    list_images,
    load_class_map,
    mapped_classes,
)
from bgbench.sources.masks import PngMask
from bgbench.sources.paths import name_problem, outside_problem
from bgbench.sources.samples import Sample
from bgbench.sources.xml import Annotation, AnnotationError, parse_annotation
from bgbench.textio import read_text

VOC_CLASSES: tuple[str, ...] = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable",
    "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip
"""The 20 Pascal VOC classes; SegmentationClass PNG value k+1 is class k."""

SKIP_NO_XML = "images without an annotation XML (class unknown)"
SKIP_BAD_XML = "images with a malformed annotation XML (class unknown)"
SKIP_NO_MAPPED = "images with no object of a mapped class"
SKIP_UNSAFE_ID = "ids refused as unsafe (see refused)"


def resolve_voc_root(source: str | Path) -> Path:
    """The folder holding ``JPEGImages/`` and ``Annotations/`` (SOURCE or its single such child)."""
    source = Path(source)
    if not source.is_dir():
        raise BgbenchError("VOC folder not found (expected JPEGImages/ and Annotations/ inside)", source)
    if (source / "JPEGImages").is_dir() and (source / "Annotations").is_dir():
        return source
    children = sorted(
        p for p in source.iterdir() if (p / "JPEGImages").is_dir() and (p / "Annotations").is_dir()
    )
    if len(children) == 1:
        return children[0]
    missing = [name for name in ("JPEGImages", "Annotations") if not (source / name).is_dir()]
    raise BgbenchError(f"not a Pascal VOC folder: no {' or '.join(m + '/' for m in missing)} inside", source)


def read_voc(
    source: str | Path, split: str = "val", *, class_map: str | Path | dict[str, str] | None = None
) -> SourceSet:
    """Read a Pascal VOC split (rules in the module docstring). BgbenchError for a wrong layout."""
    root = resolve_voc_root(source)
    mapping = load_class_map(class_map)
    ids = _split_ids(root, split)
    index = DirIndex()
    skipped: dict[str, int] = {}
    refused: list[tuple[str, str]] = []
    parsed: list[tuple[str, Path, Annotation]] = []
    for image_id in ids:
        problem = name_problem(image_id)
        if problem is not None:  # the id names both files: refuse it before touching either
            refused.append((image_id, problem))
            count(skipped, SKIP_UNSAFE_ID)
            continue
        xml_path = root / "Annotations" / f"{image_id}.xml"
        problem = outside_problem(xml_path, root)
        if problem is not None:  # an annotation linked from elsewhere
            refused.append((image_id, problem))
            count(skipped, SKIP_UNSAFE_ID)
            continue
        if not xml_path.is_file():
            count(skipped, SKIP_NO_XML)
            continue
        try:
            ann = parse_annotation(xml_path)
        except AnnotationError:
            count(skipped, SKIP_BAD_XML)
            continue
        parsed.append((image_id, xml_path, ann))

    if mapping is None:
        present = {o.name for _, _, ann in parsed for o in ann.objects}
        class_names = list(VOC_CLASSES) if present <= set(VOC_CLASSES) else sorted(present)
        label_of = {n: class_names.index(n) for n in present}
    else:
        class_names, label_of = mapped_classes(mapping)

    samples = []
    for image_id, xml_path, ann in parsed:
        sample = _sample(root, image_id, xml_path, ann, label_of, index)
        if sample is None:
            count(skipped, SKIP_NO_MAPPED)
        else:
            samples.append(sample)
    options = {"class_map": mapping, "ids": len(ids)}
    result = SourceSet.from_samples(samples, class_names, "voc", root, split, skipped, options, mask_roots=[])
    result.refused = refused
    return result


def _split_ids(root: Path, split: str) -> list[str]:
    for sets in (root / "ImageSets" / "Main", root / "ImageSets" / "Segmentation"):
        if sets.is_dir():
            path = sets / f"{split}.txt"
            if not path.is_file():
                found = sorted(p.stem for p in sets.glob("*.txt") if "_" not in p.stem)
                raise BgbenchError(f"no {split}.txt split list (found: {', '.join(found) or 'none'})", sets)
            ids = []
            for line in read_text(path, "VOC split list").splitlines():
                parts = line.split()
                if parts:
                    ids.append(parts[0])
            return sorted(dict.fromkeys(ids))
    images = root / "JPEGImages"
    return sorted({p.stem for p in list_images(images)})


def _image_path(root: Path, image_id: str, index: DirIndex) -> Path:
    folder = root / "JPEGImages"
    for suffix in (".jpg", ".JPEG", ".jpeg", ".JPG", ".png"):
        hit = index.find(folder, image_id + suffix)
        if hit is not None:
            return hit
    return folder / f"{image_id}.jpg"  # missing: load_image reports "file not found"


def _sample(
    root: Path, image_id: str, xml_path: Path, ann: Annotation, label_of: dict[str, int], index: DirIndex
) -> Sample | None:
    # VOC pixel indices are 1-based: shift to 0-based inclusive corners
    objects = [(k, label_of.get(o.name), tuple(v - 1 for v in o.box)) for k, o in enumerate(ann.objects)]
    mapped = [(label, box) for _, label, box in objects if label is not None]
    if not mapped:
        return None
    label = largest_box_label(mapped)  # type: ignore[arg-type]
    boxes = tuple(box for _, lbl, box in objects if lbl == label)
    image_path = _image_path(root, image_id, index)
    problem = check_boxes(boxes, ann.size)  # type: ignore[arg-type]
    mask_ref = None
    seg_object = index.find(root / "SegmentationObject", f"{image_id}.png")
    seg_class = index.find(root / "SegmentationClass", f"{image_id}.png")
    if seg_object is not None:
        mask_ref = PngMask(seg_object, tuple(k + 1 for k, lbl, _ in objects if lbl == label))
    elif seg_class is not None:
        names = {o.name for o in ann.objects if label_of.get(o.name) == label}
        values = tuple(sorted(VOC_CLASSES.index(n) + 1 for n in names if n in VOC_CLASSES))
        if values:
            mask_ref = PngMask(seg_class, values)
    extra = {"annotation": str(xml_path), "classes": sorted({o.name for o in ann.objects})}
    if problem is None and not boxes:
        problem = reasons.NO_ANNOTATION
    return Sample(
        image_path,
        label,
        image_id,
        f"JPEGImages/{image_path.name}",
        boxes=boxes,  # type: ignore[arg-type]
        annotation_size=ann.size,
        mask_ref=mask_ref,
        problem=problem,
        extra=extra,
    )
