"""Hostile and careless datasets (issue 19, part A): every case asserts the exact behaviour.

Datasets, annotation files, archives and IN-9 trees made by someone else must never make bgbench
read or write outside the folders they belong to, print a traceback, or leave something partial
that looks complete. A bad entry inside a dataset is dropped with its reason (in the manifest, or,
for a VOC id whose class cannot be known, in ``build.json``'s ``source.refused``); a bad file as a
whole is one line ``<file>: <problem>`` (exit 2 from the CLI). Everything is generated here on tiny
images; the CLI runs (``python -m bgbench``) are a representative subset, the rest calls the library.
"""

from __future__ import annotations

import http.server
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from badcorpus import annotation_xml, make_coco_tree, make_folder_tree, make_voc_tree, rgb_image, write_jpeg
from bgbench.builder import BuildConfig, build_dataset, read_manifest
from bgbench.builder.pipeline import class_folder_names
from bgbench.builder.writer import variant_path
from bgbench.config import CacheChoice
from bgbench.data.images import OUTSIDE_TREE, load_variant
from bgbench.download import safe_unpack
from bgbench.errors import BgbenchError
from bgbench.eval import EvalConfig, evaluate
from bgbench.models.base import Preprocessing, TorchClassifier
from bgbench.sources import load_sample, read_source, reasons

SRC = str(Path(__file__).resolve().parents[1] / "src")


# ----------------------------------------------------------------------------- helpers
def files_under(root: Path) -> set[str]:
    """Every file and link under ``root`` (relative POSIX paths), links not followed."""
    found = set()
    for folder, dirs, files in os.walk(root):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            found.add(Path(folder, name).relative_to(root).as_posix())
    return found


def new_outside(before: set[str], base: Path, out: Path) -> list[str]:
    """Files that appeared under ``base`` since ``before`` but not inside ``out``."""
    rel_out = out.relative_to(base).as_posix() + "/"
    return sorted(p for p in files_under(base) - before if not p.startswith(rel_out))


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": SRC, "BGBENCH_NO_PROGRESS": "1"}
    return subprocess.run([sys.executable, "-m", "bgbench", *args], capture_output=True, text=True,
                          timeout=300, env=env, cwd=cwd)


def assert_one_line_error(done: subprocess.CompletedProcess, *needles: str) -> None:
    """Exit 2, one ``error: <file>: <problem>`` line on stderr, no traceback."""
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def voc(tmp_path: Path, per_class: int = 1) -> Path:
    root = tmp_path / "voc"
    make_voc_tree(root, per_class=per_class, size=64)
    return root


def add_voc_ids(root: Path, *ids: str) -> None:
    split = root / "ImageSets" / "Main" / "val.txt"
    split.write_text(split.read_text() + "".join(f"{i}\n" for i in ids))


def first_voc_id(root: Path) -> str:
    return (root / "ImageSets" / "Main" / "val.txt").read_text().split()[0]


def voc_sid(image_id: str) -> str:
    """The source_id of a VOC sample (its image's path in the dataset)."""
    return f"JPEGImages/{image_id}.jpg"


def secret_photo(tmp_path: Path) -> Path:
    """An image outside every dataset (what an escaping name would read)."""
    return write_jpeg(tmp_path / "private" / "photo.jpg", rgb_image(64, 64, seed=99))


def problem_of(result, source_id: str) -> str | None:
    return next(s.problem for s in result.samples if s.source_id == source_id)


# ----------------------------------------------------------------------------- VOC entries
VOC_BAD_IDS = {
    "dotdot": ("../../somewhere/photo", reasons.UNSAFE_NAME, "'..' in"),
    "absolute": ("/etc/passwd", reasons.UNSAFE_NAME, "absolute path"),
    "separator": ("sub/2009_000001", reasons.UNSAFE_NAME, "folder separator"),
    "nul": ("a\x00b", reasons.UNSAFE_NAME, "control character"),
    "backslash-dotdot": ("..\\..\\x", reasons.UNSAFE_NAME, "'..' in"),
    "drive": ("C:evil", reasons.UNSAFE_NAME, "absolute path"),
    "very-long": ("x" * 300, reasons.UNSAFE_NAME, "longer than 255 bytes"),
}


@pytest.mark.parametrize("case", sorted(VOC_BAD_IDS))
def test_voc_unsafe_split_list_id_is_refused_before_any_file_is_opened(tmp_path, case):
    image_id, category, detail = VOC_BAD_IDS[case]
    root = voc(tmp_path)
    add_voc_ids(root, image_id)
    result = read_source(root, "voc")
    assert [entry for entry, _ in result.refused] == [image_id]
    why = result.refused[0][1]
    assert reasons.reason_category(why) == category and detail in why and "\n" not in why
    assert len(result.samples) == 3 and not any(s.problem for s in result.samples)
    assert result.summary()["refused"] == [[image_id, why]]


