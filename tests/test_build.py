"""``bgbench build`` end to end on tiny synth trees: layout, variant definitions on disk, donors,
determinism across executors, resume after SIGKILL, bad inputs, and real photos."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bgbench.builder import BuildConfig, BuildRun, build_dataset, read_manifest
from bgbench.builder.mixing import MixSource, MixTask, donor_background, mixed_arrays, resized_original
from bgbench.classes import IN9_FOLDERS, IN9_WNIDS
from bgbench.cli import main
from bgbench.composite import composite
from bgbench.errors import BgbenchError
from bgbench.jpeg import decode_jpeg
from bgbench.layout import IMAGE_VARIANTS
from bgbench.sources import load_image, load_mask, read_source
from bgbench.synth import synthesize
from bgbench.variants import single_image_variants
from buildhelpers import check_mixed_files, file_of, tree_bytes
from procutil import kill_when

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
    build_dataset(synth_small, out, BuildConfig(split="val", run=BuildRun("serial")), quiet=True)
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
    build_dataset(synth_small, again, BuildConfig(split="val", run=BuildRun("serial")), quiet=True)
    pooled = tmp_path / "pooled"
    build_dataset(synth_small, pooled, BuildConfig(split="val", run=BuildRun("process", 2)), quiet=True)
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
    build_dataset(synth_small, out, BuildConfig(split="val", run=BuildRun("ray", 2)), quiet=True)
    assert tree_bytes(out) == tree_bytes(grabcut_serial)


def test_resume_after_sigkill_is_byte_identical(tmp_path):
    source = tmp_path / "src"
    synthesize(source, per_class=4, split="val", seed=2, size=128, quiet=True)
    clean = tmp_path / "clean"
    build_dataset(source, clean, BuildConfig(split="val", run=BuildRun("serial")), quiet=True)

    out = tmp_path / "killed"
    command = [sys.executable, "-m", "bgbench", "build", str(source), str(out), "--split", "val",
               "--executor", "serial", "-q"]
    env = {**os.environ, "BGBENCH_PROGRESS": "0"}
    records = out / ".bgbench-build" / "val" / "records"
    kill_when(command, env, lambda: records.is_dir() and sum(1 for _ in records.rglob("*.json")) >= 4)
    assert not (out / "manifest.jsonl").exists()

    result = subprocess.run(command, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert tree_bytes(out) == tree_bytes(clean)


# the CLI, with each mixed file's write followed by a short pause: phase 2 of a tiny build lasts long
# enough to be killed in the middle of it (the pause changes no byte)
SLOW_MIXING_CLI = """
import sys, time
import bgbench.builder.mixing as mixing
from bgbench.cli import main
write = mixing.write_variant
def slow_write(*args, **kwargs):
    path = write(*args, **kwargs)
    time.sleep(0.03)
    return path
