"""The shared foundation: class facts, layout order, atomic writes, label maps, the CLI shell."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from bgbench import __version__
from bgbench.atomic import append_jsonl, append_jsonl_many, atomic_write_json, read_jsonl
from bgbench.classes import IN9_FOLDERS, imagenet_class_names, imagenet_to_in9_array, wnid_to_in9
from bgbench.cli import main
from bgbench.composite import composite, composite_torch
from bgbench.data.discover import list_image_folder
from bgbench.errors import BgbenchError
from bgbench.labelmap import create_label_map


def test_imagenet_to_in9_counts_match_the_published_facts() -> None:
    table = imagenet_to_in9_array()
    assert table.shape == (1000,)
    assert (table == -1).sum() == 630
    counts = np.bincount(table[table >= 0], minlength=9)
    # dog, bird, vehicle, reptile, carnivore, insect, instrument, primate, fish
    assert counts.tolist() == [116, 52, 42, 36, 35, 27, 26, 20, 16]
    assert wnid_to_in9()["n01440764"] == 8  # tench is a fish
    assert wnid_to_in9()["n02085620"] == 0  # Chihuahua is a dog
    assert imagenet_class_names()[0] == "tench"
    assert IN9_FOLDERS[3] == "03_reptile"


def test_list_image_folder_uses_imagefolder_order(tmp_path: Path) -> None:
    for cls, names in {"b_cls": ["z.jpg", "a.jpg"], "a_cls": ["m.png"]}.items():
        (tmp_path / cls).mkdir()
        for name in names:
            (tmp_path / cls / name).write_bytes(b"x")
    (tmp_path / "a_cls" / "notes.txt").write_text("ignored")
    items = [(p.relative_to(tmp_path).as_posix(), c) for p, c in list_image_folder(tmp_path)]
    assert items == [("a_cls/m.png", 0), ("b_cls/a.jpg", 1), ("b_cls/z.jpg", 1)]
    with pytest.raises(BgbenchError, match="folder not found"):
        list_image_folder(tmp_path / "missing")


def test_atomic_json_leaves_no_temp_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    atomic_write_json(target, {"a": 1})
    with pytest.raises(TypeError):
        atomic_write_json(target, {"a": object()})  # not serialisable: the old file must survive
    assert json.loads(target.read_text()) == {"a": 1}
    assert sorted(os.listdir(tmp_path)) == ["out.json"]


def test_read_jsonl_tolerates_only_a_torn_last_line(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    append_jsonl(log, {"i": 0})
    append_jsonl_many(log, [{"i": 1}, {"i": 2}])  # one write, one fsync
    append_jsonl_many(log, [])
    with open(log, "a") as handle:
        handle.write('{"i": 3')  # a write cut short by a crash
    assert read_jsonl(log) == [{"i": 0}, {"i": 1}, {"i": 2}]
    log.write_text('{"i": 0}\n{broken\n{"i": 2}\n')
    with pytest.raises(json.JSONDecodeError):
        read_jsonl(log)


def test_label_map_rules_on_constructed_logits() -> None:
    logits = torch.full((3, 1000), -5.0)
    logits[0, 0] = 9.0  # tench -> fish (8)
    logits[1, 999] = 9.0  # toilet tissue: none of the nine
    logits[1, 151] = 8.0  # ... but the best IN-9 class is Chihuahua (dog)
    logits[2, 404] = 9.0  # airliner: none of the nine, runner-up elsewhere
    logits[2, 1] = 4.0  # goldfish
    assert create_label_map(1000, "released").predict(logits).tolist() == [8, -1, -1]
    assert create_label_map(1000, "restricted").predict(logits).tolist() == [8, 0, 8]
    assert create_label_map(9).predict(torch.eye(9)).tolist() == list(range(9))
    with pytest.raises(BgbenchError, match="fits no label map"):
        create_label_map(17)


def test_label_map_file_for_custom_classes(tmp_path: Path) -> None:
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"0": 1, "1": 1, "2": 0}))
    label_map = create_label_map(4, "released", mapping_file=mapping, num_targets=2)
    logits = torch.tensor([[0.0, 5.0, 0.0, 0.0], [0.0, 0.0, 5.0, 0.0], [0.0, 0.0, 0.0, 5.0]])
    assert label_map.predict(logits).tolist() == [1, 0, -1]
    mapping.write_text(json.dumps({"7": 0}))
    with pytest.raises(BgbenchError, match="map.json: mapping names output 7"):
        create_label_map(4, mapping_file=mapping, num_targets=2)


def test_composite_copies_pixels_exactly_and_matches_torch() -> None:
    rng = np.random.default_rng(0)
    fg = rng.integers(0, 256, (8, 9, 3), dtype=np.uint8)
    bg = rng.integers(0, 256, (8, 9, 3), dtype=np.uint8)
    mask = rng.random((8, 9)) > 0.5
    out = composite(fg, bg, mask)
    assert np.array_equal(out[mask], fg[mask]) and np.array_equal(out[~mask], bg[~mask])
    as_t = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255  # noqa: E731
    m = torch.from_numpy(mask)[None, None].float()
    assert torch.equal(composite_torch(as_t(fg), as_t(bg), m), as_t(out))


def test_cli_version_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out
    assert main(["no-such-command"]) != 0


def test_console_script_runs() -> None:
    exe = shutil.which("bgbench") or str(Path(sys.executable).parent / "bgbench")
    done = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "background" in done.stdout


def test_code_is_ruff_clean() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (it comes with the test extra)")
    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run([ruff, "check", "src", "tests", "benchmarks"], cwd=repo, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]


def test_cli_unwritable_output_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An OUT that cannot be created (its parent is a file) is one line naming it, not a traceback."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    src = tmp_path / "src"
    assert main(["synth", str(src), "--per-class", "1", "--size", "64", "--split", "val"]) == 0
    capsys.readouterr()
    for argv in (["synth", str(blocker / "s"), "--per-class", "1"],
                 ["build", str(src), str(blocker / "b"), "--workers", "1"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert err.startswith("error: ") and str(blocker) in err, err
