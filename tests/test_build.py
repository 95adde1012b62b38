"""``bgbench build`` end to end on tiny synth trees: layout, variant definitions on disk, donors,
determinism across executors, resume after SIGKILL, bad inputs, and real photos."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bgbench.build import build_dataset, read_manifest
from bgbench.build.mixing import MixSource, MixTask, donor_background, mixed_arrays, resized_original
from bgbench.build.writer import decode_jpeg
from bgbench.classes import IN9_FOLDERS, IN9_WNIDS
from bgbench.cli import main
from bgbench.composite import composite
from bgbench.errors import BgbenchError
from bgbench.layout import IMAGE_VARIANTS
from bgbench.sources import load_image, load_mask, read_source
from bgbench.synth import synthesize
from bgbench.variants import single_image_variants
from buildhelpers import check_mixed_files, file_of, tree_bytes

PHASE1 = ("original", "only_bg_b", "only_bg_t", "no_fg", "only_fg")
MIXED = ("mixed_same", "mixed_rand", "mixed_next")


def source_paths(out: Path) -> dict[str, Path]:
    """{source_id: source image path} of a built tree's split "val" (read through the same reader)."""
    config = json.loads((out / "build.json").read_text())["splits"]["val"]["config"]
    return {s.source_id: s.image_path for s in read_source(config["source"], split="val").samples}


def check_all_mixed(out: Path) -> int:
    """check_mixed_files on every kept image of a built tree; returns the mixed files checked."""
    records = read_manifest(out)
    by_id = {r["source_id"]: r for r in records}
    paths = source_paths(out)
    checked = 0
    for rec in records:
        if rec["status"] != "kept":
            continue
        donors = {v: (by_id[d["source_id"]], paths[d["source_id"]]) for v, d in rec["donors"].items() if d}
        check_mixed_files(out, rec, paths[rec["source_id"]], donors)
        checked += len(donors)
    return checked