def test_voc_dotdot_id_build_writes_nothing_outside_out(tmp_path):
    """The issue's case: ``../../somewhere/photo`` in val.txt, with the files it names present."""
    root = voc(tmp_path)
    write_jpeg(tmp_path / "somewhere" / "photo.jpg", rgb_image(64, 64, seed=5))
    (tmp_path / "somewhere" / "photo.xml").write_text(
        annotation_xml("x", "photo.jpg", (64, 64), [("dog", (5, 5, 40, 40))]))
    add_voc_ids(root, "../../somewhere/photo")
    out = tmp_path / "work" / "out"
    before = files_under(tmp_path)
    result = build_dataset(root, out, BuildConfig(source_format="voc", segmenter="box",
                                                  split="val"), quiet=True)
    assert new_outside(before, tmp_path, out) == []
    assert result.doc["summary"]["source"]["refused"][0][0] == "../../somewhere/photo"
    listed = (root / "ImageSets" / "Main" / "val.txt").read_text().split()
    assert {r["source_id"] for r in read_manifest(out)} == {voc_sid(s) for s in listed if "/" not in s}
    assert any("refused 1 unsafe dataset entry" in line for line in result.summary_lines())


def test_voc_annotation_symlinked_from_outside_is_refused(tmp_path):
    root = voc(tmp_path)
    image_id = first_voc_id(root)
    xml = root / "Annotations" / f"{image_id}.xml"
    outside = tmp_path / "elsewhere.xml"
    outside.write_bytes(xml.read_bytes())
    xml.unlink()
    xml.symlink_to(outside)
    result = read_source(root, "voc")
    assert [entry for entry, _ in result.refused] == [image_id]
    assert reasons.reason_category(result.refused[0][1]) == reasons.OUTSIDE_SOURCE


def test_voc_image_symlinked_to_a_private_photo_is_dropped(tmp_path):
    root = voc(tmp_path)
    image_id = first_voc_id(root)
    jpg = root / "JPEGImages" / f"{image_id}.jpg"
    jpg.unlink()
    jpg.symlink_to(secret_photo(tmp_path))
    result = read_source(root, "voc")
    why = problem_of(result, voc_sid(image_id))
    assert reasons.reason_category(why) == reasons.OUTSIDE_SOURCE and f"'{image_id}.jpg'" in why
    assert load_sample(next(s for s in result.samples if s.source_id == voc_sid(image_id))).image is None


def test_voc_image_symlinked_to_dev_zero_is_dropped_not_read(tmp_path):
    root = voc(tmp_path)
    image_id = first_voc_id(root)
    jpg = root / "JPEGImages" / f"{image_id}.jpg"
    jpg.unlink()
    jpg.symlink_to("/dev/zero")
    out = tmp_path / "out"
    build_dataset(root, out, BuildConfig(source_format="voc", segmenter="box", split="val"), quiet=True)
    rec = next(r for r in read_manifest(out) if r["source_id"] == voc_sid(image_id))
    assert rec["status"] == "dropped" and reasons.reason_category(rec["reason"]) == reasons.OUTSIDE_SOURCE


def test_voc_segmentation_png_symlinked_outside_is_dropped(tmp_path):
    root = voc(tmp_path)
    image_id = first_voc_id(root)
    png = root / "SegmentationObject" / f"{image_id}.png"
    outside = tmp_path / "mask.png"
    outside.write_bytes(png.read_bytes())
    png.unlink()
    png.symlink_to(outside)
    why = problem_of(read_source(root, "voc"), voc_sid(image_id))
    assert reasons.reason_category(why) == reasons.OUTSIDE_SOURCE and f"'{image_id}.png'" in why


def test_voc_xml_filename_with_dotdot_is_never_used_as_a_path(tmp_path):
    """The XML's <filename> is not a path bgbench follows: the image is JPEGImages/<id>.jpg."""
    root = voc(tmp_path)
    image_id = first_voc_id(root)
    xml = root / "Annotations" / f"{image_id}.xml"
    text = xml.read_text()
    start, end = text.index("<filename>") + len("<filename>"), text.index("</filename>")
    xml.write_text(text[:start] + "../../../private/photo.jpg" + text[end:])
    secret_photo(tmp_path)
    sample = next(s for s in read_source(root, "voc").samples if s.source_id == voc_sid(image_id))
    assert sample.problem is None and sample.image_path == root / "JPEGImages" / f"{image_id}.jpg"


def test_voc_object_names_become_safe_class_folders(tmp_path):
    root = voc(tmp_path)
    image_id = first_voc_id(root)
    xml = root / "Annotations" / f"{image_id}.xml"
    name = xml.read_text().split("<name>")[1].split("</name>")[0]
    xml.write_text(xml.read_text().replace(f"<name>{name}</name>", "<name>../../evil\nclass</name>"))
    out = tmp_path / "work" / "out"
    before = files_under(tmp_path)
    build_dataset(root, out, BuildConfig(source_format="voc", segmenter="box", split="val"), quiet=True)
    assert new_outside(before, tmp_path, out) == []
    folders = {p.name for p in (out / "original" / "val").iterdir()}
    assert all("/" not in f and "\n" not in f and f not in ("..", ".") for f in folders)
    assert class_folder_names(["00_../../x", "a/b", "01_ok"]) == ["00_00_.._.._x", "01_a_b", "01_ok"]


