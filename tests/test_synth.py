"""The synthetic scene generator: layout, determinism, exact masks and boxes, the planted shortcut."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bgbench.classes import IN9_WNIDS
from bgbench.cli import main
from bgbench.errors import BgbenchError
from bgbench.synth import choose_habitat, render_scene, scene_rng, synthesize
from bgbench.synth.scene import ASPECT_RATIOS, tight_box

PER_CLASS = 3
SIZE = 64


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root``, keyed by relative path."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


Box = tuple[int, int, int, int]


def read_xml(path: Path) -> tuple[str, str, tuple[int, ...], list[tuple[str, Box]]]:
    root = ET.parse(path).getroot()
    assert root.tag == "annotation"
    size = root.find("size")
    dims = tuple(int(size.findtext(k)) for k in ("width", "height", "depth"))
    objects = []
    for obj in root.findall("object"):
        box = obj.find("bndbox")
        corners = tuple(int(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
        objects.append((obj.findtext("name"), corners))
        assert obj.findtext("pose") and obj.findtext("truncated") in ("0", "1")
        assert obj.findtext("difficult") == "0"
    return root.findtext("folder"), root.findtext("filename"), dims, objects


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synth") / "tree"
    summary = synthesize(out, per_class=PER_CLASS, split="val", seed=1, size=SIZE, quiet=True)
    return out, summary


def test_tree_layout_is_exactly_the_agreed_interface(tree: tuple[Path, dict]) -> None:
    out, summary = tree
    expected = {"synth-val.jsonl", "synth-val.json"}
    for wnid in IN9_WNIDS:
        for i in range(PER_CLASS):
            stem = f"{wnid}_{i:06d}"
            expected |= {f"val/{wnid}/{stem}.JPEG", f"val/{wnid}/{stem}.xml", f"masks/val/{wnid}/{stem}.png"}
    assert set(tree_hashes(out)) == expected  # nothing else: no temporary or partial files
    records = [json.loads(line) for line in (out / "synth-val.jsonl").read_text().splitlines()]
    assert [r["stem"] for r in records] == [f"{w}_{i:06d}" for w in IN9_WNIDS for i in range(PER_CLASS)]
    for r in records:
        assert r["wnid"] == IN9_WNIDS[r["label"]] and 0 <= r["habitat"] < 9
        assert (out / r["image"]).exists() and (out / r["mask"]).exists() and (out / r["annotation"]).exists()
    assert summary.doc["images"] == 9 * PER_CLASS == summary.doc["rendered"]


def test_files_are_readable_and_masks_give_the_exact_boxes(tree: tuple[Path, dict]) -> None:
    out, _ = tree
    records = {r["stem"]: r for r in map(json.loads, (out / "synth-val.jsonl").read_text().splitlines())}
    for xml_path in sorted(out.glob("val/*/*.xml")):
        wnid, stem = xml_path.parent.name, xml_path.stem
        folder, filename, (width, height, depth), objects = read_xml(xml_path)
        assert (folder, filename, depth) == (wnid, stem, 3)
        with Image.open(xml_path.with_suffix(".JPEG")) as image:
            assert image.format == "JPEG" and image.mode == "RGB" and image.size == (width, height)
            image.load()
        with Image.open(out / "masks" / "val" / wnid / f"{stem}.png") as mask_image:
            assert mask_image.mode == "L" and mask_image.size == (width, height)
            mask = np.asarray(mask_image)
        assert min(width, height) == SIZE
        assert 1 <= len(objects) <= 2
        assert set(np.unique(mask)) == set(range(len(objects) + 1))  # 0 = background, 1..k objects
        for k, (name, box) in enumerate(objects, start=1):
            assert name == wnid
            assert box == tight_box(mask == k)
        assert [tuple(o["box"]) for o in records[stem]["objects"]] == [box for _, box in objects]
        assert records[stem]["size"] == [width, height]


def test_same_arguments_give_byte_identical_trees(tree: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = tree
    again = tmp_path / "again"
    synthesize(again, per_class=PER_CLASS, split="val", seed=1, size=SIZE, quiet=True)
    assert tree_hashes(again) == tree_hashes(out)


def test_seed_and_split_change_the_images(tmp_path: Path) -> None:
    def render(name: str, split: str, seed: int) -> dict[str, str]:
        synthesize(tmp_path / name, per_class=1, split=split, seed=seed, size=SIZE, quiet=True)
        return tree_hashes(tmp_path / name)

    a, b, c = render("a", "val", 1), render("b", "val", 2), render("c", "train", 1)
    images_a = {k: v for k, v in a.items() if k.endswith(".JPEG")}
    images_b = {k: v for k, v in b.items() if k.endswith(".JPEG")}
    assert images_a.keys() == images_b.keys() and len(images_a) == 9
    assert all(images_a[k] != images_b[k] for k in images_a)
    images_c = {k.replace("train/", "val/", 1): v for k, v in c.items() if k.endswith(".JPEG")}
    assert all(images_a[k] != images_c[k] for k in images_a)


@pytest.mark.parametrize("p", [0.0, 1 / 9, 0.5, 0.9, 1.0])
def test_habitat_choice_matches_with_exactly_the_requested_probability(p: float) -> None:
    rng = np.random.default_rng(123)
    n = 18000
    labels = np.arange(n) % 9
    habitats = np.array([choose_habitat(int(y), rng, p) for y in labels])
    rate = float(np.mean(habitats == labels))
    assert abs(rate - p) <= 4 * np.sqrt(p * (1 - p) / n) + 1e-12
    mismatched = (habitats - labels)[habitats != labels] % 9  # which of the other eight, as offset 1..8
    if p < 1.0:
        counts = np.bincount(mismatched, minlength=9)[1:]
        expected = mismatched.size / 8
        assert np.all(np.abs(counts - expected) <= 5 * np.sqrt(expected))
    if p == 1 / 9:  # "independent": every habitat equally likely whatever the class
        assert np.all(np.abs(np.bincount(habitats, minlength=9) - n / 9) <= 5 * np.sqrt(n / 9))


def test_generated_tree_has_the_requested_habitat_correlation(tmp_path: Path) -> None:
    per_class, p = 40, 0.6
    summary = synthesize(tmp_path / "t", per_class=per_class, split="train", seed=7, bg_correlation=p,
                         size=32, quiet=True)
    records = [json.loads(line) for line in (tmp_path / "t" / "synth-train.jsonl").read_text().splitlines()]
    n = len(records)
    assert n == 9 * per_class
    rate = sum(r["habitat"] == r["label"] for r in records) / n
    assert rate == summary.doc["habitat_match_rate"]
    assert abs(rate - p) <= 4 * np.sqrt(p * (1 - p) / n)
    two = sum(len(r["objects"]) == 2 for r in records) / n
    assert 0.1 <= two <= 0.3  # some images hold two objects of the same class
    ratios = {tuple(r["size"]) for r in records}
    assert len(ratios) == len(ASPECT_RATIOS) and all(min(s) == 32 for s in ratios)


def test_objects_survive_the_build_crop_filters() -> None:
    """Single objects are big and central enough for Resize(256) + CenterCrop(224): box <= 90% of the
    crop and >= 50% of the box inside it, for most images; and never tiny."""
    passed, fractions = [], []
    for label in range(9):
        for index in range(4):
            scene = render_scene(label, scene_rng(0, "val", label, index), size=128)  # half-res backgrounds
            w, h = scene.width, scene.height
            for x0, y0, x1, y1 in scene.boxes:
                fractions.append((x1 - x0 + 1) * (y1 - y0 + 1) / (w * h))
            if len(scene.boxes) != 1:
                continue
            s = 256 / min(w, h)
            cx, cy = (round(w * s) - 224) / 2, (round(h * s) - 224) / 2
            x0, y0, x1, y1 = scene.boxes[0]
            bx0, by0, bx1, by1 = x0 * s, y0 * s, (x1 + 1) * s, (y1 + 1) * s
            inter = max(0, min(bx1, cx + 224) - max(bx0, cx)) * max(0, min(by1, cy + 224) - max(by0, cy))
            passed.append(inter / (224 * 224) <= 0.9 and inter / ((bx1 - bx0) * (by1 - by0)) >= 0.5)
    assert np.mean(passed) >= 0.85
    assert min(fractions) >= 0.02 and max(fractions) <= 0.9
    assert 0.1 <= float(np.median(fractions)) <= 0.5


def test_resume_renders_only_missing_images(tree: tuple[Path, dict], tmp_path: Path) -> None:
    out = tmp_path / "resume"
    synthesize(out, per_class=PER_CLASS, split="val", seed=1, size=SIZE, quiet=True)
    (out / "val" / IN9_WNIDS[4] / f"{IN9_WNIDS[4]}_000001.JPEG").unlink()
    summary = synthesize(out, per_class=PER_CLASS, split="val", seed=1, size=SIZE, quiet=True)
    assert (summary.doc["rendered"], summary.doc["reused"]) == (1, 9 * PER_CLASS - 1)
    assert tree_hashes(out) == tree_hashes(tree[0])


def test_bad_options_raise_before_writing(tmp_path: Path) -> None:
    for options in ({"per_class": 0}, {"bg_correlation": 1.5}, {"split": "test"}, {"size": 4}, {"seed": -1}):
        with pytest.raises(BgbenchError):
            synthesize(tmp_path / "never", quiet=True, **options)
        assert not (tmp_path / "never").exists()


def test_cli_end_to_end_and_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    assert main(["synth", str(out), "--per-class", "1", "--split", "train", "--size", "48", "--seed", "3",
                 "--bg-correlation", "0.5", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "9 images" in printed and "images/s" in printed
    assert len(list(out.glob("train/*/*.JPEG"))) == 9 and (out / "synth-train.jsonl").exists()

    assert main(["synth", str(tmp_path / "bad"), "--bg-correlation", "1.5", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "bg_correlation" in err and "\n" not in err
    assert not (tmp_path / "bad").exists()

    existing = tmp_path / "a-file"
    existing.write_text("keep me")
    assert main(["synth", str(existing), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and str(existing) in err and "\n" not in err
    assert existing.read_text() == "keep me"


def test_interrupted_run_leaves_complete_files_and_resumes(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash after 80 of 90 images: no temporary files, only readable outputs, and the re-run renders
    just what the last checkpoint does not cover, ending byte-identical to an uninterrupted run."""
    import bgbench.synth.generate as generate

    options = {"per_class": 10, "split": "train", "seed": 5, "size": 32, "quiet": True}
    synthesize(tmp_path / "fresh", **options)

    real_render = generate.render_scene
    calls = {"n": 0}

    def crash_after_80(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] > 80:
            raise RuntimeError("simulated crash")
        return real_render(*args, **kwargs)

    out = tmp_path / "crashed"
    monkeypatch.setattr(generate, "render_scene", crash_after_80)
    with pytest.raises(RuntimeError, match="simulated crash"):
        synthesize(out, **options)
    monkeypatch.setattr(generate, "render_scene", real_render)

    files = [p for p in out.rglob("*") if p.is_file()]
    assert not [p for p in files if ".tmp-" in p.name]
    assert not (out / "synth-train.jsonl").exists()
    assert (out / ".synth-train.partial" / "chunk-000000.jsonl").exists()
    for jpeg in out.glob("train/*/*.JPEG"):
        with Image.open(jpeg) as image:
            image.load()

    summary = synthesize(out, **options)
    checkpointed = generate.CHECKPOINT_EVERY
    assert (summary.doc["reused"], summary.doc["rendered"]) == (checkpointed, 90 - checkpointed)
    assert tree_hashes(out) == tree_hashes(tmp_path / "fresh")