@pytest.fixture(scope="module")
def synth_small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 per class at 96 px: the GrabCut builds below."""
    root = tmp_path_factory.mktemp("synth_small")
    synthesize(root, per_class=2, split="val", seed=1, size=96, quiet=True)
    return root


@pytest.fixture(scope="module")
def grabcut_serial(synth_small: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gc") / "serial"
    build_dataset(synth_small, out, split="val", executor="serial", quiet=True)
    return out


# ----------------------------------------------------------------------------- layout + definitions
def test_layout_manifest_and_build_json(synth_built: Path):
    records = read_manifest(synth_built)
    assert len(records) == 27 and all(r["status"] == "kept" for r in records)
    for rec in records:
        for variant in IMAGE_VARIANTS:
            with Image.open(file_of(synth_built, variant, rec)) as im:
                assert im.size == (224, 224) and im.mode == "RGB" and im.format == "JPEG"
        mask = np.load(file_of(synth_built, "fg_mask", rec))
        assert mask.shape == (224, 224) and mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1}
        assert rec["mask_fraction"] == pytest.approx(mask.mean(), abs=1e-6)
    build = json.loads((synth_built / "build.json").read_text())
    summary = build["splits"]["val"]["summary"]
    assert summary["kept"] == 27 and summary["per_class"]["03_reptile"] == {"kept": 3, "dropped": 0}
    assert build["splits"]["val"]["config"]["segmenter"] == "mask"
    assert {"bgbench", "opencv", "numpy"} <= set(build["versions"])
    assert sorted(p.name for p in (synth_built / "original" / "val").iterdir()) == list(IN9_FOLDERS)


def test_variants_on_disk_match_the_pure_functions(synth_built: Path):
    """Each written file is the pure-function variant of the source image, within JPEG tolerance."""
    config = json.loads((synth_built / "build.json").read_text())["splits"]["val"]["config"]
    samples = {s.source_id: s for s in read_source(config["source"], split="val").samples}
    for rec in read_manifest(synth_built)[::4]:
        sample = samples[rec["source_id"]]
        image = load_image(sample.image_path)
        expected = single_image_variants(image, sample.boxes, load_mask(sample, image.shape))
        np.testing.assert_array_equal(np.load(file_of(synth_built, "fg_mask", rec)), expected["fg_mask"])
        for variant in PHASE1:
            got = decode_jpeg(file_of(synth_built, variant, rec)).astype(int)
            diff = np.abs(got - expected[variant].astype(int))
            assert diff.mean() < 3.0 and np.percentile(diff, 99) < 40, variant
        m = expected["fg_mask"].astype(bool)
        only_fg = decode_jpeg(file_of(synth_built, "only_fg", rec)).astype(int)
        assert only_fg[~m].mean() < 3.0  # black outside the mask
        no_fg = decode_jpeg(file_of(synth_built, "no_fg", rec)).astype(int)
        assert no_fg[m].mean() < 6.0  # black inside the mask


def test_mixed_images_keep_foreground_and_take_donor_background(synth_built: Path):
    records = read_manifest(synth_built)
    by_id = {r["source_id"]: r for r in records}
    for rec in records:
        y = rec["label"]
        donors = rec["donors"]
        same, rand, nxt = (by_id[donors[v]["source_id"]] for v in MIXED)
        assert same["label"] == y and same["source_id"] != rec["source_id"]  # 3 per class: never itself
        assert rand["source_id"] != rec["source_id"]
        assert nxt["label"] == (y + 1) % 9
        for variant in MIXED:  # label = foreground's class: the file sits in the foreground's class folder
            assert file_of(synth_built, variant, rec).parent.name == IN9_FOLDERS[y]
    # each mixed JPEG is the one compression of composite(resized original, donor only_bg_t, fg_mask)
    # computed from the source files
    assert check_all_mixed(synth_built) == 3 * 27


def test_phase2_arrays_are_the_pure_function_variants(synth_built: Path):
    """What phase 2 composites from (sources decoded again) is exactly what phase 1's pure functions
    gave: the original, the donor's only_bg_t, and so the mixed images, before any JPEG."""
    config = json.loads((synth_built / "build.json").read_text())["splits"]["val"]["config"]
    samples = {s.source_id: s for s in read_source(config["source"], split="val").samples}
    records = read_manifest(synth_built)
    by_id = {r["source_id"]: r for r in records}

    def pure(source_id: str) -> dict[str, np.ndarray]:
        sample = samples[source_id]
        image = load_image(sample.image_path)
        return single_image_variants(image, sample.boxes, load_mask(sample, image.shape))

    for rec in records[::5]:
        mine = pure(rec["source_id"])
        source = MixSource.of(samples[rec["source_id"]].image_path, rec)
        np.testing.assert_array_equal(resized_original(source), mine["original"])
        np.testing.assert_array_equal(donor_background(source), mine["only_bg_t"])
        donors = {v: MixSource.of(samples[d["source_id"]].image_path, by_id[d["source_id"]])
                  for v, d in rec["donors"].items()}
        task = MixTask(rec, source, donors, str(synth_built), "val", 256, 224, 95)
        arrays = mixed_arrays(task)
        assert sorted(arrays) == sorted(MIXED)
        for variant, donor in rec["donors"].items():
            expected = composite(mine["original"], pure(donor["source_id"])["only_bg_t"], mine["fg_mask"])
            np.testing.assert_array_equal(arrays[variant], expected)
            m = mine["fg_mask"].astype(bool)
            np.testing.assert_array_equal(arrays[variant][m], mine["original"][m])  # foreground exact
    # a source that changed since phase 1 is an error, not a silently different mixed image
    rec = records[0]
    moved = MixSource(str(samples[rec["source_id"]].image_path), tuple(map(tuple, rec["boxes"])),
                      (rec["image_size"][0] + 1, rec["image_size"][1]))
    with pytest.raises(BgbenchError, match="source image changed during the build"):
        resized_original(moved)


