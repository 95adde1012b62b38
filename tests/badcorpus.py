"""Generate small source trees and the bad-input corpus in temporary folders (test helper).

Everything is made from scratch with numpy + Pillow so tests need no data on disk. Images are tiny
(64-96 px). ``make_bad_corpus(root)`` writes an ImageNet-style tree in which every file is bad in one
specific way and returns {stem: expected reason category} (None = must load fine).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from bgbench.classes import IN9_WNIDS, imagenet_in9_classes
from bgbench.sources import reasons

DOG_LEAF = next(c.wnid for c in imagenet_in9_classes() if c.in9 == 0)
FISH_LEAF = next(c.wnid for c in imagenet_in9_classes() if c.in9 == 8)
UNMAPPED_WNID = "n04399382"  # teddy bear: one of the 630 ImageNet classes outside IN-9


def rgb_image(width: int = 80, height: int = 64, seed: int = 0) -> np.ndarray:
    """A uint8 (H, W, 3) test picture: smooth gradient plus noise, different per seed."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack(
        [xx * 255 // max(width - 1, 1), yy * 255 // max(height - 1, 1), np.full_like(xx, (seed * 37) % 256)],
        axis=2,
    )
    noise = rng.integers(-20, 21, size=base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def jpeg_bytes(array: np.ndarray, mode: str | None = None, quality: int = 92) -> bytes:
    im = Image.fromarray(array)
    if mode is not None:
        im = im.convert(mode)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def write_jpeg(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jpeg_bytes(array, mode))
    return path


def annotation_xml(
    folder: str,
    filename: str,
    size: tuple[int, int] | None,
    objects: list[tuple[str, tuple[int, int, int, int]]],
) -> str:
    """ILSVRC/VOC-style XML text: ``size`` = (width, height), objects = [(name, (xmin, ymin, xmax, ymax))]."""
    parts = [f"<annotation><folder>{folder}</folder><filename>{filename}</filename>"]
    if size is not None:
        parts.append(f"<size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>")
    for name, (x0, y0, x1, y1) in objects:
        parts.append(
            f"<object><name>{name}</name><pose>Unspecified</pose><truncated>0</truncated>"
            f"<difficult>0</difficult><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
            f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
        )
    parts.append("</annotation>")
    return "".join(parts)


def write_xml(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def make_imagenet_tree(
    root: Path,
    split: str = "train",
    *,
    per_class: int = 2,
    classes: tuple[int, ...] = (0, 8),
    leaf: bool = True,
    size: tuple[int, int] = (80, 64),
    xml_beside: bool = True,
    with_masks: bool = False,
) -> dict[str, tuple[int, tuple[int, int, int, int]]]:
    """``root/<split>/<wnid>/<wnid>_<n>.JPEG`` (+ XML beside or under ``root/bbox/<split>``, + masks).

    Uses a leaf wnid of each IN-9 class (``leaf=True``) or the super-class wnid (synth style). Returns
    {source_id: (label, box)}.
    """
    width, height = size
    truth = {}
    for label in classes:
        wnid = next(c.wnid for c in imagenet_in9_classes() if c.in9 == label) if leaf else IN9_WNIDS[label]
        for n in range(per_class):
            stem = f"{wnid}_{n + 1}"
            box = (5 + n, 6 + n, width - 10 - n, height - 8 - n)
            write_jpeg(root / split / wnid / f"{stem}.JPEG", rgb_image(width, height, seed=label * 100 + n))
            xml_dir = root / split / wnid if xml_beside else root / "bbox" / split / wnid
            write_xml(xml_dir / f"{stem}.xml", annotation_xml(wnid, stem, (width, height), [(wnid, box)]))
            if with_masks:
                mask = np.zeros((height, width), np.uint8)
                mask[box[1] : box[3] + 1, box[0] : box[2] + 1] = 1
                (root / "masks" / split / wnid).mkdir(parents=True, exist_ok=True)
                Image.fromarray(mask, "L").save(root / "masks" / split / wnid / f"{stem}.png")
            truth[f"{wnid}/{stem}.JPEG"] = (label, box)
    # a class outside IN-9: skipped and counted, never an error
    write_jpeg(root / split / UNMAPPED_WNID / f"{UNMAPPED_WNID}_1.JPEG", rgb_image(width, height, seed=999))
    return truth


def make_bad_corpus(root: Path) -> dict[str, str | None]:
    """An ImageNet-style split folder ``root/<dog leaf wnid>/`` of bad inputs; {stem: expected category}.

    ``None`` marks inputs that are odd but valid (CMYK, greyscale, RGBA PNG, 16-bit greyscale, RGB and
    RGBA PNGs) and must load.
    """
    wnid = DOG_LEAF
    folder = root / wnid
    folder.mkdir(parents=True, exist_ok=True)
    width, height = 80, 64
    good_box = (8, 8, 60, 50)
    expected: dict[str, str | None] = {}
    picture = rgb_image(width, height, seed=5)
    good_jpeg = jpeg_bytes(picture)

    def add(
        stem: str, data: bytes, category: str | None, *, suffix: str = ".JPEG", xml: str | None = "default"
    ) -> None:
        (folder / f"{stem}{suffix}").write_bytes(data)
        if xml == "default":
            xml = annotation_xml(wnid, stem, (width, height), [(wnid, good_box)])
        if xml is not None:
            (folder / f"{stem}.xml").write_text(xml)
        expected[stem] = category

    # decoding problems
    corrupt = bytearray(good_jpeg)
    corrupt[2:40] = b"\xff" * 38  # header destroyed
    add(f"{wnid}_corrupt_header", bytes(corrupt), reasons.UNREADABLE_IMAGE)
    huffman = bytearray(good_jpeg)
    at = huffman.find(b"\xff\xc4")  # DHT segment: overwrite the code-length counts (bogus table)
    huffman[at + 5 : at + 21] = b"\xff" * 16
    add(f"{wnid}_corrupt_huffman", bytes(huffman), reasons.UNREADABLE_IMAGE)
    # (zeroed bytes inside the entropy-coded scan are NOT detectable: libjpeg decodes them as garbage
    # pixels with only a warning, which Pillow does not surface; docs/sources.md says so)
    add(f"{wnid}_truncated", good_jpeg[: len(good_jpeg) // 2], reasons.UNREADABLE_IMAGE)
    add(f"{wnid}_empty", b"", reasons.UNREADABLE_IMAGE)
    add(f"{wnid}_not_an_image", b"this is a text file, not a JPEG\n" * 4, reasons.UNREADABLE_IMAGE)
    # odd but valid encodings
    add(f"{wnid}_cmyk", jpeg_bytes(picture, "CMYK"), None)
    add(f"{wnid}_grey", jpeg_bytes(picture, "L"), None)
    rgba = np.dstack([picture, np.full((height, width), 128, np.uint8)])
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    add(f"{wnid}_rgba", buf.getvalue(), None, suffix=".png")
    deep = picture[:, :, 0].astype(np.uint16) * 257
    buf = io.BytesIO()
    Image.fromarray(deep).save(buf, "PNG")
    add(f"{wnid}_grey16", buf.getvalue(), None, suffix=".png")
    # 16-bit RGB and RGBA PNGs (written by OpenCV, which stores BGR(A)): each value v stored as v * 257;
    # the RGBA one half transparent (alpha 128 * 257)
    import cv2

    rgb16 = picture.astype(np.uint16) * 257
    ok, data = cv2.imencode(".png", np.ascontiguousarray(rgb16[:, :, ::-1]))
    assert ok
    add(f"{wnid}_rgb16", data.tobytes(), None, suffix=".png")
    rgba16 = np.dstack([rgb16, np.full((height, width), 128 * 257, np.uint16)])
    ok, data = cv2.imencode(".png", np.ascontiguousarray(rgba16[:, :, [2, 1, 0, 3]]))
    assert ok
    add(f"{wnid}_rgba16", data.tobytes(), None, suffix=".png")
    # annotation problems
    add(f"{wnid}_missing_xml", good_jpeg, reasons.NO_ANNOTATION, xml=None)
    add(
        f"{wnid}_malformed_xml",
        good_jpeg,
        reasons.MALFORMED_XML,
        xml="<annotation><size><width>80</width><height>64</height></size><object><name>x</name",
    )
    add(
        f"{wnid}_size_mismatch",
        good_jpeg,
        reasons.SIZE_MISMATCH,
        xml=annotation_xml(wnid, "m", (100, 64), [(wnid, good_box)]),
    )
    add(
        f"{wnid}_box_outside",
        good_jpeg,
        reasons.BOX_OUTSIDE,
        xml=annotation_xml(wnid, "o", (width, height), [(wnid, (10, 10, 95, 50))]),
    )
    add(
        f"{wnid}_box_negative",
        good_jpeg,
        reasons.BOX_OUTSIDE,
        xml=annotation_xml(wnid, "o", (width, height), [(wnid, (-5, 10, 40, 50))]),
    )
    add(
        f"{wnid}_zero_area_box",
        good_jpeg,
        reasons.EMPTY_BOX,
        xml=annotation_xml(wnid, "z", (width, height), [(wnid, (20, 10, 20, 50))]),
    )
    add(
        f"{wnid}_inverted_box",
        good_jpeg,
        reasons.EMPTY_BOX,
        xml=annotation_xml(wnid, "z", (width, height), [(wnid, (40, 10, 20, 50))]),
    )
    add(
        f"{wnid}_unknown_class",
        good_jpeg,
        reasons.UNKNOWN_CLASS,
        xml=annotation_xml(wnid, "u", (width, height), [("not_a_class", good_box)]),
    )
    add(
        f"{wnid}_other_class",
        good_jpeg,
        reasons.CLASS_MISMATCH,
        xml=annotation_xml(wnid, "c", (width, height), [(FISH_LEAF, good_box)]),
    )
    add(
        f"{wnid}_no_object",
        good_jpeg,
        reasons.NO_ANNOTATION,
        xml=annotation_xml(wnid, "n", (width, height), []),
    )
    add(f"{wnid}_good", good_jpeg, None)
    return expected


def png_bomb(path: Path, width: int = 40_000, height: int = 40_000) -> Path:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (decompression-bomb shape)."""
    import struct
    import zlib

    buf = io.BytesIO()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    at = data.find(b"IHDR")
    data[at + 4 : at + 12] = struct.pack(">II", width, height)
    data[at + 17 : at + 21] = struct.pack(">I", zlib.crc32(bytes(data[at : at + 17])) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    return path


def make_bad_coco(root: Path) -> dict[str, str | None]:
    """A COCO tree of bad annotations: ``root/instances_val.json`` + ``root/images``; {stem: category}."""
    import json

    (root / "images").mkdir(parents=True, exist_ok=True)
    names = ["bad_rle", "rle_size", "json_size", "bad_polygon", "zero_box", "good"]
    for i, name in enumerate(names):
        (root / "images" / f"{name}.jpg").write_bytes(jpeg_bytes(rgb_image(seed=40 + i)))
    full = {"size": [64, 80], "counts": [64 * 10, 64 * 20, 64 * 50]}
    anns = [
        {"image_id": 1, "segmentation": {"size": [64, 80], "counts": "!!not-an-rle"}},
        {"image_id": 2, "segmentation": {"size": [32, 40], "counts": [32 * 40]}},
        {"image_id": 3, "segmentation": full},
        {"image_id": 4, "segmentation": [["x", "y", 1, 2, 3, 4]]},
        {"image_id": 5, "segmentation": full, "bbox": [10, 10, 0, 20]},
        {"image_id": 6, "segmentation": full},
    ]
    for k, ann in enumerate(anns):
        ann.update({"id": k + 1, "category_id": 1, "iscrowd": 0})
        ann.setdefault("bbox", [10, 0, 20, 64])
    images = [{"id": i + 1, "file_name": f"{n}.jpg", "width": 80, "height": 64} for i, n in enumerate(names)]
    images[2].update({"width": 100})  # the JSON's size disagrees with the file
    data = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "thing"}]}
    (root / "instances_val.json").write_text(json.dumps(data))
    return {
        "bad_rle": reasons.UNREADABLE_MASK,
        "rle_size": reasons.MASK_SIZE_MISMATCH,
        "json_size": reasons.SIZE_MISMATCH,
        "bad_polygon": reasons.UNREADABLE_MASK,
        "zero_box": reasons.EMPTY_BOX,
        "good": None,
    }


# ---------------------------------------------------------------- helpers shared with test_sources


def runs_column_major(mask: np.ndarray) -> list[int]:
    """Uncompressed COCO counts, computed the slow obvious way (independent of bgbench)."""
    runs, current, length = [], False, 0
    for value in mask.T.reshape(-1):
        if bool(value) != current:
            runs.append(length)
            current, length = bool(value), 0
        length += 1
    runs.append(length)
    return runs


def polygon_truth(poly: list[float], height: int, width: int) -> np.ndarray:
    """bool (H, W): pixels whose centre lies inside ``poly`` (matplotlib, independent of bgbench)."""
    from matplotlib.path import Path as MplPath

    yy, xx = np.mgrid[0:height, 0:width]
    centres = np.stack([xx.ravel() + 0.5, yy.ravel() + 0.5], axis=1)
    return MplPath(np.asarray(poly).reshape(-1, 2)).contains_points(centres).reshape(height, width)


# ---------------------------------------------------------------- buildable trees (VOC, COCO, folder)
# Small trees of synth scenes (a habitat with one or two objects, real-looking enough for GrabCut) in
# the other source formats. Each generator returns the truth {stem: TreeTruth}: what the annotation
# says, so a test can check a build against it without going through the readers.

BUILD_CLASSES: tuple[str, ...] = ("dog", "bird", "vehicle")
"""Dataset class names of the generated trees (drawn with the synth shapes of those IN-9 classes)."""


class TreeTruth:
    """One generated image: ``class_name``, its file ``path``, the provided ``mask`` (bool (H, W) or
    None when the image has only boxes), and ``boxes`` (0-based inclusive corners)."""

    def __init__(self, class_name: str, path: Path, mask: np.ndarray | None,
                 boxes: list[tuple[int, int, int, int]]) -> None:
        self.class_name, self.path, self.mask, self.boxes = class_name, path, mask, boxes


def _scenes(classes: tuple[str, ...], per_class: int, size: int, seed: int):
    """(class name, index, synth Scene) for ``per_class`` scenes of each class."""
    from bgbench.classes import IN9_CLASSES
    from bgbench.synth.scene import render_scene, scene_rng

    for name in classes:
        label = IN9_CLASSES.index(name)
        for i in range(per_class):
            yield name, i, render_scene(label, scene_rng(seed, "val", label, i), size=size)


def _ring(region: np.ndarray) -> np.ndarray:
    """The one-pixel (8-connected) outer border of a bool region."""
    grown = region.copy()
    padded = np.pad(region, 1)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            grown |= padded[1 + dy : 1 + dy + region.shape[0], 1 + dx : 1 + dx + region.shape[1]]
    return grown & ~region


def make_voc_tree(root: Path, classes: tuple[str, ...] = BUILD_CLASSES, *, per_class: int = 3,
                  size: int = 96, seed: int = 0) -> dict[str, TreeTruth]:
    """``root/{JPEGImages,Annotations,ImageSets/Main/val.txt,SegmentationObject}``: 1-based XML boxes,
    instance PNGs (value k = k-th object) with a void (255) ring around every object."""
    truth: dict[str, TreeTruth] = {}
    (root / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
    (root / "SegmentationObject").mkdir(parents=True, exist_ok=True)
    for n, (name, _i, scene) in enumerate(_scenes(classes, per_class, size, seed)):
        stem = f"2009_{n + 1:06d}"
        path = write_jpeg(root / "JPEGImages" / f"{stem}.jpg", scene.image)
        objects = [(name, (x0 + 1, y0 + 1, x1 + 1, y1 + 1)) for x0, y0, x1, y1 in scene.boxes]
        write_xml(root / "Annotations" / f"{stem}.xml",
                  annotation_xml("VOC2012", f"{stem}.jpg", (scene.width, scene.height), objects))
        seg = scene.mask.copy()
        seg[_ring(scene.mask > 0)] = 255
        im = Image.fromarray(seg, "P")
        im.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [224, 224, 192] * 253)
        im.save(root / "SegmentationObject" / f"{stem}.png")
        truth[stem] = TreeTruth(name, path, scene.mask > 0, list(scene.boxes))
    (root / "ImageSets" / "Main" / "val.txt").write_text("".join(f"{s}\n" for s in truth))
    return truth


COCO_CATEGORY_IDS: dict[str, int] = {"dog": 18, "bird": 16, "vehicle": 3}


def make_coco_tree(root: Path, classes: tuple[str, ...] = BUILD_CLASSES, *, per_class: int = 3,
                   size: int = 96, seed: int = 0) -> dict[str, TreeTruth]:
    """``root/annotations/instances_val2017.json`` + ``root/val2017/*.jpg``. Segmentations rotate over
    compressed RLE, uncompressed RLE and polygons (a diamond inside each box: then the provided mask
    is the diamond, not the drawn object)."""
    from bgbench.sources.masks import encode_rle_string

    truth: dict[str, TreeTruth] = {}
    images, annotations = [], []
    for n, (name, _i, scene) in enumerate(_scenes(classes, per_class, size, seed)):
        stem = f"{n + 1:012d}"
        path = write_jpeg(root / "val2017" / f"{stem}.jpg", scene.image)
        images.append({"id": n + 1, "file_name": f"{stem}.jpg", "width": scene.width, "height": scene.height})
        mask = np.zeros(scene.mask.shape, bool)
        for k, (x0, y0, x1, y1) in enumerate(scene.boxes, start=1):
            instance = scene.mask == k
            if n % 3 == 0:
                segmentation: object = {"size": list(instance.shape),
                                        "counts": encode_rle_string(runs_column_major(instance))}
            elif n % 3 == 1:
                segmentation = {"size": list(instance.shape), "counts": runs_column_major(instance)}
            else:
                cx, cy = (x0 + x1 + 1) / 2, (y0 + y1 + 1) / 2
                # vertices off the half-pixel grid, so no pixel centre lies exactly on an edge
                poly = [cx + 0.21, y0 + 0.3, x1 + 0.7, cy + 0.17, cx - 0.11, y1 + 0.6, x0 + 0.4, cy - 0.23]
                segmentation = [poly]
                instance = polygon_truth(poly, scene.height, scene.width)
            mask |= instance
            annotations.append({"id": len(annotations) + 1, "image_id": n + 1, "iscrowd": 0,
                                "category_id": COCO_CATEGORY_IDS[name], "segmentation": segmentation,
                                "bbox": [x0, y0, x1 - x0 + 1, y1 - y0 + 1], "area": int(instance.sum())})
        truth[stem] = TreeTruth(name, path, mask, list(scene.boxes))
    categories = [{"id": COCO_CATEGORY_IDS[c], "name": c} for c in classes]
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    data = {"images": images, "annotations": annotations, "categories": categories}
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(data))
    return truth


def make_folder_tree(root: Path, classes: tuple[str, ...] = BUILD_CLASSES, *, per_class: int = 3,
                     size: int = 96, seed: int = 0) -> dict[str, TreeTruth]:
    """``root/images/<class>/<stem>.jpg`` with ``root/masks/<class>/<stem>.png`` (0/255); the last
    image of every class has a box XML in ``root/boxes/<class>/`` instead of a mask."""
    truth: dict[str, TreeTruth] = {}
    for name, i, scene in _scenes(classes, per_class, size, seed):
        stem = f"{name}_{i:03d}"
        path = write_jpeg(root / "images" / name / f"{stem}.jpg", scene.image)
        if i == per_class - 1:
            objects = [(name, box) for box in scene.boxes]
            write_xml(root / "boxes" / name / f"{stem}.xml",
                      annotation_xml(name, f"{stem}.jpg", (scene.width, scene.height), objects))
            truth[stem] = TreeTruth(name, path, None, list(scene.boxes))
        else:
            (root / "masks" / name).mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.where(scene.mask > 0, 255, 0).astype(np.uint8), "L").save(
                root / "masks" / name / f"{stem}.png")
            truth[stem] = TreeTruth(name, path, scene.mask > 0, list(scene.boxes))
    return truth