def test_worker_processes_give_the_same_bytes(tree: tuple[Path, dict], tmp_path: Path) -> None:
    summary = synthesize(tmp_path / "pool", per_class=PER_CLASS, split="val", seed=1, size=SIZE, workers=2,
                         quiet=True)
    assert summary.doc["rendered"] == 9 * PER_CLASS
    assert tree_hashes(tmp_path / "pool") == tree_hashes(tree[0])


def test_stale_images_from_a_bigger_earlier_run_are_reported(tmp_path: Path) -> None:
    synthesize(tmp_path / "t", per_class=2, split="val", size=32, quiet=True)
    summary = synthesize(tmp_path / "t", per_class=1, split="val", size=32, quiet=True)
    assert (summary.doc["rendered"], summary.doc["reused"], summary.doc["stale_images"]) == (0, 9, 9)
    assert len((tmp_path / "t" / "synth-val.jsonl").read_text().splitlines()) == 9


def test_every_scene_has_a_visible_object_even_at_the_smallest_size() -> None:
    for label in range(9):
        for index in range(15):
            scene = render_scene(label, scene_rng(3, "train", label, index), size=16)
            assert 1 <= len(scene.boxes) <= 2 and min(scene.areas) >= 4
            assert scene.mask.max() == len(scene.boxes) and min(scene.height, scene.width) == 16
