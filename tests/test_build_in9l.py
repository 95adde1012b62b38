"""``bgbench build --preset in9l``: every image of the classes in original/train, boxed or not; the box
variants and the mixed images only for the boxed subset; the provenance says so."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bgbench.builder import BuildConfig, build_dataset, read_manifest
from bgbench.cli import main
from bgbench.jpeg import decode_jpeg
from bgbench.sources import load_image
from bgbench.synth import synthesize
from bgbench.variants import resize_crop

BOX_VARIANTS = ("only_bg_b", "only_bg_t", "no_fg", "only_fg", "mixed_same", "mixed_rand", "mixed_next")


@pytest.fixture(scope="module")
def in9l_source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str], str]:
    """A synth train split (3 per class, 64 px) with the XMLs of 7 images removed and one image
    truncated to garbage. Returns (root, stems without an XML, the unreadable image's stem)."""
    root = tmp_path_factory.mktemp("in9l") / "src"
    synthesize(root, per_class=3, split="train", seed=3, size=64, quiet=True)
    xmls = sorted((root / "train").glob("*/*.xml"))
    removed = {p.stem for p in xmls[::4]}
    for path in xmls[::4]:
        path.unlink()
    broken = sorted((root / "train").glob("*/*.JPEG"))[1]
    broken.write_bytes(b"not a jpeg")
    assert broken.stem not in removed and len(removed) == 7
    return root, removed, broken.stem


def test_in9l_keeps_every_readable_image_in_original(in9l_source, tmp_path, capsys):
    root, unboxed, unreadable = in9l_source
    out = tmp_path / "in9l"
    code = main(["build", str(root), str(out), "--preset", "in9l", "--segmenter", "mask", "--executor",
                 "serial", "-q"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "total (train)" in printed and "IN-9L: 19 kept with box variants, 7 in original only" in printed
    sources = {p.stem: p for p in (root / "train").glob("*/*.JPEG")}
    originals = {p.stem: p for p in (out / "original" / "train").glob("*/*.JPEG")}
    assert set(originals) == set(sources) - {unreadable}  # every readable image, XML or not
    for stem, path in originals.items():  # the released Resize(256) + CenterCrop(224) of the source
        expected = resize_crop(load_image(sources[stem]), 256, 224).astype(np.int16)
        assert np.abs(decode_jpeg(path).astype(np.int16) - expected).mean() < 3.0
    for variant in (*BOX_VARIANTS, "fg_mask"):
        stems = {p.stem for p in (out / variant / "train").glob("*/*.*")}
        assert stems == set(originals) - unboxed, variant

    records = {r["stem"]: r for r in read_manifest(out)}
    assert records[unreadable]["status"] == "dropped"
    assert records[unreadable]["reason"].startswith("unreadable image")
    for stem in unboxed:
        rec = records[stem]
        assert rec["status"] == "kept" and rec["boxed"] is False and "donors" not in rec
        assert rec["box_reason"].startswith("no bounding-box annotation")
    boxed = [r for r in records.values() if r.get("boxed")]
    assert len(boxed) == 19
    assert all(d["stem"] not in unboxed for r in boxed for d in r["donors"].values() if d)

    build = json.loads((out / "build.json").read_text())["splits"]["train"]
    assert build["config"]["all_images"] is True and build["config"]["split"] == "train"
    assert build["config"]["max_box_fraction"] == 1.0 and build["config"]["min_box_inside"] == 0.0
    summary = build["summary"]
    assert summary["training_set"].startswith("IN-9L") and summary["kept"] == 26
    assert (summary["boxed"], summary["original_only"]) == (19, 7)
    assert summary["original_only_reasons"] == {"no bounding-box annotation": 7}

    in9l = replace(BuildConfig.preset("in9l"), segmenter="mask")
    again = build_dataset(root, out, in9l, quiet=True)  # resumes: nothing to redo
    assert again.doc["written"] == {"phase1": 0, "mixed": 0}


def test_in9l_balanced_counts_unboxed_images_and_plain_builds_are_unchanged(in9l_source, tmp_path):
    root, unboxed, unreadable = in9l_source
    balanced = replace(BuildConfig.preset("in9l"), segmenter="mask", per_class=3)
    result = build_dataset(root, tmp_path / "bal", balanced, quiet=True)
    per_class = result.doc["summary"]["per_class"]
    assert sum(row["kept"] for row in per_class.values()) == 26  # one class lost its unreadable image
    short = next(n for n, row in per_class.items() if row["kept"] == 2)
    assert result.doc["summary"]["shortfall"] == {short: 1}
    plain = build_dataset(root, tmp_path / "plain", BuildConfig(split="train", segmenter="mask"), quiet=True)
    assert "all_images" not in plain.doc["config"] and "training_set" not in plain.doc["summary"]
    kept = {r["stem"] for r in read_manifest(tmp_path / "plain") if r["status"] == "kept"}
    assert not kept & unboxed and "boxed" not in read_manifest(tmp_path / "plain")[0]