def test_voc_non_utf8_split_list_is_one_line(tmp_path):
    root = voc(tmp_path)
    (root / "ImageSets" / "Main" / "val.txt").write_bytes(b"2009_000001\n\xff\xfe\n")
    with pytest.raises(BgbenchError, match=r"val\.txt: VOC split list is not UTF-8 text \(bad byte"):
        read_source(root, "voc")


def test_voc_non_utf8_annotation_is_skipped_as_malformed(tmp_path):
    root = voc(tmp_path)
    image_id = first_voc_id(root)
    (root / "Annotations" / f"{image_id}.xml").write_bytes(
        b"<annotation><filename>\xff\xfe</filename></annotation>")
    result = read_source(root, "voc")
    assert voc_sid(image_id) not in {s.source_id for s in result.samples}
    assert result.skipped == {"images with a malformed annotation XML (class unknown)": 1}


# ----------------------------------------------------------------------------- class maps
CLASS_MAP_BYTES = {
    "non-utf8": (b'{"dog": "\xff"}', "class map JSON is not UTF-8 text"),
    "deep": (b"[" * 100_000 + b"]" * 100_000, "class map JSON is nested too deeply"),
    "nan": (b'{"dog": NaN}', "class map JSON is not valid JSON"),
    "not-object": (b'["dog"]', "class map must be a non-empty JSON object"),
}


@pytest.mark.parametrize("case", sorted(CLASS_MAP_BYTES))
def test_bad_class_map_file_is_one_line_naming_it(tmp_path, case):
    data, message = CLASS_MAP_BYTES[case]
    path = tmp_path / "map.json"
    path.write_bytes(data)
    with pytest.raises(BgbenchError) as info:
        read_source(voc(tmp_path), "voc", class_map=path)
    assert str(info.value).startswith(f"{path}: {message}") and "\n" not in str(info.value)


# ----------------------------------------------------------------------------- COCO entries
def coco(tmp_path: Path) -> tuple[Path, Path, dict]:
    root = tmp_path / "coco"
    make_coco_tree(root, per_class=1, size=64)
    path = root / "annotations" / "instances_val2017.json"
    return root, path, json.loads(path.read_text())


COCO_BAD_NAMES = {
    "dotdot": ("../../private/photo.jpg", reasons.UNSAFE_NAME, "'..' in"),
    "absolute": ("ABSOLUTE", reasons.UNSAFE_NAME, "absolute path"),
    "windows-drive": ("C:\\x\\photo.jpg", reasons.UNSAFE_NAME, "absolute path"),
    "nul": ("photo\x00.jpg", reasons.UNSAFE_NAME, "control character"),
    "newline": ("pho\nto.jpg", reasons.UNSAFE_NAME, "control character"),
    "empty": ("", reasons.UNSAFE_NAME, "empty name"),
    "symlink-out": ("link.jpg", reasons.OUTSIDE_SOURCE, "'link.jpg' leads outside"),
    "dir-symlink-out": ("sub/photo.jpg", reasons.OUTSIDE_SOURCE, "'photo.jpg' leads outside"),
    "very-deep": ("a/" * 2500 + "x.jpg", reasons.UNSAFE_NAME, "path longer than 1024 bytes"),
}


@pytest.mark.parametrize("case", sorted(COCO_BAD_NAMES))
def test_coco_file_name_outside_the_image_folder_is_dropped(tmp_path, case):
    name, category, detail = COCO_BAD_NAMES[case]
    root, path, data = coco(tmp_path)
    photo = secret_photo(tmp_path)
    if name == "ABSOLUTE":
        name = str(photo)
    (root / "val2017" / "link.jpg").symlink_to(photo)
    (root / "val2017" / "sub").symlink_to(photo.parent)
    data["images"][1]["file_name"] = name
    path.write_text(json.dumps(data))
    result = read_source(root, "coco")
    why = problem_of(result, name)
    assert reasons.reason_category(why) == category and detail in why and "\n" not in why
    sample = next(s for s in result.samples if s.source_id == name)
    assert load_sample(sample).image is None  # never read
    assert sum(s.problem is None for s in result.samples) == 2


def test_coco_file_name_in_a_real_subfolder_is_read(tmp_path):
    root, path, data = coco(tmp_path)
    old = data["images"][0]["file_name"]
    (root / "val2017" / "2017").mkdir()
    (root / "val2017" / old).rename(root / "val2017" / "2017" / old)
    data["images"][0]["file_name"] = f"2017/{old}"
    path.write_text(json.dumps(data))
    result = read_source(root, "coco")
    assert all(s.problem is None for s in result.samples)
    assert load_sample(next(s for s in result.samples if s.source_id == f"2017/{old}")).problem is None