mixing.write_variant = slow_write
sys.exit(main(sys.argv[1:]))
"""


def test_resume_after_sigkill_in_the_mixing_phase_is_byte_identical(tmp_path):
    source = tmp_path / "src"
    synthesize(source, per_class=3, split="val", seed=7, size=96, quiet=True)
    clean = tmp_path / "clean"
    build_dataset(source, clean, BuildConfig(split="val", segmenter="box",
                                             run=BuildRun("serial")), quiet=True)
    n_images = len(read_manifest(clean))
    n_mixed = sum(1 for v in MIXED for _ in (clean / v).rglob("*.JPEG"))

    out = tmp_path / "killed"
    args = ["build", str(source), str(out), "--split", "val", "--segmenter", "box", "--executor", "serial",
            "-q"]
    env = {**os.environ, "BGBENCH_PROGRESS": "0"}
    mixed_rand = out / "mixed_rand"
    kill_when([sys.executable, "-c", SLOW_MIXING_CLI, *args], env,
              lambda: mixed_rand.is_dir() and sum(1 for _ in mixed_rand.rglob("*.JPEG")) >= 3)
    # killed in phase 2: every phase-1 record written, some mixed files but not all, no manifest
    assert sum(1 for _ in (out / ".bgbench-build" / "val" / "records").rglob("*.json")) == n_images
    written = sum(1 for v in MIXED for _ in (out / v).rglob("*.JPEG"))
    assert 3 <= written < n_mixed
    assert not (out / "manifest.jsonl").exists()

    result = subprocess.run([sys.executable, "-m", "bgbench", *args], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert tree_bytes(out) == tree_bytes(clean)


def test_different_arguments_into_same_out_is_an_error(synth_built, tmp_path):
    config = json.loads((synth_built / "build.json").read_text())["splits"]["val"]["config"]
    out = tmp_path / "copy"
    shutil.copytree(synth_built, out)
    with pytest.raises(BgbenchError, match=r"different arguments \(seed: 0 -> 1\)"):
        build_dataset(config["source"], out, BuildConfig(split="val", segmenter="mask", seed=1), quiet=True)
    # the same arguments resume: nothing to redo, same bytes
    before = tree_bytes(out)
    result = build_dataset(config["source"], out, BuildConfig(split="val", segmenter="mask"), quiet=True)
    assert result.doc["written"] == {"phase1": 0, "mixed": 0} and tree_bytes(out) == before
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(BgbenchError, match="not empty"):
        build_dataset(config["source"], foreign, BuildConfig(split="val", segmenter="mask"), quiet=True)


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
    result = build_dataset(root, out, BuildConfig(split="val", segmenter="mask",
                                                  run=BuildRun("serial")), quiet=True)
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
    summary = result.doc["summary"]
    assert summary["dropped"] == len(expected) and summary["kept"] == 27 - len(expected)
    assert summary["per_class"]["00_dog"] == {"kept": 0, "dropped": 3}
    assert set(summary["drop_reasons"]) == set(expected.values())
    # classes 00_dog and 04_carnivore lost every image: the fish (08 -> 00) and the reptiles
    # (03 -> 04) have no mixed_next donor, and those files are not written
    assert summary["mixed_without_donor"] == {"mixed_next": 6}
    for r in records.values():
        if r["class"] in ("08_fish", "03_reptile"):
            assert r["donors"]["mixed_next"] is None and not file_of(out, "mixed_next", r).exists()


def test_build_survives_the_whole_bad_input_corpus(tmp_path):
    """build_dataset on every file of tests/badcorpus.py (plus three good images of a second class):
    each bad file is one dropped manifest line with its reason and no output file; the odd but usable
    encodings (CMYK, greyscale, RGBA, 16-bit grey/RGB/RGBA PNGs) are kept as 224x224 RGB JPEGs."""
    from badcorpus import FISH_LEAF, annotation_xml, make_bad_corpus, rgb_image, write_jpeg, write_xml
    from bgbench.resume import TEMP_NAME
    from bgbench.sources.reasons import reason_category

    root = tmp_path / "src"
    expected = make_bad_corpus(root)
    assert {"rgb16", "rgba16", "cmyk", "grey", "rgba", "grey16"} <= {s.rsplit("_", 1)[1] for s in expected}
    for n in range(3):
        stem = f"{FISH_LEAF}_{n + 1}"
        write_jpeg(root / FISH_LEAF / f"{stem}.JPEG", rgb_image(80, 64, seed=60 + n))
        write_xml(root / FISH_LEAF / f"{stem}.xml",
                  annotation_xml(FISH_LEAF, stem, (80, 64), [(FISH_LEAF, (8 + n, 8, 60, 50))]))
        expected[stem] = None
    out = tmp_path / "out"
    result = build_dataset(root, out, BuildConfig(split="val", segmenter="box",
                                                  run=BuildRun("serial")), quiet=True)

    records = {r["stem"]: r for r in read_manifest(out)}
    assert sorted(records) == sorted(expected)
    for stem, category in expected.items():
        rec = records[stem]
        if category is None:
            assert rec["status"] == "kept", (stem, rec["reason"])
            for variant in IMAGE_VARIANTS:
                path = file_of(out, variant, rec)
                if variant in MIXED and rec["donors"][variant] is None:
                    assert not path.exists()
                    continue
                with Image.open(path) as im:
                    assert (im.format, im.mode, im.size) == ("JPEG", "RGB", (224, 224)), (stem, variant)
            mask = np.load(file_of(out, "fg_mask", rec))
            assert mask.shape == (224, 224) and mask.dtype == np.uint8 and mask.any()
        else:
            assert rec["status"] == "dropped", stem
            assert reason_category(rec["reason"]) == category, (stem, rec["reason"])
            assert "\n" not in rec["reason"]
            assert not list(out.glob(f"*/val/*/{stem}.*")), stem  # no output file of a dropped image

    summary = result.doc["summary"]
    n_bad = sum(c is not None for c in expected.values())
    assert summary["images"] == len(expected) and summary["dropped"] == n_bad
    assert summary["kept"] == len(expected) - n_bad
    bad_categories = [c for c in expected.values() if c is not None]
    assert summary["drop_reasons"] == {c: bad_categories.count(c) for c in set(bad_categories)}
    assert summary["per_class"]["00_dog"] == {"kept": summary["kept"] - 3, "dropped": n_bad}
    assert summary["per_class"]["08_fish"] == {"kept": 3, "dropped": 0}
    # nothing partial anywhere: no temp file, no empty file, and the variant files are exactly those
    # of the kept images (mixed ones where a donor exists)
    files = [p for p in out.rglob("*") if p.is_file()]
    assert not [p for p in files if TEMP_NAME.match(p.name) or p.stat().st_size == 0]
    variants = (*IMAGE_VARIANTS, "fg_mask")
    outputs = {p.relative_to(out).as_posix() for p in files if p.relative_to(out).parts[0] in variants}
    wanted = {file_of(out, v, r).relative_to(out).as_posix() for r in records.values()
              if r["status"] == "kept" for v in variants if v not in MIXED or r["donors"][v] is not None}
    assert outputs == wanted


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
    build_dataset(root, out, BuildConfig(split="val", segmenter="mask", single_box=True), quiet=True)
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
    result = build_dataset(source, out, BuildConfig(split="val", per_class=2, grabcut_tries=3,
                                                    run=BuildRun("process", 2)), quiet=True)
    summary = result.doc["summary"]
    records = read_manifest(out)
    # balanced: 2 kept per class, dropped photos replaced by the class's next candidates (each class
    # holds about 40 photos, a share of them with boxes); a class that runs out is reported
    assert summary["kept"] + summary["dropped"] == len(records) >= 18
    for name, row in summary["per_class"].items():
        assert row["kept"] == 2 - summary["shortfall"].get(name, 0), (name, row, summary["shortfall"])
    assert summary["kept"] >= 16, (summary["shortfall"], summary["drop_reasons"])
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
    build_dataset(root, out, BuildConfig(split="val", segmenter="box"), quiet=True)
    released = replace(BuildConfig.preset("released"), split="train", segmenter="box")
    result = build_dataset(root, out, released, quiet=True)
    assert result.doc["config"]["single_box"] is True and result.doc["config"]["max_box_fraction"] == 0.9
    build = json.loads((out / "build.json").read_text())
    assert list(build["splits"]) == ["train", "val"]
    assert build["splits"]["val"]["config"]["single_box"] is False
    splits = [r["split"] for r in read_manifest(out)]
    assert splits == sorted(splits) and set(splits) == {"train", "val"} and len(splits) == 18
    assert (out / "original" / "train").is_dir() and (out / "original" / "val").is_dir()
    with pytest.raises(BgbenchError, match="unknown preset"):
        build_dataset(root, tmp_path / "o3", BuildConfig.preset("paper"), quiet=True)


# ----------------------------------------------------------------------------- balanced builds (--per-class)
def _ranked_stems(root: Path, seed: int = 0) -> dict[str, list[str]]:
    """{class folder: stems in the balanced ranking, sha256(f"{seed}:{source_id}") ascending}, computed
    here from the reader's samples (not with the build's own ranking function)."""
    import hashlib

    ranked: dict[str, list[tuple[str, str]]] = {}
    for s in read_source(root, split="val").samples:
        rank = hashlib.sha256(f"{seed}:{s.source_id}".encode()).hexdigest()
        ranked.setdefault(IN9_FOLDERS[s.label], []).append((rank, s.stem))
    return {name: [stem for _, stem in sorted(items)] for name, items in ranked.items()}


# per class folder: the ranks (0 = best-ranked) whose XML is broken so that the *build* drops them
BROKEN_RANKS = {"00_dog": (0,), "01_bird": (0, 1), "02_vehicle": (0, 2), "05_insect": (0, 1, 2)}


@pytest.fixture(scope="module")
def topup_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[str]], dict[str, str]]:
    """5 per class at 64 px; the top-ranked candidates of four classes fail a build filter (box over the
    whole image, or an annotation size that differs from the image's). Returns (root, ranking,
    {stem the build drops: expected reason}): the broken ones, and the one synth image that the 90%
    box-coverage filter drops by itself (found by an unbalanced build of the untouched tree)."""
    base = tmp_path_factory.mktemp("topup")
    root = base / "src"
    synthesize(root, per_class=5, split="val", seed=6, size=64, quiet=True)
    ranking = _ranked_stems(root)
    build_dataset(root, base / "all", BuildConfig(split="val", segmenter="mask",
                                                  run=BuildRun("serial")), quiet=True)
    broken = {r["stem"]: r["reason"].split(": ")[0] for r in read_manifest(base / "all")
              if r["status"] != "kept"}
    assert broken == {"n03800933_000003": "box covers too much of the crop"}  # 06_instrument, rank 1
    assert ranking["06_instrument"].index("n03800933_000003") < 2  # so it needs a top-up at --per-class 2
    for folder, ranks in BROKEN_RANKS.items():
        wnid_folder = root / "val" / IN9_WNIDS[IN9_FOLDERS.index(folder)]
        for k, rank in enumerate(ranks):
            stem = ranking[folder][rank]
            w, h = size_of_in(wnid_folder, stem)
            if k % 2 == 0:
                _set_xml(wnid_folder / f"{stem}.xml", boxes=[(0, 0, w - 1, h - 1)])
                broken[stem] = "box covers too much of the crop"
            else:
                _set_xml(wnid_folder / f"{stem}.xml", size=(w + 3, h))
                broken[stem] = "annotation size differs from image size"
    return root, ranking, broken


def _check_balanced(out: Path, ranking: dict[str, list[str]], broken: dict[str, str], n: int) -> None:
    """Each class's manifest lines are exactly its first candidates, in rank order, until n were kept
    (or the class ran out); dropped ones carry their reason and have no files, untried ones no line."""
    records = read_manifest(out)
    by_class: dict[str, dict[str, dict]] = {}
    for rec in records:
        by_class.setdefault(rec["class"], {})[rec["stem"]] = rec
    for folder, stems in ranking.items():
        expected_tried, kept = [], 0
        for stem in stems:
            if kept == n:
                break
            expected_tried.append(stem)
            kept += stem not in broken
        assert sorted(by_class.get(folder, {})) == sorted(expected_tried), folder
        for stem in expected_tried:
            rec = by_class[folder][stem]
            if stem in broken:
                assert rec["status"] == "dropped" and rec["reason"].startswith(broken[stem]), rec
                assert not list(out.glob(f"*/val/{folder}/{stem}.*")), stem
            else:
                assert rec["status"] == "kept"
        on_disk = sorted(p.stem for p in (out / "original" / "val" / folder).glob("*.JPEG"))
        assert on_disk == sorted(s for s in expected_tried if s not in broken), folder


def test_balanced_build_tops_up_to_exactly_n_kept_per_class(topup_tree, tmp_path):
    root, ranking, broken = topup_tree
    out = tmp_path / "serial"
    result = build_dataset(root, out, BuildConfig(split="val", per_class=2, segmenter="mask",
                                                  run=BuildRun("serial")), quiet=True)
    summary = result.doc["summary"]
    assert {name: row["kept"] for name, row in summary["per_class"].items()} == dict.fromkeys(IN9_FOLDERS, 2)
    assert summary["shortfall"] == {} and summary["per_class_target"] == 2
    # 18 kept + every broken candidate among the first ones tried (insect: ranks 0-2 dropped, 3-4 kept;
    # vehicle: 0 dropped, 1 kept, 2 dropped in the second round, 3 kept in the third)
    assert summary["dropped"] == len(broken) and summary["kept"] == 18 and len(broken) == 9
    assert result.doc["written"]["phase1"] == 18 + len(broken)
    _check_balanced(out, ranking, broken, 2)
    assert json.loads((out / "build.json").read_text())["splits"]["val"]["summary"]["shortfall"] == {}

    # the top-up rounds give the same bytes with a process pool ...
    pooled = tmp_path / "pooled"
    build_dataset(root, pooled, BuildConfig(split="val", per_class=2, segmenter="mask",
                                            run=BuildRun("process", 2)), quiet=True)
    reference = tree_bytes(out)
    assert tree_bytes(pooled) == reference
    # ... and after a kill between the rounds: drop what the top-up rounds and phase 2 wrote (records,
    # files, manifest, build.json), as if the build had died right after its first round
    first_round = {stems[i] for folder, stems in ranking.items() for i in range(2)}
    resumed = tmp_path / "resumed"
    shutil.copytree(out, resumed)
    (resumed / "manifest.jsonl").unlink()
    (resumed / "build.json").unlink()
    for path in list(resumed.rglob("*")):
        if path.is_file() and path.parts[-4] in MIXED:
            path.unlink()
    later = [r for r in read_manifest(out) if r["stem"] not in first_round]
    assert later, "the tree should need top-up rounds"
    from bgbench.builder.writer import record_path

    for rec in later:
        record_path(resumed, "val", rec["source_id"]).unlink()
        for path in resumed.glob(f"*/val/{rec['class']}/{rec['stem']}.*"):
            path.unlink()
    again = build_dataset(root, resumed, BuildConfig(split="val", per_class=2, segmenter="mask",
                                                     run=BuildRun("serial")), quiet=True)
    assert again.doc["written"] == {"phase1": len(later), "mixed": 18}  # images whose mixed files were redone
    assert tree_bytes(resumed) == reference


def test_balanced_build_reports_an_exhausted_class(topup_tree, tmp_path, capsys):
    root, ranking, broken = topup_tree
    out = tmp_path / "out"
    code = main(["build", str(root), str(out), "--per-class", "3", "--segmenter", "mask", "--executor",
                 "serial", "-q"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads((out / "build.json").read_text())["splits"]["val"]["summary"]
    # insect has 5 images, 3 of them broken: every candidate tried, 2 kept, 1 missing
    assert summary["shortfall"] == {"05_insect": 1} and summary["per_class_target"] == 3
    kept = {name: row["kept"] for name, row in summary["per_class"].items()}
    assert kept == {**dict.fromkeys(IN9_FOLDERS, 3), "05_insect": 2}
    assert summary["per_class"]["05_insect"]["dropped"] == 3
    _check_balanced(out, ranking, broken, 3)
    assert "SHORTFALL" in captured.out and "05_insect kept 2 (1 missing)" in captured.out


# ----------------------------------------------------------------------------- executor options
@pytest.mark.parametrize(("options", "message"), [
    ({"executor": "foo"}, "unknown executor 'foo'"),
    ({"executor": "process", "workers": 0}, "BuildRun.workers must be a whole number of at least 1"),
    ({"executor": "ray", "workers": 1}, "needs Ray"),
])
def test_bad_executor_options_fail_before_anything_is_written(synth_small, tmp_path, monkeypatch, options,
                                                              message):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed: `import ray` fails
    out = tmp_path / "out"
    with pytest.raises(BgbenchError, match=re.escape(message)):
        build_dataset(synth_small, out, BuildConfig(split="val", segmenter="box", run=BuildRun(**options)),
                      quiet=True)
    assert not out.exists()


BAD_BUILD_CONFIGS = [
    ({"split": "test"}, "unknown split 'test' (choose from train, val)"),
    ({"segmenter": "sam"}, "unknown segmenter 'sam'"),
    ({"size": 300}, "need size <= resize, got size 300, resize 256"),
    ({"max_box_fraction": 0.0}, "BuildConfig.max_box_fraction must be a number in (0, 1], got 0.0"),
    ({"min_box_inside": 1.5}, "BuildConfig.min_box_inside must be a number in [0, 1], got 1.5"),
    ({"size": 4}, "BuildConfig.size must be a whole number of at least 8, got 4"),
    ({"grabcut_tries": 0}, "BuildConfig.grabcut_tries must be a whole number of at least 1, got 0"),
    ({"per_class": 0}, "BuildConfig.per_class must be a whole number of at least 1 (or None), got 0"),
    ({"jpeg_quality": 101}, "BuildConfig.jpeg_quality must be a whole number in 1..100, got 101"),
    ({"run": "serial"}, "BuildConfig.run must be a BuildRun, got str"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_BUILD_CONFIGS)
def test_build_config_refuses_bad_settings_in_one_line(fields, message):
    with pytest.raises(BgbenchError) as info:
        BuildConfig(**fields)
    assert message in str(info.value) and len(str(info.value).splitlines()) == 1


def test_build_config_key_holds_the_output_defining_fields_only(synth_small, tmp_path):
    """``run`` (executor, workers) is not part of the key build.json records; presets fill their
    settings; build_dataset refuses anything but a BuildConfig before writing."""
    serial = BuildConfig(segmenter="box", run=BuildRun("serial"))
    pooled = replace(serial, run=BuildRun("process", 2))
    assert serial.to_json("/src") == pooled.to_json("/src") and "run" not in serial.to_json()
    assert list(serial.to_json("/src"))[:2] == ["source", "source_format"]
    assert "all_images" not in serial.to_json() and BuildConfig.preset("in9l").to_json()["all_images"] is True
    released = BuildConfig.preset("released")
    assert (released.single_box, released.segmenter, released.max_box_fraction) == (True, "grabcut", 0.9)
    assert BuildConfig(masks=Path("m")).resolved().masks == str(Path("m").resolve())
    with pytest.raises(BgbenchError, match="config must be a BuildConfig"):
        build_dataset(synth_small, tmp_path / "o", {"split": "val"}, quiet=True)  # type: ignore[arg-type]
    assert not (tmp_path / "o").exists()


def test_cli_bad_executor_is_one_line_and_writes_nothing(synth_small, tmp_path, capsys):
    for args in (["--executor", "foo"], ["--workers", "0"]):
        out = tmp_path / "out"
        code = main(["build", str(synth_small), str(out), "--segmenter", "box", "-q", *args])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
        assert not out.exists(), args


def test_crash_between_variant_writes_leaves_no_partial_outputs(synth_small, tmp_path, monkeypatch):
    """An unexpected error after some of an image's variants were written drops the image with an
    'internal error' reason and removes what was written; a rerun retries it and completes."""
    import bgbench.builder.pipeline as pipeline

    real_write = pipeline.write_variant
    calls = {"n": 0}
    victims = {p.stem for p in sorted(synth_small.rglob("*.JPEG"))[::5]}  # every fifth image

    def flaky(out, name, split, class_folder, stem, array, quality):
        real_write(out, name, split, class_folder, stem, array, quality)
        if stem in victims and name != "original":  # after two files of these images
            calls["n"] += 1
            raise RuntimeError("disk hiccup")

    monkeypatch.setattr(pipeline, "write_variant", flaky)
    out = tmp_path / "out"
    build_dataset(synth_small, out, BuildConfig(split="val", segmenter="box",
                                                run=BuildRun("serial")), quiet=True)
    records = {r["stem"]: r for r in read_manifest(out)}
    crashed = [s for s, r in records.items() if str(r.get("reason") or "").startswith("internal error")]
    assert crashed and calls["n"] == len(crashed)
    for stem in crashed:
        assert not list(out.rglob(f"{stem}.*")), stem  # no JPEG or mask of a dropped image
    monkeypatch.setattr(pipeline, "write_variant", real_write)
    build_dataset(synth_small, out, BuildConfig(split="val", segmenter="box",
                                                run=BuildRun("serial")), quiet=True)
    again = {r["stem"]: r for r in read_manifest(out)}
    assert all(again[s]["status"] == "kept" for s in crashed)
