"""``bgbench build`` end to end from the other source formats: Pascal VOC (instance PNGs with void),
COCO (compressed RLE, uncompressed RLE, polygons) and a generic folder (masks, or box XMLs), each
built with the mask, GrabCut and box segmenters, with and without a class map, through the Python API
and the CLI. The trees are tiny synth scenes (``badcorpus.make_*_tree``); every check is against
what the generator wrote, never against the readers."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from badcorpus import BUILD_CLASSES, TreeTruth, make_coco_tree, make_folder_tree, make_voc_tree
from bgbench.builder import BuildConfig, BuildRun, build_dataset, read_manifest
from bgbench.classes import IN9_FOLDERS
from bgbench.cli import main
from bgbench.jpeg import decode_jpeg
from bgbench.layout import IMAGE_VARIANTS
from bgbench.segment import mask_iou, segment
from bgbench.sources import load_image
from buildhelpers import check_mixed_files, file_of, resize_crop_pil, tree_bytes

GENERATORS: dict[str, Callable[..., dict[str, TreeTruth]]] = {
    "voc": make_voc_tree, "coco": make_coco_tree, "folder": make_folder_tree}
OWN_FOLDERS = [f"{i:02d}_{name}" for i, name in enumerate(sorted(BUILD_CLASSES))]  # 00_bird 01_dog 02_vehicle


def own_folder(name: str) -> str:
    """The folder of a dataset class without a class map: ``NN_<name>``, classes sorted."""
    return OWN_FOLDERS[sorted(BUILD_CLASSES).index(name)]


def boxes_truth(shape: tuple[int, int], boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    mask = np.zeros(shape, bool)
    for x0, y0, x1, y1 in boxes:
        mask[y0:y1 + 1, x0:x1 + 1] = True
    return mask


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, TreeTruth]]]:
    """One tree per format: 3 classes x 3 scenes at 96 px (the folder's 3rd image per class: boxes only)."""
    base = tmp_path_factory.mktemp("trees")
    return {fmt: (base / fmt, make(base / fmt)) for fmt, make in GENERATORS.items()}


@pytest.fixture(scope="module")
def built(trees, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``built(fmt, segmenter, **options)`` -> OUT, each distinct build made once (serial)."""
    cache: dict[str, Path] = {}
    base = tmp_path_factory.mktemp("built")

    def build(fmt: str, segmenter: str, **options) -> Path:
        key = json.dumps([fmt, segmenter, options], sort_keys=True, default=str)
        if key not in cache:
            out = base / f"{fmt}-{segmenter}-{len(cache)}"
            config = BuildConfig(source_format=fmt, segmenter=segmenter, split="val", run=BuildRun("serial"))
            build_dataset(trees[fmt][0], out, replace(config, **options), quiet=True)
            cache[key] = out
        return cache[key]

    return build


def check_layout_and_donors(out: Path, truth: dict[str, TreeTruth], folders: list[str],
                            folder_of: Callable[[str], str]) -> dict[str, dict]:
    """Classes, files of kept/dropped images and donor rules; returns the records by stem."""
    records = read_manifest(out)
    by_stem = {r["stem"]: r for r in records}
    assert set(by_stem) == set(truth)
    build = json.loads((out / "build.json").read_text())["splits"]["val"]
    assert list(build["summary"]["per_class"]) == folders
    kept = [r for r in records if r["status"] == "kept"]
    kept_labels = {r["label"] for r in kept}
    k = len(folders)
    for stem, rec in by_stem.items():
        assert rec["class"] == folder_of(truth[stem].class_name) == folders[rec["label"]]
        files = [file_of(out, v, rec) for v in (*IMAGE_VARIANTS, "fg_mask")]
        if rec["status"] != "kept":
            assert not any(f.exists() for f in files), stem
            continue
        donors = rec["donors"]
        for variant, path in zip((*IMAGE_VARIANTS, "fg_mask"), files, strict=True):
            if variant == "mixed_next" and donors["mixed_next"] is None:
                assert (rec["label"] + 1) % k not in kept_labels and not path.exists()
                continue
            assert path.is_file() and path.stat().st_size > 0, (stem, variant)
        kept_by_id = {r["source_id"]: r for r in kept}
        same = kept_by_id[donors["mixed_same"]["source_id"]]
        assert same["label"] == rec["label"]
        assert kept_by_id[donors["mixed_rand"]["source_id"]]["source_id"] != rec["source_id"]
        if donors["mixed_next"] is not None:
            nxt = kept_by_id[donors["mixed_next"]["source_id"]]
            assert nxt["label"] == (rec["label"] + 1) % k and donors["mixed_next"]["class"] == nxt["class"]
        # each mixed file: one JPEG of composite(resized original, donor only_bg_t, fg_mask) from the sources
        chosen = {v: (kept_by_id[d["source_id"]], truth[d["stem"]].path) for v, d in donors.items() if d}
        check_mixed_files(out, rec, truth[stem].path, chosen)
    return by_stem


# ----------------------------------------------------------------------------- --segmenter mask
@pytest.mark.parametrize("fmt", ["voc", "coco", "folder"])
def test_mask_build_uses_the_datasets_own_classes_and_masks(fmt, trees, built):
    _root, truth = trees[fmt]
    out = built(fmt, "mask")
    by_stem = check_layout_and_donors(out, truth, OWN_FOLDERS, own_folder)
    assert sorted(p.name for p in (out / "original" / "val").iterdir()) == OWN_FOLDERS
    for stem, item in truth.items():
        rec = by_stem[stem]
        assert rec["mask_method"] == "mask" and "mask_iou" not in rec
        if item.mask is None:  # the folder's box-only images: nothing to take the mask from
            assert rec["status"] == "dropped" and rec["reason"] == "segmentation failed: no provided mask"
            continue
        assert rec["status"] == "kept", rec["reason"]
        # fg_mask is the provided mask after the same Resize(256, nearest) + CenterCrop(224)
        expected = resize_crop_pil(item.mask.astype(np.uint8))
        np.testing.assert_array_equal(np.load(file_of(out, "fg_mask", rec)), expected)
        original = resize_crop_pil(load_image(item.path)).astype(int)
        assert np.abs(decode_jpeg(file_of(out, "original", rec)).astype(int) - original).mean() < 2.0
    if fmt == "voc":  # 1-based VOC corners came back 0-based
        assert all(by_stem[s]["boxes"] == [list(b) for b in t.boxes] for s, t in truth.items())


# ----------------------------------------------------------------------------- --segmenter grabcut
@pytest.mark.parametrize("fmt", ["voc", "coco", "folder"])
def test_grabcut_build_reports_iou_against_the_provided_masks(fmt, trees, built):
    _root, truth = trees[fmt]
    out = built(fmt, "grabcut")
    by_stem = check_layout_and_donors(out, truth, OWN_FOLDERS, own_folder)
    ious = []
    for stem, item in truth.items():
        rec = by_stem[stem]
        assert rec["status"] == "kept", rec["reason"]
        assert rec["mask_method"] == "grabcut" and rec["grabcut_tries"] >= 1
        if item.mask is None:
            assert "mask_iou" not in rec  # no provided mask to compare with
            continue
        # the reported IoU is GrabCut's mask (same seed) against what the annotation says
        image = load_image(item.path)
        again = segment(image, rec["boxes"], "grabcut", seed=rec["seed"])
        assert rec["mask_iou"] == pytest.approx(mask_iou(again.mask, item.mask), abs=1e-6)
        np.testing.assert_array_equal(np.load(file_of(out, "fg_mask", rec)),
                                      resize_crop_pil(again.mask.astype(np.uint8)))
        ious.append(rec["mask_iou"])
    stats = json.loads((out / "build.json").read_text())["splits"]["val"]["summary"]["mask_iou"]
    assert stats["n"] == len(ious) == sum(t.mask is not None for t in truth.values())
    assert stats["median"] == pytest.approx(float(np.median(ious)), abs=1e-4)
    assert stats["mean"] == pytest.approx(float(np.mean(ious)), abs=1e-4)
    assert stats["median"] > 0.5  # the scenes are easy: GrabCut finds most of each object


# ----------------------------------------------------------------------------- --segmenter box
@pytest.mark.parametrize("fmt", ["voc", "coco", "folder"])
def test_box_build_masks_are_the_boxes(fmt, trees, built):
    _root, truth = trees[fmt]
    out = built(fmt, "box")
    by_stem = check_layout_and_donors(out, truth, OWN_FOLDERS, own_folder)
    for stem, item in truth.items():
        rec = by_stem[stem]
        assert rec["status"] == "kept", rec["reason"]
        shape = load_image(item.path).shape[:2]
        boxes = [tuple(b) for b in rec["boxes"]] if fmt == "folder" and item.mask is not None else item.boxes
        expected = resize_crop_pil(boxes_truth(shape, boxes).astype(np.uint8))
        np.testing.assert_array_equal(np.load(file_of(out, "fg_mask", rec)), expected)
        if item.mask is not None:
            assert rec["mask_iou"] == pytest.approx(mask_iou(boxes_truth(shape, boxes), item.mask), abs=1e-6)
            if fmt == "folder":  # boxes derived from the mask: every mask component of >= 1% is boxed
                assert boxes_truth(shape, boxes)[item.mask].mean() > 0.99


# ----------------------------------------------------------------------------- class maps, CLI, executors
def test_class_map_file_groups_dataset_classes(trees, built, tmp_path):
    class_map = tmp_path / "map.json"
    class_map.write_text(json.dumps({"dog": "animal", "bird": "animal", "vehicle": "machine"}))
    out = built("voc", "mask", class_map=class_map)
    folders = ["00_animal", "01_machine"]
    by_stem = check_layout_and_donors(out, trees["voc"][1], folders,
                                      lambda name: folders[name == "vehicle"])
    # two classes: mixed_next of an animal is a machine and the other way round
    for rec in by_stem.values():
        assert rec["donors"]["mixed_next"]["class"] == folders[1 - rec["label"]]
    config = json.loads((out / "build.json").read_text())["splits"]["val"]["config"]
    assert config["class_map"] == str(class_map.resolve()) and config["source_format"] == "voc"


def test_cli_coco_grabcut_with_an_in9_class_map(trees, tmp_path, capsys):
    root, truth = trees["coco"]
    class_map = tmp_path / "in9.json"
    class_map.write_text(json.dumps({"dog": "dog", "bird": "01_bird", "vehicle": "vehicle"}))
    out = tmp_path / "cli"
    code = main(["build", str(root), str(out), "--source-format", "coco", "--segmenter", "grabcut",
                 "--class-map", str(class_map), "--executor", "serial", "-q"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "00_dog" in captured.out and "02_vehicle" in captured.out
    folders = list(IN9_FOLDERS)
    by_stem = check_layout_and_donors(out, truth, folders,
                                      lambda name: folders[("dog", "bird", "vehicle").index(name)])
    # nine classes, three of them present: vehicles (02) have no class-03 image for mixed_next
    summary = json.loads((out / "build.json").read_text())["splits"]["val"]["summary"]
    assert summary["kept"] == 9 and summary["mixed_without_donor"] == {"mixed_next": 3}
    assert summary["mask_iou"]["n"] == 9
    assert all(r["donors"]["mixed_next"] is None for r in by_stem.values() if r["class"] == "02_vehicle")


def test_process_executor_matches_serial_on_coco_and_folder(trees, built, tmp_path):
    for fmt in ("coco", "folder"):
        out = tmp_path / fmt
        build_dataset(trees[fmt][0], out, BuildConfig(source_format=fmt, segmenter="mask", split="val",
                                                      run=BuildRun("process", 2)), quiet=True)
        reference = built(fmt, "mask")
        assert tree_bytes(out) == tree_bytes(reference)  # mask refs (PNG, COCO RLE/polygons) pickle fine