COCO_BAD_JSON = {
    "non-utf8": (lambda text: text.encode()[:-1] + b"\xff}", "COCO JSON is not UTF-8 text"),
    "nan": (lambda text: text.replace('"bbox": [', '"bbox": [NaN, ', 1).encode(),
            "COCO JSON is not valid JSON"),
    "deep": (lambda text: b"[" * 100_000 + b"]" * 100_000, "COCO JSON is nested too deeply"),
    "huge-int": (lambda text: text.replace('"width": 64', '"width": ' + "9" * 5000, 1).encode(),
                 "COCO JSON is not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(COCO_BAD_JSON))
def test_bad_coco_json_is_one_line_naming_it(tmp_path, case):
    make, message = COCO_BAD_JSON[case]
    root, path, _ = coco(tmp_path)
    path.write_bytes(make(path.read_text()))
    with pytest.raises(BgbenchError) as info:
        read_source(root, "coco")
    assert str(info.value).startswith(f"{path}: {message}") and "\n" not in str(info.value)


def test_coco_category_names_never_become_paths(tmp_path):
    root, path, data = coco(tmp_path)
    data["categories"][0]["name"] = "../../../escape"
    path.write_text(json.dumps(data))
    out = tmp_path / "work" / "out"
    before = files_under(tmp_path)
    build_dataset(root, out, BuildConfig(source_format="coco", segmenter="box", split="val"), quiet=True)
    assert new_outside(before, tmp_path, out) == []
    assert {p.name for p in (out / "original" / "val").iterdir()} == {"00_.._.._.._escape", "01_bird",
                                                                      "02_vehicle"}


# ----------------------------------------------------------------------------- folder / ImageNet entries
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "folder"
    make_folder_tree(root, per_class=2, size=64)
    return root


def test_folder_image_symlink_to_a_private_photo_is_dropped(tmp_path):
    root = folder(tmp_path)
    (root / "images" / "dog" / "stolen.jpg").symlink_to(secret_photo(tmp_path))
    why = problem_of(read_source(root, "folder"), "dog/stolen.jpg")
    assert why == ("file outside the dataset folder: 'stolen.jpg' leads outside 'images' "
                   "(a symbolic link or a path with '..')")


def test_folder_class_folder_symlinked_outside_drops_its_images(tmp_path):
    root = folder(tmp_path)
    secret_photo(tmp_path)
    (root / "images" / "cat").symlink_to(tmp_path / "private")
    result = read_source(root, "folder")
    assert reasons.reason_category(problem_of(result, "cat/photo.jpg")) == reasons.OUTSIDE_SOURCE


def test_folder_mask_symlinked_outside_is_dropped(tmp_path):
    root = folder(tmp_path)
    mask = root / "masks" / "dog" / "dog_000.png"
    outside = tmp_path / "mask.png"
    outside.write_bytes(mask.read_bytes())
    mask.unlink()
    mask.symlink_to(outside)
    why = problem_of(read_source(root, "folder"), "dog/dog_000.jpg")
    assert reasons.reason_category(why) == reasons.OUTSIDE_SOURCE and "'dog_000.png'" in why


def test_folder_mask_decompression_bomb_is_dropped_at_read_time(tmp_path):
    from badcorpus import png_bomb

    root = folder(tmp_path)
    png_bomb(root / "masks" / "dog" / "dog_000.png")
    why = problem_of(read_source(root, "folder"), "dog/dog_000.jpg")
    assert why == "unreadable mask: dog_000.png: mask too large (possible decompression bomb)"


def test_folder_dev_zero_as_an_image_is_dropped_without_reading(tmp_path):
    root = folder(tmp_path)
    (root / "images" / "dog" / "zero.jpg").symlink_to("/dev/zero")
    out = tmp_path / "out"
    build_dataset(root, out, BuildConfig(source_format="folder", segmenter="box", split="val"), quiet=True)
    rec = next(r for r in read_manifest(out) if r["source_id"] == "dog/zero.jpg")
    assert rec["status"] == "dropped" and reasons.reason_category(rec["reason"]) == reasons.OUTSIDE_SOURCE


def test_folder_fifo_named_like_an_image_is_dropped_not_opened(tmp_path):
    root = folder(tmp_path)
    fifo = root / "images" / "dog" / "pipe.jpg"
    os.mkfifo(fifo)
    (root / "boxes" / "dog").mkdir(parents=True, exist_ok=True)
    (root / "boxes" / "dog" / "pipe.xml").write_text(annotation_xml("dog", "pipe.jpg", (64, 64),
                                                                    [("dog", (5, 5, 40, 40))]))
    out = tmp_path / "out"
    build_dataset(root, out, BuildConfig(source_format="folder", segmenter="box", split="val"), quiet=True)
    rec = next(r for r in read_manifest(out) if r["source_id"] == "dog/pipe.jpg")
    assert rec["status"] == "dropped" and rec["reason"] == "unreadable image: not a file"


FOLDER_BAD_FILE_NAMES = {
    "newline": ("bad\nname.jpg", "control character"),
    "carriage-return": ("bad\rname.jpg", "control character"),
    "long-stem": ("y" * 240 + ".jpg", "longer than 200 bytes"),
    "not-utf8": (os.fsdecode(b"\xff\xfe.jpg"), "not valid UTF-8"),
}


@pytest.mark.parametrize("case", sorted(FOLDER_BAD_FILE_NAMES))
def test_folder_file_names_that_cannot_name_an_output_are_dropped(tmp_path, case):
    name, detail = FOLDER_BAD_FILE_NAMES[case]
    root = folder(tmp_path)
    write_jpeg(root / "images" / "dog" / name, rgb_image(64, 64, seed=3))
    out = tmp_path / "work" / "out"
    before = files_under(tmp_path)
    build_dataset(root, out, BuildConfig(source_format="folder", segmenter="box", split="val"), quiet=True)
    assert new_outside(before, tmp_path, out) == []
    rec = next(r for r in read_manifest(out) if r["source_id"] == f"dog/{name}")
    assert rec["status"] == "dropped" and rec["stem"].startswith("_unsafe_")
    assert reasons.reason_category(rec["reason"]) == reasons.UNSAFE_NAME and detail in rec["reason"]


def test_case_clashing_names_in_one_class_get_distinct_outputs(tmp_path):
    """``DOG_000.JPG``, ``Dog_000.jpg`` and ``dog_000.jpg`` in one folder: one output file each, even
    on a case-insensitive disk (stems compared case-folded; the first in sorted order keeps its own)."""
    root = folder(tmp_path)
    for name in ("Dog_000.jpg", "DOG_000.JPG"):
        (root / "images" / "dog" / name).write_bytes((root / "images" / "dog" / "dog_000.jpg").read_bytes())
    stems = [s.stem for s in read_source(root, "folder").samples if s.source_id.startswith("dog/")]
    assert stems == ["DOG_000", "Dog_000__2", "dog_000__3", "dog_001"]


def test_hard_link_to_a_file_outside_is_read_as_the_datasets_own_bytes(tmp_path):
    """A hard link is a second name of the same bytes, which the dataset holds: it is read (see
    docs/security.md); only symbolic links can point somewhere else."""
    root = folder(tmp_path)
    os.link(secret_photo(tmp_path), root / "images" / "dog" / "hard.jpg")
    (root / "boxes" / "dog").mkdir(parents=True, exist_ok=True)
    (root / "boxes" / "dog" / "hard.xml").write_text(annotation_xml("dog", "hard.jpg", (64, 64),
                                                                    [("dog", (5, 5, 40, 40))]))
    assert problem_of(read_source(root, "folder"), "dog/hard.jpg") is None


def test_imagenet_image_symlink_outside_and_zero_byte_image(tmp_path):
    from badcorpus import DOG_LEAF

    split = tmp_path / "in" / "val" / DOG_LEAF
    for stem, make in (("ok", True), ("link", False), ("empty", None)):
        path = split / f"{DOG_LEAF}_{stem}.JPEG"
        if make:
            write_jpeg(path, rgb_image(64, 64))
        elif make is None:
            path.write_bytes(b"")
        else:
            path.symlink_to(secret_photo(tmp_path))
        (split / f"{DOG_LEAF}_{stem}.xml").write_text(
            annotation_xml(DOG_LEAF, path.name, (64, 64), [(DOG_LEAF, (5, 5, 40, 40))]))
    result = read_source(tmp_path / "in")
    link = problem_of(result, f"{DOG_LEAF}/{DOG_LEAF}_link.JPEG")
    assert reasons.reason_category(link) == reasons.OUTSIDE_SOURCE
    empty = next(s for s in result.samples if s.stem.endswith("_empty"))
    assert load_sample(empty).problem == "unreadable image: empty file (0 bytes)"


def test_folder_box_xml_symlinked_outside_is_dropped_unparsed(tmp_path):
    root = folder(tmp_path)
    xml = root / "boxes" / "dog" / "dog_001.xml"
    outside = tmp_path / "boxes.xml"
    outside.write_bytes(xml.read_bytes())
    xml.unlink()
    xml.symlink_to(outside)
    why = problem_of(read_source(root, "folder"), "dog/dog_001.jpg")
    assert reasons.reason_category(why) == reasons.OUTSIDE_SOURCE and "'dog_001.xml'" in why


@pytest.mark.parametrize("target", ["/dev/zero", "fifo"])
def test_imagenet_xml_that_is_a_device_or_fifo_is_never_read(tmp_path, target):
    from badcorpus import DOG_LEAF

    split = tmp_path / "in" / "val" / DOG_LEAF
    write_jpeg(split / f"{DOG_LEAF}_1.JPEG", rgb_image(64, 64))
    xml = split / f"{DOG_LEAF}_1.xml"
    if target == "fifo":
        os.mkfifo(xml)
        expected = f"malformed annotation XML: {xml.name}: not a regular file"
    else:
        xml.symlink_to(target)
        expected = None
    why = read_source(tmp_path / "in").samples[0].problem
    if expected is None:
        assert reasons.reason_category(why) == reasons.OUTSIDE_SOURCE and f"'{xml.name}'" in why
    else:
        assert why == expected


def test_imagenet_flat_image_with_an_xml_linked_from_outside_is_refused(tmp_path):
    from badcorpus import DOG_LEAF

    split = tmp_path / "in" / "val"
    write_jpeg(split / "ILSVRC2012_val_00000001.JPEG", rgb_image(64, 64))
    write_jpeg(split / "ILSVRC2012_val_00000002.JPEG", rgb_image(64, 64, seed=1))
    text = annotation_xml("val", "x", (64, 64), [(DOG_LEAF, (5, 5, 40, 40))])
    (split / "ILSVRC2012_val_00000001.xml").write_text(text)
    (tmp_path / "elsewhere.xml").write_text(text)
    (split / "ILSVRC2012_val_00000002.xml").symlink_to(tmp_path / "elsewhere.xml")
    result = read_source(tmp_path / "in")
    assert [s.source_id for s in result.samples] == ["ILSVRC2012_val_00000001.JPEG"]
    assert result.skipped == {"flat images whose annotation XML is a link out of the dataset (refused)": 1}


# ----------------------------------------------------------------------------- the writer's own check
@pytest.mark.parametrize("stem", ["../x", "/abs", "a\\b", "..", "", "nul\x00"])
def test_writer_refuses_any_path_part_that_leaves_out(tmp_path, stem):
    with pytest.raises(BgbenchError, match="refusing to write outside the output folder"):
        variant_path(tmp_path / "out", "original", "val", "00_dog", stem)
    with pytest.raises(BgbenchError, match="refusing to write outside the output folder"):
        variant_path(tmp_path / "out", "original", "val", stem or ".", "ok")


# ----------------------------------------------------------------------------- archives
def tar_of(*members: tuple[str, str, str | bytes]) -> bytes:
    """A tar.gz of (kind, name, target-or-data) members: kind file|dir|sym|hard|fifo|chr|blk."""
    buf = io.BytesIO()
    kinds = {"sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE,
             "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE, "dir": tarfile.DIRTYPE}
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for kind, name, extra in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                data = extra if isinstance(extra, bytes) else extra.encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type = kinds[kind]
            if kind in ("sym", "hard"):
                info.linkname = str(extra)
            tar.addfile(info)
    return buf.getvalue()


ARCHIVES = {
    "symlink-chain": ([("dir", "in9", ""), ("sym", "in9/a", "."), ("sym", "in9/a/b", "../.."),
                       ("file", "in9/a/b/escaped", "x")], "'in9/a/b': symlink points outside"),
    "write-through-link": ([("sym", "in9/up", ".."), ("file", "in9/up/../x", "x")], "'..' in path"),
    "folder-is-outside-link": ([("sym", "in9/up", "../.."), ("file", "in9/up/x", "x")],
                               "'in9/up': symlink points outside"),
    "link-loop": ([("sym", "in9/a", "b"), ("sym", "in9/b", "a"), ("file", "in9/a/x", "x")],
                  "'in9/a/x': its folder is a link leading outside the archive (or a loop of links)"),
    "hard-link-outside": ([("file", "in9/f", "x"), ("hard", "in9/h", "../etc/passwd")],
                          "'in9/h': hard link to '../etc/passwd' outside the archive"),
    "hard-link-absolute": ([("hard", "in9/h", "/etc/passwd")], "'in9/h': hard link to '/etc/passwd'"),
    "hard-link-through-symlink": ([("sym", "in9/l", ".."), ("hard", "in9/h", "in9/l/../x")],
                                  "'in9/h': hard link to 'in9/l/../x'"),
    "link-above-root": ([("sym", "in9/l", "../../tmp"), ("hard", "in9/h", "in9/l/x")],
                        "'in9/l': symlink points outside"),
    "fifo": ([("fifo", "in9/pipe", "")], "'in9/pipe': device, FIFO or special file"),
    "char-device": ([("chr", "in9/zero", "")], "'in9/zero': device, FIFO or special file"),
    "block-device": ([("blk", "in9/disk", "")], "'in9/disk': device, FIFO or special file"),
    "absolute-symlink": ([("sym", "in9/etc", "/etc")], "'in9/etc': symlink to absolute path"),
}


@pytest.mark.parametrize("case", sorted(ARCHIVES))
def test_unsafe_archive_members_are_named_and_nothing_is_written(tmp_path, case):
    members, message = ARCHIVES[case]
    archive = tmp_path / "in9.tar.gz"
    archive.write_bytes(tar_of(*members))
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(BgbenchError) as info:
        safe_unpack(archive, work / "dest")
    text = str(info.value)
    assert text.startswith(f"{archive}: unsafe archive member") and message in text, text
    assert "corrupt" not in text and list(work.iterdir()) == []


def test_safe_links_inside_the_archive_still_unpack(tmp_path):
    archive = tmp_path / "in9.tar.gz"
    archive.write_bytes(tar_of(("file", "in9/data/a.txt", "hello"), ("sym", "in9/alias", "data/a.txt"),
                               ("sym", "in9/data/same", "."), ("hard", "in9/copy", "in9/data/a.txt")))
    dest = safe_unpack(archive, tmp_path / "dest")
    assert (dest / "alias").read_text() == "hello" and (dest / "copy").read_text() == "hello"


@pytest.fixture
def http_dir(tmp_path) -> Iterator[Callable[[str], str]]:
    """Serve ``tmp_path/www`` on 127.0.0.1; yields name -> URL."""
    www = tmp_path / "www"
    www.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(www), **kwargs)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield lambda name: f"http://127.0.0.1:{server.server_address[1]}/{name}"
    server.shutdown()
    server.server_close()


def test_cli_download_of_a_symlink_chain_archive_is_one_line(tmp_path, http_dir):
    (tmp_path / "www" / "in9.tar.gz").write_bytes(tar_of(*ARCHIVES["symlink-chain"][0]))
    done = run_cli("download", "in9", str(tmp_path / "dest"), "--url", http_dir("in9.tar.gz"), "--no-verify",
                   "--quiet")
    assert_one_line_error(done, "unsafe archive member 'in9/a/b'")
    assert not (tmp_path / "dest").exists() and not (tmp_path / "escaped").exists()


# ----------------------------------------------------------------------------- CLI build
def test_cli_build_with_an_escaping_voc_id_exits_0_and_writes_only_inside_out(tmp_path):
    root = voc(tmp_path)
    add_voc_ids(root, "../../somewhere/photo")
    out = tmp_path / "work" / "out"
    before = files_under(tmp_path)
    done = run_cli("build", str(root), str(out), "--source-format", "voc", "--segmenter", "box", "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "refused 1 unsafe dataset entry" in done.stdout
    assert new_outside(before, tmp_path, out) == []


@pytest.mark.parametrize("case", ["split-list", "coco-json", "class-map"])
def test_cli_build_with_non_utf8_input_is_exit_2_and_leaves_no_out(tmp_path, case):
    out = tmp_path / "out"
    if case == "split-list":
        root = voc(tmp_path)
        bad = root / "ImageSets" / "Main" / "val.txt"
        bad.write_bytes(b"\xff\n")
        args = ["--source-format", "voc"]
    elif case == "coco-json":
        root, bad, _ = coco(tmp_path)
        bad.write_bytes(b'{"images": "\xff"}')
        args = ["--source-format", "coco"]
    else:
        root = voc(tmp_path)
        bad = tmp_path / "map.json"
        bad.write_bytes(b'{"dog": "\xc3"}')
        args = ["--source-format", "voc", "--class-map", str(bad)]
    done = run_cli("build", str(root), str(out), *args, "--segmenter", "box", "--quiet")
    assert_one_line_error(done, str(bad), "is not UTF-8 text")
    assert not out.exists()


# ----------------------------------------------------------------------------- IN-9 trees (eval)
class RedCode(torch.nn.Module):
    """Predicts class ``red value // 10`` (9 outputs)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        code = (x[:, 0].mean(dim=(1, 2)) * 255).round().long() // 10
        return torch.nn.functional.one_hot(code.clamp(0, 8), 9).float()


def red_model(outputs: int = 9) -> TorchClassifier:
    return TorchClassifier(module=RedCode(), spec="red", num_outputs=outputs,
                           preprocessing=Preprocessing(mean=(0, 0, 0), std=(1, 1, 1)))


def red_image(path: Path, label: int, size: int = 8) -> None:
    arr = np.zeros((size, size, 3), np.uint8)
    arr[:, :, 0] = label * 10 + 2
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def tree(root: Path, layout: dict[str, list[str]], per_class: int = 2, size: int = 8) -> Path:
    """``<variant>/val/<folder>/<i>.png`` red-coded images (label = the folder's NN)."""
    for variant, folders in layout.items():
        (root / variant / "val").mkdir(parents=True, exist_ok=True)
        for name in folders:
            for i in range(per_class):
                red_image(root / variant / "val" / name / f"{i}.png", int(name[:2]), size)
    return root


def test_eval_scores_a_partial_class_tree_and_reports_the_empty_variant(tmp_path):
    """The issue's case: three classes, mixed_next with fewer class folders, mixed_rand with none."""
    root = tree(tmp_path / "t", {"original": ["00_dog", "01_bird", "02_vehicle"],
                                 "mixed_next": ["00_dog", "01_bird"], "mixed_rand": []})
    result = evaluate(root, red_model(), EvalConfig(cache=CacheChoice(cache=False)), quiet=True)
    assert set(result.variants) == {"original", "mixed_next"}
    assert result.variants["mixed_next"].labels.tolist() == [0, 0, 1, 1]
    assert result.variants["mixed_next"].accuracy.value == 1.0
    assert result.skipped_variants == {
        "mixed_rand": "mixed_rand/val holds no class folder (the build wrote no image for it)"}
    assert result.to_json()["skipped_variants"] == result.skipped_variants
    assert any("mixed_rand  not scored" in line for line in result.summary_lines())


def test_build_records_why_a_variant_lacks_a_class(tmp_path):
    root = voc(tmp_path, per_class=1)
    out = tmp_path / "out"
    class_map = tmp_path / "map.json"
    class_map.write_text(json.dumps({"dog": "dog", "bird": "bird", "vehicle": "vehicle"}))
    result = build_dataset(root, out, BuildConfig(source_format="voc", segmenter="box", split="val",
                                                  class_map=class_map), quiet=True)
    summary = result.doc["summary"]
    kept = {name for name, row in summary["per_class"].items() if row["kept"]}
    assert "08_fish" in summary["classes_without_images"]
    gaps = summary["variant_gaps"].get("mixed_next", {})
    assert gaps and kept
    for name in kept:
        following = f"{(int(name[:2]) + 1) % 9:02d}"
        has_next = any(k.startswith(following) for k in kept)
        assert (name in gaps) == (not has_next)
        if not has_next:
            assert gaps[name].startswith("no donor: the next class")
            assert not (out / "mixed_next" / "val" / name).exists()


def test_eval_tenth_class_folder_error_names_the_tree_and_the_folder(tmp_path):
    in9 = ["00_dog", "01_bird", "02_vehicle", "03_reptile", "04_carnivore", "05_insect", "06_instrument",
           "07_primate", "08_fish"]
    root = tree(tmp_path / "t", {"original": [*in9, "09_extra"]}, per_class=1)
    with pytest.raises(BgbenchError) as info:
        evaluate(root, red_model(), EvalConfig(cache=CacheChoice(cache=False)), quiet=True)
    text = str(info.value)
    assert text.startswith(f"{root}: model has 9 outputs") and "09_extra" in text


def test_eval_skips_a_tree_symlink_leading_outside(tmp_path):
    root = tree(tmp_path / "t", {"original": ["00_dog"]})
    red_image(tmp_path / "private.png", 0)
    (root / "original" / "val" / "00_dog" / "z.png").symlink_to(tmp_path / "private.png")
    data = load_variant(root, "original", "val", cache=False, quiet=True)
    assert data.paths == ["original/val/00_dog/0.png", "original/val/00_dog/1.png"]
    assert data.skipped == [("original/val/00_dog/z.png", OUTSIDE_TREE)]


def test_zero_byte_image_reason_is_stable_text(tmp_path):
    root = tree(tmp_path / "t", {"original": ["00_dog"]})
    (root / "original" / "val" / "00_dog" / "empty.png").write_bytes(b"")
    (root / "original" / "val" / "00_dog" / "junk.png").write_bytes(b"not an image at all")
    data = load_variant(root, "original", "val", cache=False, quiet=True)
    assert dict(data.skipped) == {"original/val/00_dog/empty.png": "empty file (0 bytes)",
                                  "original/val/00_dog/junk.png":
                                      "cannot decode image (not an image file: unrecognised format)"}


def test_cache_misses_when_a_file_is_rewritten_with_its_size_and_mtime_restored(tmp_path):
    """What ``cp -p`` / ``rsync -t`` do: same size, same mtime, new pixels."""
    root = tree(tmp_path / "t", {"original": ["00_dog"]}, per_class=1)
    path = root / "original" / "val" / "00_dog" / "0.png"
    Image.fromarray(np.full((8, 8, 3), 10, np.uint8)).save(path, format="BMP")
    stat = path.stat()
    first = load_variant(root, "original", "val", cache_dir=tmp_path / "cache", quiet=True)
    assert int(first.images[0, 0, 0, 0]) == 10
    time.sleep(0.05)  # past the kernel's coarse ctime tick
    Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(path, format="BMP")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    second = load_variant(root, "original", "val", cache_dir=tmp_path / "cache", quiet=True)
    assert not second.cached and int(second.images[0, 0, 0, 0]) == 200


def test_cli_eval_of_a_tree_without_any_class_folder_is_one_line(tmp_path):
    root = tree(tmp_path / "t", {"original": [], "mixed_next": []})
    done = run_cli("eval", str(root), "--model", "python:bgbench.smallcnn:small_cnn", "--quiet")
    assert_one_line_error(done, str(root), "no class folders in any of original/val, mixed_next/val")


def test_cli_eval_with_a_non_utf8_class_map_is_one_line(tmp_path):
    root = tree(tmp_path / "t", {"original": ["00_dog", "01_bird"]}, per_class=1)
    bad = tmp_path / "map.json"
    bad.write_bytes(b'{"0": 0, "1": "\xff"}')
    done = run_cli("eval", str(root), "--model", "python:bgbench.smallcnn:small_cnn", "--class-map", str(bad),
                   "--no-cache", "--quiet", "--out", str(tmp_path / "res"))
    assert_one_line_error(done, f"{bad}: mapping file is not UTF-8 text (bad byte at offset 15)")
    assert not (tmp_path / "res" / "eval.json").exists()


def test_cli_eval_of_a_partial_tree_exits_0_and_says_what_it_skipped(tmp_path):
    root = tree(tmp_path / "t", {"original": ["00_dog", "01_bird", "02_vehicle"], "mixed_next": ["00_dog"],
                                 "mixed_rand": []}, per_class=1, size=32)
    out = tmp_path / "res"
    done = run_cli("eval", str(root), "--model", "python:bgbench.smallcnn:small_cnn", "--no-cache", "--quiet",
                   "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "mixed_rand not scored: mixed_rand/val holds no class folder" in done.stdout
    doc = json.loads((out / "eval.json").read_text())
    assert doc["n"] == {"original": 3, "mixed_next": 1} and list(doc["skipped_variants"]) == ["mixed_rand"]