# ----------------------------------------------------------------------------- determinism + resume
def test_grabcut_build_is_deterministic_across_runs_and_executors(synth_small, grabcut_serial, tmp_path):
    again = tmp_path / "again"
    build_dataset(synth_small, again, split="val", executor="serial", quiet=True)
    pooled = tmp_path / "pooled"
    build_dataset(synth_small, pooled, split="val", executor="process", workers=2, quiet=True)
    reference = tree_bytes(grabcut_serial)
    assert len(reference) > 18 * 9
    assert tree_bytes(again) == reference
    assert tree_bytes(pooled) == reference
    records = read_manifest(grabcut_serial)
    kept = [r for r in records if r["status"] == "kept"]
    assert kept and all(r["mask_method"] == "grabcut" and r["grabcut_tries"] >= 1 for r in kept)
    build = json.loads((grabcut_serial / "build.json").read_text())
    assert build["splits"]["val"]["summary"]["mask_iou"]["n"] == len(kept)
    assert check_all_mixed(grabcut_serial) >= 2 * len(kept)  # exact composites with GrabCut masks too


@pytest.mark.slow
def test_ray_executor_gives_identical_output(synth_small, grabcut_serial, tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "ray"
    build_dataset(synth_small, out, split="val", executor="ray", workers=2, quiet=True)
    assert tree_bytes(out) == tree_bytes(grabcut_serial)


def test_resume_after_sigkill_is_byte_identical(tmp_path):
    source = tmp_path / "src"
    synthesize(source, per_class=4, split="val", seed=2, size=128, quiet=True)
    clean = tmp_path / "clean"
    build_dataset(source, clean, split="val", executor="serial", quiet=True)

    out = tmp_path / "killed"
    command = [sys.executable, "-m", "bgbench", "build", str(source), str(out), "--split", "val",
               "--executor", "serial", "-q"]
    env = {**os.environ, "BGBENCH_PROGRESS": "0"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    records = out / ".bgbench-build" / "val" / "records"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if records.is_dir() and sum(1 for _ in records.rglob("*.json")) >= 4:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the build finished before it could be killed"
    assert not (out / "manifest.jsonl").exists()

    result = subprocess.run(command, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert tree_bytes(out) == tree_bytes(clean)


def test_different_arguments_into_same_out_is_an_error(synth_built, tmp_path):
    config = json.loads((synth_built / "build.json").read_text())["splits"]["val"]["config"]
    out = tmp_path / "copy"
    shutil.copytree(synth_built, out)
    with pytest.raises(BgbenchError, match=r"different arguments \(seed: 0 -> 1\)"):
        build_dataset(config["source"], out, split="val", segmenter="mask", seed=1, quiet=True)
    # the same arguments resume: nothing to redo, same bytes
    before = tree_bytes(out)
    result = build_dataset(config["source"], out, split="val", segmenter="mask", quiet=True)
    assert result["written"] == {"phase1": 0, "mixed": 0} and tree_bytes(out) == before
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(BgbenchError, match="not empty"):
        build_dataset(config["source"], foreign, split="val", segmenter="mask", quiet=True)


# ----------------------------------------------------------------------------- bad input and filters
def _set_xml(xml: Path, *, boxes: list[tuple[int, int, int, int]] | None = None,
             size: tuple[int, int] | None = None) -> None:
    text = xml.read_text()
    if size is not None:
        text = re.sub(r"<width>\d+</width>", f"<width>{size[0]}</width>", text)
        text = re.sub(r"<height>\d+</height>", f"<height>{size[1]}</height>", text)
    if boxes is not None:
        obj = re.search(r"\s*<object>.*?</object>", text, re.S).group(0)
        text = re.sub(r"\s*<object>.*?</object>", "", text, flags=re.S)
        new = ""
        for x0, y0, x1, y1 in boxes:
            new += re.sub(r"<bndbox>.*?</bndbox>", f"<bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
                          f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox>", obj, flags=re.S)
        text = text.replace("</annotation>", new + "\n</annotation>")
    xml.write_text(text)


@pytest.fixture(scope="module")
def bad_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A synth tree with one broken input per case; returns (root, {stem: expected reason start})."""
    root = tmp_path_factory.mktemp("bad")
    synthesize(root, per_class=3, split="val", seed=3, size=96, quiet=True)
    folder = root / "val" / IN9_WNIDS[0]
    stems = sorted(p.stem for p in folder.glob("*.JPEG"))
    expected: dict[str, str] = {}

    def size_of(stem: str) -> tuple[int, int]:
        with Image.open(folder / f"{stem}.JPEG") as im:
            return im.size

    w, h = size_of(stems[0])
    _set_xml(folder / f"{stems[0]}.xml", boxes=[(0, 0, w - 1, h - 1)])
    expected[stems[0]] = "box covers too much of the crop"
    w, h = size_of(stems[1])
    _set_xml(folder / f"{stems[1]}.xml", size=(w + 10, h))
    expected[stems[1]] = "annotation size differs from image size"
    data = (folder / f"{stems[2]}.JPEG").read_bytes()
    (folder / f"{stems[2]}.JPEG").write_bytes(data[: len(data) // 2])  # truncated JPEG
    expected[stems[2]] = "unreadable image"
    cat = root / "val" / IN9_WNIDS[4]
    cat_stems = sorted(p.stem for p in cat.glob("*.JPEG"))
    (cat / f"{cat_stems[0]}.xml").unlink()
    expected[cat_stems[0]] = "no bounding-box annotation"
    w, h = size_of_in(cat, cat_stems[1])
    _set_xml(cat / f"{cat_stems[1]}.xml", boxes=[(5, 5, w + 40, h - 2)])
    expected[cat_stems[1]] = "box outside the image"
    w, h = size_of_in(cat, cat_stems[2])
    _set_xml(cat / f"{cat_stems[2]}.xml", boxes=[(0, 2, 3, h // 3)] if w >= h else [(2, 0, w // 3, 3)])
    expected[cat_stems[2]] = "box mostly outside the centre crop"
    fish = root / "val" / IN9_WNIDS[8]
    fish_stems = sorted(p.stem for p in fish.glob("*.JPEG"))
    with Image.open(fish / f"{fish_stems[0]}.JPEG") as im:  # CMYK and greyscale files are fine
        im.convert("CMYK").save(fish / f"{fish_stems[0]}.JPEG")
    with Image.open(fish / f"{fish_stems[1]}.JPEG") as im:
        im.convert("L").save(fish / f"{fish_stems[1]}.JPEG")
    return root, expected


def size_of_in(folder: Path, stem: str) -> tuple[int, int]:
    with Image.open(folder / f"{stem}.JPEG") as im:
        return im.size


def test_bad_inputs_are_dropped_with_reasons_and_leave_no_files(bad_corpus, tmp_path):
    root, expected = bad_corpus
    out = tmp_path / "out"
    result = build_dataset(root, out, split="val", segmenter="mask", executor="serial", quiet=True)
    records = {r["stem"]: r for r in read_manifest(out)}
    for stem, reason in expected.items():
        assert records[stem]["status"] == "dropped", stem
        assert records[stem]["reason"].startswith(reason), (stem, records[stem]["reason"])
        assert not list(out.glob(f"*/val/*/{stem}.*")), stem  # no output file of a dropped image
    dropped = {r["source_id"] for r in records.values() if r["status"] == "dropped"}
    donors = {d["source_id"] for r in records.values() for d in (r.get("donors") or {}).values() if d}
    assert donors and not donors & dropped
    fish = [r for r in records.values() if r["class"] == "08_fish"]
    assert all(r["status"] == "kept" for r in fish)  # CMYK / greyscale sources
    summary = result["summary"]
    assert summary["dropped"] == len(expected) and summary["kept"] == 27 - len(expected)
    assert summary["per_class"]["00_dog"] == {"kept": 0, "dropped": 3}
    assert set(summary["drop_reasons"]) == set(expected.values())
    # classes 00_dog and 04_carnivore lost every image: the fish (08 -> 00) and the reptiles
    # (03 -> 04) have no mixed_next donor, and those files are not written
    assert summary["mixed_without_donor"] == {"mixed_next": 6}
    for r in records.values():
        if r["class"] in ("08_fish", "03_reptile"):
            assert r["donors"]["mixed_next"] is None and not file_of(out, "mixed_next", r).exists()


def test_single_box_filter_and_empty_foreground(tmp_path):
    root = tmp_path / "src"
    synthesize(root, per_class=2, split="val", seed=4, size=96, quiet=True)
    records_in = [json.loads(line) for line in (root / "synth-val.jsonl").read_text().splitlines()]
    several = [r for r in records_in if len(r.get("objects", [])) > 1]
    assert several, "the synth tree should hold two-object images"
    single = next(r for r in records_in if len(r["objects"]) == 1)
    stem = single["stem"]
    mask_png = root / single["mask"]
    Image.fromarray(np.zeros(np.asarray(Image.open(mask_png)).shape, np.uint8), "L").save(mask_png)
    out = tmp_path / "out"
    build_dataset(root, out, split="val", segmenter="mask", single_box=True, quiet=True)
    records = {r["stem"]: r for r in read_manifest(out)}
    assert records[stem]["status"] == "dropped" and "empty" in records[stem]["reason"]
    for r in several:
        assert records[r["stem"]]["reason"].startswith("several boxes")
    assert all(r["status"] == "kept" for s, r in records.items()
               if s != stem and s not in {x["stem"] for x in several})


def test_cli_builds_and_reports(synth_small, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["build", str(synth_small), str(out), "--segmenter", "box", "--executor", "serial", "-q"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "00_dog" in captured.out and "total (val)" in captured.out
    assert (out / "build.json").exists()
    code = main(["build", str(tmp_path / "missing"), str(tmp_path / "o2"), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o2").exists()


# ----------------------------------------------------------------------------- real photos
@pytest.mark.realdata
@pytest.mark.slow
def test_build_from_real_imagenet_photos(realdata, tmp_path):
    source = realdata / "imagenet-samples"
    out = tmp_path / "real"
    result = build_dataset(source, out, split="val", per_class=2, grabcut_tries=3, executor="process",
                           workers=2, quiet=True)
    summary = result["summary"]
    records = read_manifest(out)
    assert len(records) == 18 and summary["kept"] + summary["dropped"] == 18
    assert summary["kept"] >= 10, summary["drop_reasons"]  # most real photos with boxes survive
    assert set(summary["drop_reasons"]) <= {"segmentation failed", "box covers too much of the crop",
                                            "box mostly outside the centre crop"}
    for rec in records:
        if rec["status"] == "kept":
            for variant in (*IMAGE_VARIANTS, "fg_mask"):
                if variant in MIXED and rec["donors"][variant] is None:  # class y+1 lost every image
                    assert summary["mixed_without_donor"][variant] > 0 and variant == "mixed_next"
                    continue
                assert file_of(out, variant, rec).exists(), (variant, rec["stem"])
            assert 0.0 < rec["mask_fraction"] < 0.95
        else:
            assert rec["reason"]


def test_train_and_val_share_one_out_and_presets(tmp_path):
    root = tmp_path / "src"
    synthesize(root, per_class=1, split="val", seed=5, size=64, quiet=True)
    synthesize(root, per_class=1, split="train", seed=5, size=64, quiet=True)
    out = tmp_path / "out"
    build_dataset(root, out, split="val", segmenter="box", quiet=True)
    result = build_dataset(root, out, split="train", segmenter="box", preset="released", quiet=True)
    assert result["config"]["single_box"] is True and result["config"]["max_box_fraction"] == 0.9
    build = json.loads((out / "build.json").read_text())
    assert list(build["splits"]) == ["train", "val"]
    assert build["splits"]["val"]["config"]["single_box"] is False
    splits = [r["split"] for r in read_manifest(out)]
    assert splits == sorted(splits) and set(splits) == {"train", "val"} and len(splits) == 18
    assert (out / "original" / "train").is_dir() and (out / "original" / "val").is_dir()
    with pytest.raises(BgbenchError, match="unknown preset"):
        build_dataset(root, tmp_path / "o3", preset="paper", quiet=True)
