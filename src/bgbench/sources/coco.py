"""COCO instances reader: ``instances_<split>.json`` (``images``, ``annotations``, ``categories``).

- SOURCE is the JSON file, or a folder holding ``annotations/instances_<split>*.json`` (or
  ``instances_<split>*.json``, or a single ``*.json``). Images come from ``images=`` or the first of
  ``<json dir>/images``, ``<json dir>/../<split>2017``, ``../<split>2014``, ``../<split>``,
  ``../images``, ``<json dir>``, ``<json dir>/..`` that holds the first listed ``file_name``.
- Classes: the user's ``class_map`` targets (keyed by category name), else every declared category
  name, sorted.
- One label per image: the category of the largest non-crowd box (ties: smaller label); boxes are the
  non-crowd boxes of that class, ``[x, y, w, h]`` -> ``(floor(x), floor(y), ceil(x + w) - 1,
  ceil(y + h) - 1)`` (a corner one pixel past the edge, from float rounding, is pulled back
  inside). ``iscrowd`` annotations never give boxes, but their segmentation of the label's class
  joins the mask (a crowd is still foreground).
- Masks: the union of the label's polygons and RLEs (decoded by :mod:`.masks`, no pycocotools).
- Images with no usable annotation cannot be labelled and are counted in ``skipped``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bgbench.errors import BgbenchError
from bgbench.sources.base import (
    SourceSet,
    check_boxes,
    clamp_edge_boxes,
    count,
    largest_box_label,
    load_class_map,
    mapped_classes,
)
from bgbench.sources.masks import CocoMask
from bgbench.sources.paths import contained, name_problem
from bgbench.sources.samples import Box, Sample
from bgbench.textio import read_json

SKIP_NO_ANNOTATIONS = "images without annotations"
SKIP_ONLY_CROWD = "images with only crowd annotations"
SKIP_NO_MAPPED = "images with no object of a mapped class"
SKIP_UNKNOWN_CATEGORY = "annotations with an undeclared category_id"
SKIP_BAD_ANNOTATION = "annotations without a valid bbox"


def find_coco_json(source: str | Path, split: str) -> Path:
    """The instances JSON for ``split`` (rules in the module docstring); BgbenchError when absent."""
    source = Path(source)
    if source.is_file():
        return source
    if not source.is_dir():
        raise BgbenchError("COCO source not found (expected an instances JSON file or its folder)", source)
    for folder in (source / "annotations", source):
        hits = sorted(folder.glob(f"instances_{split}*.json")) if folder.is_dir() else []
        if hits:
            return hits[0]
    for folder in (source / "annotations", source):
        hits = sorted(folder.glob("*.json")) if folder.is_dir() else []
        if len(hits) == 1:
            return hits[0]
    raise BgbenchError(
        f"no COCO instances JSON inside (expected annotations/instances_{split}*.json)", source
    )


def load_coco_json(path: Path) -> dict[str, Any]:
    """Parse and shape-check a COCO instances JSON; BgbenchError naming the file otherwise."""
    data = read_json(path, "COCO JSON")
    if not isinstance(data, dict):
        raise BgbenchError("not a COCO instances JSON (top level is not an object)", path)
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise BgbenchError(f"not a COCO instances JSON (no '{key}' list)", path)
    try:
        for image in data["images"]:
            int(image["id"]), str(image["file_name"]), int(image["width"]), int(image["height"])
        for cat in data["categories"]:
            int(cat["id"]), str(cat["name"])
    except (KeyError, TypeError, ValueError) as err:
        raise BgbenchError(f"malformed COCO JSON: an image or category lacks {err}", path) from None
    return data


def coco_box(bbox: Any) -> Box:
    """COCO ``[x, y, w, h]`` (continuous) -> inclusive pixel corners; ValueError when malformed."""
    x, y, w, h = (float(v) for v in bbox)
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        raise ValueError("non-finite bbox")
    return (math.floor(x), math.floor(y), math.ceil(x + w) - 1, math.ceil(y + h) - 1)


def read_coco(
    source: str | Path,
    split: str = "val",
    *,
    class_map: str | Path | dict[str, str] | None = None,
    images: str | Path | None = None,
) -> SourceSet:
    """Read COCO instances (rules in the module docstring). BgbenchError for a wrong path or layout."""
    json_path = find_coco_json(source, split)
    data = load_coco_json(json_path)
    mapping = load_class_map(class_map)
    image_dir = _image_dir(json_path, split, data["images"], images)
    categories = {int(c["id"]): str(c["name"]) for c in data["categories"]}
    if mapping is None:
        class_names = sorted(set(categories.values()))
        label_of_name = {n: class_names.index(n) for n in class_names}
    else:
        class_names, label_of_name = mapped_classes(mapping)
    label_of_cat = {cid: label_of_name.get(name) for cid, name in categories.items()}

    skipped: dict[str, int] = {}
    by_image: dict[int, list[dict[str, Any]]] = {}
    for ann in data["annotations"]:
        try:
            image_id, cat_id = int(ann["image_id"]), int(ann["category_id"])
        except (KeyError, TypeError, ValueError):
            count(skipped, SKIP_BAD_ANNOTATION)
            continue
        if cat_id not in categories:
            count(skipped, SKIP_UNKNOWN_CATEGORY)
            continue
        by_image.setdefault(image_id, []).append(ann)

    samples = []
    for image in data["images"]:
        anns = by_image.get(int(image["id"]), [])
        sample = _sample(image, anns, label_of_cat, image_dir, skipped)
        if sample is not None:
            samples.append(sample)
    options = {"annotations": str(json_path), "class_map": mapping}
    return SourceSet.from_samples(samples, class_names, "coco", image_dir, split, skipped, options)


def _image_dir(json_path: Path, split: str, images: list[dict[str, Any]], given: str | Path | None) -> Path:
    if given is not None:
        folder = Path(given)
        if not folder.is_dir():
            raise BgbenchError("COCO images folder not found", folder)
        return folder
    here = json_path.parent
    candidates = [
        here / "images",
        here.parent / f"{split}2017",
        here.parent / f"{split}2014",
        here.parent / split,
        here.parent / "images",
        here,
        here.parent,
    ]
    safe = [str(im["file_name"]) for im in images if name_problem(str(im["file_name"]), nested=True) is None]
    if not safe:
        return here
    first = safe[0]
    for folder in candidates:
        if (folder / first).is_file():
            return folder
    raise BgbenchError(
        f"cannot find the images (first file {first!r}) next to the JSON; pass images=DIR", json_path
    )


def _sample(
    image: dict[str, Any],
    anns: list[dict[str, Any]],
    label_of_cat: dict[int, int | None],
    image_dir: Path,
    skipped: dict[str, int],
) -> Sample | None:
    if not anns:
        count(skipped, SKIP_NO_ANNOTATIONS)
        return None
    width, height = int(image["width"]), int(image["height"])
    boxed: list[tuple[int, Box, dict[str, Any]]] = []
    crowd: list[tuple[int, dict[str, Any]]] = []
    for ann in anns:
        label = label_of_cat.get(int(ann["category_id"]))
        if label is None:
            continue
        if ann.get("iscrowd"):
            crowd.append((label, ann))
            continue
        try:
            boxed.append((label, coco_box(ann["bbox"]), ann))
        except (KeyError, TypeError, ValueError):
            count(skipped, SKIP_BAD_ANNOTATION)
    if not boxed:
        count(skipped, SKIP_ONLY_CROWD if crowd else SKIP_NO_MAPPED)
        return None
    label = largest_box_label([(lbl, box) for lbl, box, _ in boxed])
    boxes = tuple(clamp_edge_boxes([box for lbl, box, _ in boxed if lbl == label], (width, height)))
    segs = [a["segmentation"] for lbl, _, a in boxed if lbl == label and a.get("segmentation")]
    segs += [a["segmentation"] for lbl, a in crowd if lbl == label and a.get("segmentation")]
    file_name = str(image["file_name"])
    image_path, unsafe = contained(image_dir, file_name, nested=True)
    return Sample(
        image_path,
        label,
        Path(file_name.replace("\\", "/")).stem,
        file_name,
        boxes=boxes,
        annotation_size=(width, height),
        mask_ref=CocoMask(tuple(segs), (height, width)) if segs else None,
        problem=unsafe or check_boxes(boxes, (width, height)),
        extra={
            "image_id": int(image["id"]),
            "annotation_ids": [a.get("id") for lbl, _, a in boxed if lbl == label],
        },
    )
