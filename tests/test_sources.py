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
    rgb_image,
    write_jpeg,
    write_xml,
)
from bgbench.classes import IN9_CLASSES, IN9_FOLDERS, IN9_WNIDS, imagenet_in9_classes, wnid_to_in9
from bgbench.errors import BgbenchError
from bgbench.sources import load_image, load_sample, read_source, reasons, select_per_class
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
    synth = pytest.importorskip("bgbench.synth")
    if not hasattr(synth, "synthesize"):
        pytest.skip("bgbench.synth.synthesize not available yet")
    synth.synthesize(tmp_path, per_class=2, split="train", seed=0, size=96)
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
