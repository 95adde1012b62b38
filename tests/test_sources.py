"""Source readers: ImageNet (and synth / IN-9 folder / flat val trees), VOC, COCO, generic folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from badcorpus import (
    DOG_LEAF,
    UNMAPPED_WNID,
    annotation_xml,
    make_imagenet_tree,
    polygon_truth,
    rgb_image,
    runs_column_major,
    write_jpeg,
    write_xml,
)
from bgbench.classes import IN9_CLASSES, IN9_FOLDERS, IN9_WNIDS, imagenet_in9_classes, wnid_to_in9
from bgbench.errors import BgbenchError
from bgbench.sources import load_image, load_mask, load_sample, read_source, reasons, select_per_class
from bgbench.sources.imagenet import SKIP_UNMAPPED_FOLDERS, SKIP_UNMAPPED_IMAGES

# ---------------------------------------------------------------- class facts


def test_in9_class_counts_hold():
    counts = {name: 0 for name in IN9_CLASSES}
    for label in wnid_to_in9().values():
        counts[IN9_CLASSES[label]] += 1
    assert counts == {
        "dog": 116,
        "bird": 52,
        "vehicle": 42,
        "reptile": 36,
        "carnivore": 35,
        "insect": 27,
        "instrument": 26,
        "primate": 20,
        "fish": 16,
    }
    assert len(wnid_to_in9()) == 370
    assert not set(IN9_WNIDS) & set(wnid_to_in9())  # ancestors are not ImageNet-1k leaves


# ---------------------------------------------------------------- ImageNet


def test_imagenet_train_tree_with_xml_beside(tmp_path):
    truth = make_imagenet_tree(tmp_path, "train", per_class=3, classes=(0, 8))
    result = read_source(tmp_path, "imagenet", "train")
    assert result.class_names == list(IN9_FOLDERS)
    assert [s.source_id for s in result.samples] == sorted(truth, key=lambda k: (truth[k][0], k))
    for s in result.samples:
        label, box = truth[s.source_id]
        assert s.label == label and s.boxes == (box,) and s.problem is None
        assert s.stem == Path(s.source_id).stem and s.annotation_size == (80, 64)
        assert s.extra["wnid"] == s.source_id.split("/")[0]
    assert result.skipped == {SKIP_UNMAPPED_FOLDERS: 1, SKIP_UNMAPPED_IMAGES: 1}
    assert not result.has_masks
    # the split folder itself is accepted as SOURCE and gives the same samples
    again = read_source(tmp_path / "train", "imagenet", "train")
    assert [(s.source_id, s.boxes) for s in again.samples] == [(s.source_id, s.boxes) for s in result.samples]


def test_imagenet_parallel_bbox_tree_and_annotations_option(tmp_path):
    truth = make_imagenet_tree(tmp_path, "val", per_class=2, xml_beside=False)
    auto = read_source(tmp_path, split="val")
    assert [s.boxes[0] for s in auto.samples] == [truth[s.source_id][1] for s in auto.samples]
    # the same XMLs found through annotations= when they live somewhere unusual
    (tmp_path / "bbox").rename(tmp_path / "elsewhere")
    missing = read_source(tmp_path, split="val")
    assert all(reasons.reason_category(s.problem) == reasons.NO_ANNOTATION for s in missing.samples)
    given = read_source(tmp_path, split="val", annotations=tmp_path / "elsewhere")
    assert [s.boxes for s in given.samples] == [s.boxes for s in auto.samples]


def test_imagenet_ilsvrc_layout_and_flat_val(tmp_path):
    root = tmp_path / "ILSVRC"
    data = root / "Data" / "CLS-LOC" / "val"
    ann = root / "Annotations" / "CLS-LOC" / "val"
    dog, fish = DOG_LEAF, next(c.wnid for c in imagenet_in9_classes() if c.in9 == 8)
    objects = {
        "ILSVRC2012_val_00000001": [(fish, (2, 3, 40, 30))],
        "ILSVRC2012_val_00000002": [(dog, (1, 1, 20, 20)), (fish, (10, 10, 70, 60))],  # fish is larger
        "ILSVRC2012_val_00000003": [(UNMAPPED_WNID, (1, 1, 20, 20))],  # outside IN-9: skipped
        "ILSVRC2012_val_00000004": [(dog, (0, 0, 80, 64))],  # xmax == width: one pixel slack tolerated
    }
    for i, (stem, objs) in enumerate(objects.items()):
        write_jpeg(data / f"{stem}.JPEG", rgb_image(seed=i))
        write_xml(ann / f"{stem}.xml", annotation_xml("val", stem, (80, 64), objs))
    write_jpeg(data / "ILSVRC2012_val_00000005.JPEG", rgb_image(seed=9))  # no XML: class unknown
    result = read_source(root / "Data" / "CLS-LOC", split="val")
    by_stem = {s.stem: s for s in result.samples}
    assert sorted(by_stem) == [
        "ILSVRC2012_val_00000001",
        "ILSVRC2012_val_00000002",
        "ILSVRC2012_val_00000004",
    ]
    assert by_stem["ILSVRC2012_val_00000001"].label == 8
    assert by_stem["ILSVRC2012_val_00000002"].label == 8
    assert by_stem["ILSVRC2012_val_00000002"].boxes == ((10, 10, 70, 60),)
    assert by_stem["ILSVRC2012_val_00000004"].boxes == ((0, 0, 79, 63),)
    assert by_stem["ILSVRC2012_val_00000004"].problem is None
    assert sum(result.skipped.values()) == 2
    assert [s.label for s in result.samples] == sorted(s.label for s in result.samples)


def test_imagenet_synth_style_tree_with_masks(tmp_path):
    truth = make_imagenet_tree(
        tmp_path, "train", per_class=2, classes=tuple(range(9)), leaf=False, with_masks=True
    )
    result = read_source(tmp_path, split="train")
    assert result.has_masks
    assert sorted({s.label for s in result.samples}) == list(range(9))
    for s in result.samples:
        loaded = load_sample(s)
        assert loaded.problem is None
        x0, y0, x1, y1 = truth[s.source_id][1]
        expected = np.zeros((64, 80), bool)
        expected[y0 : y1 + 1, x0 : x1 + 1] = True
        np.testing.assert_array_equal(loaded.mask, expected)


def test_synth_output_reads_unchanged(tmp_path):
    from bgbench.synth import synthesize

    synthesize(tmp_path, per_class=2, split="train", seed=0, size=96, quiet=True)
    result = read_source(tmp_path, split="train")
    records = {}
    for line in (tmp_path / "synth-train.jsonl").read_text().splitlines():
        row = json.loads(line)
        records[row["stem"]] = row
    assert len(result.samples) == 18 == len(records)
    assert result.has_masks
    for s in result.samples:
        assert s.problem is None and s.boxes
        assert s.label == records[s.stem]["label"]
        loaded = load_sample(s)
        assert loaded.problem is None and loaded.mask.any()
        assert loaded.image.shape == (s.annotation_size[1], s.annotation_size[0], 3)
        ys, xs = np.nonzero(loaded.mask)  # every mask pixel lies inside one of the boxes
        inside = np.zeros_like(loaded.mask)
        for x0, y0, x1, y1 in s.boxes:
            inside[y0 : y1 + 1, x0 : x1 + 1] = True
        assert inside[ys, xs].all()


def test_in9_folders_with_parallel_xml_tree(tmp_path):
    dog, fish = DOG_LEAF, next(c.wnid for c in imagenet_in9_classes() if c.in9 == 8)
    write_jpeg(tmp_path / "00_dog" / f"{dog}_Chihuahua.JPEG", rgb_image(seed=1))
    write_jpeg(tmp_path / "08_fish" / f"{fish}_tench.JPEG", rgb_image(seed=2))
    write_xml(
        tmp_path / "xml" / "00_dog" / f"{dog}_Chihuahua.xml",
        annotation_xml(dog, "c", (80, 64), [(dog, (3, 4, 50, 40))]),
    )
    result = read_source(tmp_path)
    assert [(s.label, s.source_id) for s in result.samples] == [
        (0, f"00_dog/{dog}_Chihuahua.JPEG"),
        (8, f"08_fish/{fish}_tench.JPEG"),
    ]
    assert result.samples[0].boxes == ((3, 4, 50, 40),) and result.samples[0].extra["wnid"] == dog
    assert reasons.reason_category(result.samples[1].problem) == reasons.NO_ANNOTATION
    assert result.samples[1].extra["wnid"] == fish
    assert result.problem_counts() == {reasons.NO_ANNOTATION: 1}


def test_stems_unique_within_class(tmp_path):
    leaves = [c.wnid for c in imagenet_in9_classes() if c.in9 == 0][:2]
    for wnid in leaves:  # same stem in two wnid folders of the same IN-9 class
        write_jpeg(tmp_path / wnid / "img.JPEG", rgb_image(seed=3))
        write_xml(
            tmp_path / wnid / "img.xml", annotation_xml(wnid, "img", (80, 64), [(wnid, (1, 1, 30, 30))])
        )
    result = read_source(tmp_path)
    assert [s.stem for s in result.samples] == ["img", "img__2"]
    assert [s.source_id for s in result.samples] == [f"{leaves[0]}/img.JPEG", f"{leaves[1]}/img.JPEG"]


def test_per_class_balanced_subset_is_deterministic(tmp_path):
    make_imagenet_tree(tmp_path, "train", per_class=6, classes=(0, 1, 8))
    full = read_source(tmp_path, split="train")
    a = read_source(tmp_path, split="train", per_class=2, seed=1)
    b = read_source(tmp_path, split="train", per_class=2, seed=1)
    c = read_source(tmp_path, split="train", per_class=2, seed=2)
    assert [s.source_id for s in a.samples] == [s.source_id for s in b.samples]
    assert {s.label: 0 for s in a.samples} and all(
        sum(1 for s in a.samples if s.label == k) == 2 for k in (0, 1, 8)
    )
    assert [s.source_id for s in a.samples] != [s.source_id for s in c.samples]
    ids = [s.source_id for s in full.samples]
    assert [s.source_id for s in a.samples] == [i for i in ids if i in {s.source_id for s in a.samples}]
    assert select_per_class(full.samples, None) == full.samples


def test_imagenet_wrong_paths_are_one_line_errors(tmp_path):
    with pytest.raises(BgbenchError, match="source folder not found"):
        read_source(tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(BgbenchError, match="not a folder"):
        read_source(tmp_path / "file.txt")
    (tmp_path / "empty" / "train").mkdir(parents=True)
    with pytest.raises(BgbenchError, match=r"no val/ folder.*found train/") as err:
        read_source(tmp_path / "empty")
    assert "\n" not in str(err.value) and str(tmp_path / "empty") in str(err.value)
    make_imagenet_tree(tmp_path / "ok", "val", per_class=1)
    with pytest.raises(BgbenchError, match="annotations folder not found"):
        read_source(tmp_path / "ok", annotations=tmp_path / "missing")
    with pytest.raises(BgbenchError, match="masks folder not found"):
        read_source(tmp_path / "ok", masks=tmp_path / "missing")
    with pytest.raises(BgbenchError, match="unknown source format"):
        read_source(tmp_path / "ok", fmt="yolo")


# ---------------------------------------------------------------- load_image


def test_load_image_modes(tmp_path):
    picture = rgb_image(seed=7)
    Image.fromarray(picture).save(tmp_path / "rgb.png")
    np.testing.assert_array_equal(load_image(tmp_path / "rgb.png"), picture)
    grey = picture[:, :, 1]
    Image.fromarray(grey, "L").save(tmp_path / "grey.png")
    out = load_image(tmp_path / "grey.png")
    assert out.shape == (64, 80, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.repeat(grey[:, :, None], 3, axis=2))
    deep = np.arange(64 * 80, dtype=np.uint16).reshape(64, 80) * 12  # 0..61428: clipping would saturate
    Image.fromarray(deep).save(tmp_path / "deep.png")
    out = load_image(tmp_path / "deep.png")
    np.testing.assert_array_equal(out[:, :, 0], np.round(deep / 257.0).astype(np.uint8))
    rgba = np.dstack([picture, np.tile(np.array([0, 255], np.uint8), (64, 40))])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    out = load_image(tmp_path / "rgba.png")
    np.testing.assert_array_equal(out[:, 0::2], 0)  # alpha 0 -> black
    np.testing.assert_array_equal(out[:, 1::2], picture[:, 1::2])  # alpha 255 -> unchanged
    Image.fromarray(picture).convert("P").save(tmp_path / "pal.png")
    assert load_image(tmp_path / "pal.png").shape == (64, 80, 3)
    Image.fromarray(picture).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    cmyk = load_image(tmp_path / "cmyk.jpg").astype(int)
    assert np.abs(cmyk - picture).mean() < 8  # colours survive the CMYK round trip


def test_load_image_keeps_stored_orientation(tmp_path):
    picture = rgb_image(width=90, height=60, seed=4)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(picture).save(tmp_path / "rot.jpg", exif=exif, quality=95)
    assert load_image(tmp_path / "rot.jpg").shape == (60, 90, 3)


def test_load_image_decompression_bomb_guard(tmp_path):
    Image.fromarray(rgb_image(seed=1)).save(tmp_path / "big.png")
    with pytest.raises(BgbenchError, match="image too large"):
        load_image(tmp_path / "big.png", max_pixels=1000)


# ---------------------------------------------------------------- real data


@pytest.mark.realdata
def test_realdata_imagenet_samples(realdata):
    folder = realdata / "imagenet-samples"
    result = read_source(folder, annotations=folder / "xml")
    assert len(result.samples) == 370
    with_boxes = [s for s in result.samples if s.problem is None]
    assert len(with_boxes) == 250
    assert {reasons.reason_category(s.problem) for s in result.samples if s.problem} == {
        reasons.NO_ANNOTATION
    }
    labels = {}
    for line in (folder / "labels.jsonl").read_text().splitlines():
        row = json.loads(line)
        labels[row["file"]] = (row["in9_class"], row["wnid"])
    assert {s.source_id: (s.label, s.extra["wnid"]) for s in result.samples} == labels
    boxes = {}
    for line in (folder / "boxes.jsonl").read_text().splitlines():
        row = json.loads(line)
        boxes[row["file"]] = (tuple(tuple(b) for b in row["boxes"]), (row["width"], row["height"]))
    assert {s.source_id: (s.boxes, s.annotation_size) for s in with_boxes} == boxes
    # the XML tree is also found without annotations= (xml/ beside the class folders)
    assert [s.boxes for s in read_source(folder).samples] == [s.boxes for s in result.samples]
    json.dumps(result.summary())  # JSON-ready


@pytest.mark.realdata
@pytest.mark.slow
def test_realdata_imagenet_samples_decode_and_validate(realdata):
    folder = realdata / "imagenet-samples"
    result = read_source(folder, annotations=folder / "xml")
    outcomes = {}
    for sample in result.samples:
        loaded = load_sample(sample)
        outcomes[sample.source_id] = loaded.problem
        if loaded.problem is None:
            h, w = loaded.image.shape[:2]
            assert loaded.image.dtype == np.uint8 and loaded.image.shape[2] == 3
            assert sample.annotation_size == (w, h)  # every XML size matches its photo
    assert sum(p is None for p in outcomes.values()) == 250
    assert all(reasons.reason_category(p) == reasons.NO_ANNOTATION for p in outcomes.values() if p)


# ---------------------------------------------------------------- Pascal VOC


def _voc_tree(root: Path) -> dict[str, np.ndarray]:
    """Three VOC images (1-based boxes) + split lists + one SegmentationObject PNG; returns true masks."""
    (root / "ImageSets" / "Main").mkdir(parents=True)
    (root / "ImageSets" / "Main" / "val.txt").write_text("2008_000001\n2008_000002\n2008_000003\n")
    (root / "ImageSets" / "Main" / "train.txt").write_text("2008_000009\n")
    for i, stem in enumerate(("2008_000001", "2008_000002", "2008_000003", "2008_000009")):
        write_jpeg(root / "JPEGImages" / f"{stem}.jpg", rgb_image(seed=20 + i))
    # dog (big) + person (small): label dog; boxes written 1-based
    write_xml(
        root / "Annotations" / "2008_000001.xml",
        annotation_xml(
            "VOC2012", "2008_000001.jpg", (80, 64), [("person", (2, 2, 11, 21)), ("dog", (21, 11, 70, 60))]
        ),
    )
    write_xml(
        root / "Annotations" / "2008_000002.xml",
        annotation_xml(
            "VOC2012", "2008_000002.jpg", (80, 64), [("cat", (1, 1, 30, 30)), ("cat", (41, 31, 80, 64))]
        ),
    )
    write_xml(
        root / "Annotations" / "2008_000003.xml",
        annotation_xml("VOC2012", "2008_000003.jpg", (80, 64), [("dog", (10, 10, 90, 40))]),
    )
    write_xml(
        root / "Annotations" / "2008_000009.xml",
        annotation_xml("VOC2012", "2008_000009.jpg", (80, 64), [("bird", (5, 5, 40, 40))]),
    )
    seg = np.zeros((64, 80), np.uint8)
    seg[1:21, 1:11] = 1  # instance 1: person
    seg[12:58, 22:68] = 2  # instance 2: dog
    seg[11, 20:70] = 255  # void border
    im = Image.fromarray(seg, "P")
    im.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [224, 224, 192] * 253)
    (root / "SegmentationObject").mkdir()
    im.save(root / "SegmentationObject" / "2008_000001.png")
    return {"2008_000001": seg == 2}


def test_voc_reader_labels_boxes_and_instance_masks(tmp_path):
    truth = _voc_tree(tmp_path / "VOC2012")
    result = read_source(tmp_path, "voc", "val")  # the VOCdevkit-style parent is accepted
    from bgbench.sources.voc import VOC_CLASSES

    assert result.class_names == list(VOC_CLASSES)
    by_stem = {s.stem: s for s in result.samples}
    assert list(by_stem) == ["2008_000002", "2008_000001", "2008_000003"]  # cat (7) before dog (11)
    dog = by_stem["2008_000001"]
    assert result.class_names[dog.label] == "dog" and dog.boxes == ((20, 10, 69, 59),)
    cat = by_stem["2008_000002"]
    assert cat.boxes == ((0, 0, 29, 29), (40, 30, 79, 63)) and cat.problem is None and cat.mask_ref is None
    assert reasons.reason_category(by_stem["2008_000003"].problem) == reasons.BOX_OUTSIDE
    assert result.has_masks
    np.testing.assert_array_equal(load_mask(dog, (64, 80)), truth["2008_000001"])
    assert [s.stem for s in read_source(tmp_path, "voc", "train").samples] == ["2008_000009"]


def test_voc_class_map(tmp_path):
    _voc_tree(tmp_path)
    mapped = read_source(tmp_path, "voc", "val", class_map={"dog": "dog", "cat": "carnivore"})
    assert mapped.class_names == list(IN9_FOLDERS)  # IN-9 names line up with IN-9 labels
    assert sorted(s.label for s in mapped.samples) == [0, 0, 4]
    (tmp_path / "map.json").write_text(json.dumps({"cat": "pet", "dog": "pet", "person": "human"}))
    custom = read_source(tmp_path, "voc", "val", class_map=tmp_path / "map.json")
    assert custom.class_names == ["human", "pet"]
    first = next(s for s in custom.samples if s.stem == "2008_000001")
    assert custom.class_names[first.label] == "pet" and first.mask_ref.values == (2,)
    only_person = read_source(tmp_path, "voc", "val", class_map={"person": "human"})
    assert [s.stem for s in only_person.samples] == ["2008_000001"]
    assert only_person.samples[0].boxes == ((1, 1, 10, 20),)
    assert sum(only_person.skipped.values()) == 2
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(BgbenchError, match="class map JSON is not valid JSON"):
        read_source(tmp_path, "voc", "val", class_map=tmp_path / "bad.json")


def test_voc_wrong_layout(tmp_path):
    (tmp_path / "JPEGImages").mkdir()
    with pytest.raises(BgbenchError, match=r"not a Pascal VOC folder: no Annotations/"):
        read_source(tmp_path, "voc")
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "ImageSets" / "Main").mkdir(parents=True)
    (tmp_path / "ImageSets" / "Main" / "train.txt").write_text("")
    with pytest.raises(BgbenchError, match=r"no val.txt split list \(found: train\)"):
        read_source(tmp_path, "voc", "val")


# ---------------------------------------------------------------- COCO

# pycocotools.mask.encode() output for two 120 x 90 (h x w) masks (recorded once; no dependency):
# a 90 x 50 rectangle with a 20 x 20 hole, and a 40 x 10 bar
COCO_HOLE_RLE = (
    "Z[2j2n0000000000000000000TNF::FF::FF::FF::FF::FF::FF::FF::FF::FF::FF::FF::FF::FF::FF::FF::FF::"
    "FF::FF::FF::b100000000000000000000000000000000000000fZ2"
)
COCO_BAR_RLE = "nd0X1`200000000000000000Rg8"


def _coco_tree(root: Path) -> dict[str, np.ndarray]:
    (root / "val2017").mkdir(parents=True)
    (root / "annotations").mkdir()
    for name, (w, h) in {"a.jpg": (80, 64), "b.jpg": (90, 120), "c.jpg": (80, 64), "d.jpg": (80, 64)}.items():
        write_jpeg(root / "val2017" / name, rgb_image(w, h, seed=len(name) + ord(name[0])))
    triangle = [30.3, 5.7, 50.2, 12.1, 40.5, 30.9]
    square = np.zeros((64, 80), bool)
    square[20:60, 2:30] = True
    hole = np.zeros((120, 90), bool)
    hole[10:100, 20:70] = True
    hole[40:60, 30:50] = False
    bar = np.zeros((120, 90), bool)
    bar[70:110, 5:15] = True
    crowd = np.zeros((120, 90), bool)
    crowd[0:5, 0:90] = True
    anns = [
        # a.jpg: small triangle (cat 1) and a larger uncompressed-RLE square (cat 2) -> label cat 2
        {
            "id": 1,
            "image_id": 1,
            "category_id": 1,
            "bbox": [30.3, 5.7, 19.9, 25.2],
            "iscrowd": 0,
            "segmentation": [triangle],
        },
        {
            "id": 2,
            "image_id": 1,
            "category_id": 2,
            "bbox": [2, 20, 28, 40],
            "iscrowd": 0,
            "segmentation": {"size": [64, 80], "counts": runs_column_major(square)},
        },
        # b.jpg: two compressed-RLE instances of cat 1 plus a crowd region of cat 1
        {
            "id": 3,
            "image_id": 2,
            "category_id": 1,
            "bbox": [20, 10, 50, 90],
            "iscrowd": 0,
            "segmentation": {"size": [120, 90], "counts": COCO_HOLE_RLE},
        },
        {
            "id": 4,
            "image_id": 2,
            "category_id": 1,
            "bbox": [5, 70, 10, 40],
            "iscrowd": 0,
            "segmentation": {"size": [120, 90], "counts": COCO_BAR_RLE},
        },
        {
            "id": 5,
            "image_id": 2,
            "category_id": 1,
            "bbox": [0, 0, 90, 5],
            "iscrowd": 1,
            "segmentation": {"size": [120, 90], "counts": runs_column_major(crowd)},
        },
        # c.jpg: crowd only -> skipped; d.jpg: nothing -> skipped
        {
            "id": 6,
            "image_id": 3,
            "category_id": 1,
            "bbox": [0, 0, 10, 10],
            "iscrowd": 1,
            "segmentation": {"size": [64, 80], "counts": [0, 5120]},
        },
        # e: polygon triangle alone of cat 1, box partly outside the image -> problem
        {
            "id": 7,
            "image_id": 5,
            "category_id": 1,
            "bbox": [40, 30, 60, 20],
            "iscrowd": 0,
            "segmentation": [[40, 30, 79, 30, 60, 49]],
        },
    ]
    write_jpeg(root / "val2017" / "e.jpg", rgb_image(seed=77))
    data = {
        "images": [
            {"id": i + 1, "file_name": n, "width": w, "height": h}
            for i, (n, w, h) in enumerate(
                [
                    ("a.jpg", 80, 64),
                    ("b.jpg", 90, 120),
                    ("c.jpg", 80, 64),
                    ("d.jpg", 80, 64),
                    ("e.jpg", 80, 64),
                ]
            )
        ],
        "annotations": anns,
        "categories": [{"id": 1, "name": "zebra"}, {"id": 2, "name": "apple"}],
    }
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(data))
    return {"a": square, "b": hole | bar | crowd, "triangle": polygon_truth(triangle, 64, 80)}


def test_coco_reader_polygons_and_rle(tmp_path):
    truth = _coco_tree(tmp_path)
    result = read_source(tmp_path, "coco", "val")
    assert result.class_names == ["apple", "zebra"]
    by_stem = {s.stem: s for s in result.samples}
    assert list(by_stem) == ["a", "b", "e"]
    a, b, e = by_stem["a"], by_stem["b"], by_stem["e"]
    assert result.class_names[a.label] == "apple" and a.boxes == ((2, 20, 29, 59),)
    np.testing.assert_array_equal(load_mask(a, (64, 80)), truth["a"])
    assert result.class_names[b.label] == "zebra" and b.boxes == ((20, 10, 69, 99), (5, 70, 14, 109))
    np.testing.assert_array_equal(load_mask(b, (120, 90, 3)), truth["b"])
    assert reasons.reason_category(e.problem) == reasons.BOX_OUTSIDE
    assert result.skipped == {"images with only crowd annotations": 1, "images without annotations": 1}
    # the triangle polygon of a.jpg: select it through a class map that drops "apple"
    zebra_only = read_source(
        tmp_path / "annotations" / "instances_val2017.json",
        "coco",
        "val",
        class_map={"zebra": "zebra"},
        images=tmp_path / "val2017",
    )
    first = zebra_only.samples[0]
    assert first.stem == "a" and first.boxes == ((30, 5, 50, 30),)
    np.testing.assert_array_equal(load_mask(first, (64, 80)), truth["triangle"])


def test_coco_mask_decoders_agree_with_independent_rasterisation():
    from bgbench.sources.masks import decode_rle_string, encode_rle_string, polygons_to_mask, rle_to_mask

    rng = np.random.default_rng(3)
    mask = rng.random((23, 31)) > 0.6
    counts = runs_column_major(mask)
    np.testing.assert_array_equal(rle_to_mask({"size": [23, 31], "counts": counts}), mask)
    text = encode_rle_string(counts)
    assert decode_rle_string(text) == counts
    np.testing.assert_array_equal(rle_to_mask({"size": [23, 31], "counts": text}), mask)
    hole = rle_to_mask({"size": [120, 90], "counts": COCO_HOLE_RLE})
    assert hole.sum() == 90 * 50 - 20 * 20 and not hole[50, 40] and hole[10, 20] and hole[99, 69]
    for _ in range(5):
        poly = rng.uniform(-5, 45, size=12).tolist()  # self-intersecting, partly outside: even-odd rule
        np.testing.assert_array_equal(polygons_to_mask([poly], 40, 40), polygon_truth(poly, 40, 40))
    square = polygons_to_mask([[10, 10, 20, 10, 20, 20, 10, 20]], 30, 30)
    assert square.sum() == 100 and square[10:20, 10:20].all()  # COCO's area for this polygon


def test_coco_wrong_inputs(tmp_path):
    with pytest.raises(BgbenchError, match="COCO source not found"):
        read_source(tmp_path / "nope.json", "coco")
    (tmp_path / "x.json").write_text("{broken")
    with pytest.raises(BgbenchError, match="COCO JSON is not valid JSON"):
        read_source(tmp_path / "x.json", "coco")
    (tmp_path / "x.json").write_text(json.dumps({"images": [], "categories": []}))
    with pytest.raises(BgbenchError, match="no 'annotations' list"):
        read_source(tmp_path / "x.json", "coco")
    (tmp_path / "x.json").write_text(
        json.dumps(
            {
                "images": [{"id": 1, "file_name": "gone.jpg", "width": 5, "height": 5}],
                "annotations": [],
                "categories": [],
            }
        )
    )
    with pytest.raises(BgbenchError, match="cannot find the images"):
        read_source(tmp_path / "x.json", "coco")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BgbenchError, match="no COCO instances JSON"):
        read_source(tmp_path / "empty", "coco")


# ---------------------------------------------------------------- generic folder


def test_folder_reader_masks_and_boxes(tmp_path):
    write_jpeg(tmp_path / "images" / "cat" / "a.jpg", rgb_image(seed=1))
    mask = np.zeros((64, 80), np.uint8)
    mask[5:20, 5:30] = 255
    mask[40:60, 50:75] = 255
    mask[0, 79] = 255  # a speck: ignored for boxes, kept in the mask
    (tmp_path / "masks" / "cat").mkdir(parents=True)
    Image.fromarray(mask).save(tmp_path / "masks" / "cat" / "a.png")
    write_jpeg(tmp_path / "images" / "cat" / "empty.jpg", rgb_image(seed=2))
    Image.fromarray(np.zeros((64, 80), np.uint8)).save(tmp_path / "masks" / "cat" / "empty.png")
    write_jpeg(tmp_path / "images" / "cat" / "small.jpg", rgb_image(seed=3))
    Image.fromarray(mask[:32, :40]).save(tmp_path / "masks" / "cat" / "small.png")
    write_jpeg(tmp_path / "images" / "dog" / "b.jpg", rgb_image(seed=4))
    write_xml(
        tmp_path / "boxes" / "dog" / "b.xml", annotation_xml("dog", "b", (80, 64), [("x", (3, 4, 40, 50))])
    )
    write_jpeg(tmp_path / "images" / "dog" / "c.jpg", rgb_image(seed=5))
    result = read_source(tmp_path, "folder")
    assert result.class_names == ["cat", "dog"] and result.has_masks
    by_stem = {s.stem: s for s in result.samples}
    assert list(by_stem) == ["a", "empty", "small", "b", "c"]
    assert by_stem["a"].boxes == ((50, 40, 74, 59), (5, 5, 29, 19))
    loaded = load_sample(by_stem["a"])
    assert loaded.problem is None
    np.testing.assert_array_equal(loaded.mask, mask > 0)
    assert reasons.reason_category(by_stem["empty"].problem) == reasons.EMPTY_MASK
    assert reasons.reason_category(load_sample(by_stem["small"]).problem) == reasons.SIZE_MISMATCH
    with pytest.raises(BgbenchError, match="mask size differs from image size"):
        load_mask(by_stem["small"], (64, 80))
    assert by_stem["b"].boxes == ((3, 4, 40, 50),) and by_stem["b"].mask_ref is None
    assert reasons.reason_category(by_stem["c"].problem) == reasons.NO_ANNOTATION
    mapped = read_source(tmp_path, "folder", class_map={"dog": "dog"})
    assert mapped.class_names == list(IN9_FOLDERS) and [s.stem for s in mapped.samples] == ["b", "c"]
    assert mapped.skipped == {"images in class folders missing from the class map": 3}


def test_folder_wrong_layout(tmp_path):
    with pytest.raises(BgbenchError, match="no images/ folder"):
        read_source(tmp_path, "folder")
    (tmp_path / "images").mkdir()
    with pytest.raises(BgbenchError, match="holds no class folders"):
        read_source(tmp_path, "folder")


def test_stem_collisions_never_clash_with_existing_names(tmp_path):
    from bgbench.sources.base import finalize
    from bgbench.sources.samples import Sample

    made = [
        Sample(Path(p), 0, stem, p)
        for p, stem in [
            ("b/x.jpg", "x"),
            ("a/x.jpg", "x"),
            ("c/x__2.jpg", "x__2"),
            ("d/x.png", "x"),
            ("e/y.jpg", "y"),
        ]
    ]
    made.append(Sample(Path("f/x.jpg"), 1, "x", "f/x.jpg"))  # other class: no clash
    assert [(s.source_id, s.stem) for s in finalize(made)] == [
        ("a/x.jpg", "x"),
        ("b/x.jpg", "x__3"),
        ("c/x__2.jpg", "x__2"),
        ("d/x.png", "x__4"),
        ("e/y.jpg", "y"),
        ("f/x.jpg", "x"),
    ]


def test_xml_parser_details(tmp_path):
    from bgbench.sources.xml import AnnotationError, parse_annotation_bytes

    ann = parse_annotation_bytes(
        b"<annotation><size><width>0</width><height>0</height></size><object><name> n1 "
        b"</name><difficult>1</difficult><bndbox><xmin>1.6</xmin><ymin>2</ymin>"
        b"<xmax>30.4</xmax><ymax>40</ymax></bndbox></object></annotation>"
    )
    assert ann.size is None and ann.objects[0].name == "n1" and ann.objects[0].box == (2, 2, 30, 40)
    assert ann.objects[0].difficult
    for bad in (
        b"<annotation><object><name>a</name></object></annotation>",
        b"<annotation><object><name>a</name><bndbox><xmin>x</xmin></bndbox></object></annotation>",
        b"<root/>",
        b'<!DOCTYPE a [<!ENTITY x "y">]><annotation/>',
        b"\xff\xfe",
    ):
        with pytest.raises(AnnotationError, match="^malformed annotation XML"):
            parse_annotation_bytes(bad)


def test_no_usable_image_is_an_error_naming_what_was_skipped(tmp_path):
    write_jpeg(tmp_path / "val" / UNMAPPED_WNID / "a.JPEG", rgb_image())
    with pytest.raises(
        BgbenchError, match=r"no val images of any usable class found: 1 class folders of wnids"
    ):
        read_source(tmp_path)
    write_jpeg(tmp_path / "flat" / "ILSVRC2012_val_00000001.JPEG", rgb_image())
    with pytest.raises(BgbenchError, match=r"1 flat images without a usable annotation.*annotations=DIR"):
        read_source(tmp_path / "flat")
