"""The adversarial-backgrounds challenge: exact against a plain re-implementation of the released loop.

Data: a tiny IN-9 layout tree written here (nine classes, 2 images each, 32 px): every foreground
is a flat patch whose grey level encodes its class, pasted with a random mask covering 40-100% of
the image onto a noisy background whose level is near its own class. Model: "mean brightness ->
nearest class level" (a real ``nn.Module`` in a ``TorchClassifier``), so small foregrounds get
fooled by far-off backgrounds and large ones survive: decisions are non-trivial.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from bgbench.challenge import ChallengeConfig, merge_shards, run_challenge, search_backgrounds
from bgbench.challenge.analysis import matrix_decisions
from bgbench.challenge.reference import reference_loop, reference_loop_files, reference_matrix
from bgbench.challenge.search import oracle_minimum
from bgbench.classes import IN9_FOLDERS, imagenet_to_in9_array
from bgbench.errors import BgbenchError
from bgbench.labelmap import create_label_map
from bgbench.models.base import Preprocessing, TorchClassifier
from bgbench.predict import ReadyModel

SIZE = 32
PER_CLASS = 2
TESTS = Path(__file__).resolve().parent


# ----------------------------------------------------------------------------- toy models and data
class MeanLevel(torch.nn.Module):
    """Logits -(9 * mean - centre_k)^2 for brightness ``centres`` (default k + 0.5, one per class),
    placed into ``num_outputs`` outputs at ``positions``; ``delay`` seconds of sleep per call."""

    def __init__(self, centres: list[float] | None = None, num_outputs: int = 9,
                 positions: list[int] | None = None, delay: float = 0.0) -> None:
        super().__init__()
        centres = centres or [k + 0.5 for k in range(9)]
        self.num_outputs = num_outputs
        self.register_buffer("centres", torch.tensor(centres))
        self.register_buffer("positions", torch.tensor(positions or list(range(len(centres)))))
        self.delay = delay

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.delay:
            time.sleep(self.delay)
        m = x.mean(dim=(1, 2, 3))
        out = torch.full((x.shape[0], self.num_outputs), -1e9, device=x.device)
        out[:, self.positions] = -(9 * m[:, None] - self.centres) ** 2
        return out


def toy_classifier(kind: str = "nine", delay: float = 0.0, precision: str = "fp32") -> TorchClassifier:
    """``nine``: 9 outputs, one per class. ``imagenet``: 1000 outputs, the nine class levels placed
    on one ImageNet class of each IN-9 class, plus a level between classes 4 and 5 on a class
    outside the nine (maps to -1, always wrong)."""
    pre = Preprocessing(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), name="identity")
    if kind == "nine":
        return TorchClassifier(MeanLevel(delay=delay), "toy:nine", 9, pre, precision=precision)
    table = imagenet_to_in9_array()
    positions = [int(np.flatnonzero(table == c)[0]) for c in range(9)] + [int(np.flatnonzero(table < 0)[0])]
    centres = [k + 0.5 for k in range(9)] + [4.9]
    return TorchClassifier(MeanLevel(centres, 1000, positions, delay), "toy:imagenet", 1000, pre,
                           precision=precision)


def write_tree(root: Path, seed: int = 0, per_class: int = PER_CLASS) -> Path:
    """original/, only_bg_t/ (JPEG, quality 95) and fg_mask/ (.npy uint8 0/1) under root/<v>/val/."""
    rng = np.random.default_rng(seed)
    for c, folder in enumerate(IN9_FOLDERS):
        for j in range(per_class):
            stem = f"img_{c}_{j}"
            level = 255 * (c + 0.5) / 9
            fg = np.clip(level + rng.integers(-6, 7, (SIZE, SIZE, 3)), 0, 255)
            bg_level = 255 * (rng.integers(0, 9) + 0.5) / 9 if j % 2 else level + rng.integers(-40, 41)
            bg = np.clip(bg_level + rng.integers(-30, 31, (SIZE, SIZE, 3)), 0, 255)
            mask = (rng.random((SIZE, SIZE)) < rng.uniform(0.4, 1.0)).astype(np.uint8)
            original = np.where(mask[..., None] > 0, fg, bg).astype(np.uint8)
            for variant, pixels in (("original", original), ("only_bg_t", bg.astype(np.uint8))):
                path = root / variant / "val" / folder / f"{stem}.JPEG"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels).save(path, quality=95)
            mask_path = root / "fg_mask" / "val" / folder / f"{stem}.npy"
            mask_path.parent.mkdir(parents=True, exist_ok=True)
            np.save(mask_path, mask)
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tree(tmp_path_factory.mktemp("challenge_tree") / "data")


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BGBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "bgbench-cache"))


def decisions(summary: Any) -> list[tuple[str, bool]]:
    """(image, fooled) per foreground of a challenge document or ChallengeResult."""
    doc = summary if isinstance(summary, dict) else summary.doc
    return [(r["image"], r["fooled"]) for r in doc["foregrounds"]]


def banks(root: Path):
    """Tensors straight from the files (not decoded by the data layer), like the released loop."""
    from bgbench.challenge.reference import _to_tensor
    from bgbench.data.discover import list_image_folder

    masks = list_image_folder(root / "fg_mask" / "val", frozenset({".npy"}))
    fg = torch.stack([(_to_tensor(root / "original" / "val" / p.parent.name / f"{p.stem}.JPEG") * 255).round()
                      for p, _ in masks]).to(torch.uint8)
    m = torch.stack([torch.from_numpy(np.load(p)).unsqueeze(0) for p, _ in masks])
    bgs = list_image_folder(root / "only_bg_t" / "val")
    bg = torch.stack([(_to_tensor(p) * 255).round() for p, _ in bgs]).to(torch.uint8)
    return fg, m, np.array([lab for _, lab in masks]), bg, np.array([lab for _, lab in bgs])


# ----------------------------------------------------------------------------- the engine on tensors
def random_banks(seed: int = 0, n_fg: int = 27, n_bg: int = 40):
    g = torch.Generator().manual_seed(seed)
    fg_labels = np.arange(n_fg) % 9
    bg_labels = np.sort(np.arange(n_bg) % 9)
    fg = torch.stack([torch.full((3, 16, 16), int(255 * (y + 0.5) / 9)) for y in fg_labels])
    fg = (fg + torch.randint(-6, 7, fg.shape, generator=g)).clamp(0, 255).to(torch.uint8)
    bg = torch.stack([torch.full((3, 16, 16), int(255 * (c + 0.5) / 9)) for c in bg_labels])
    bg = (bg + torch.randint(-40, 41, bg.shape, generator=g)).clamp(0, 255).to(torch.uint8)
    p = 0.5 + 0.5 * torch.rand(n_fg, 1, 1, 1, generator=g)
    masks = (torch.rand(n_fg, 1, 16, 16, generator=g) < p).to(torch.uint8)
    return fg, masks, fg_labels, bg, bg_labels


def test_search_matches_reference_loop_for_any_batch_size_and_order():
    fg, masks, fg_labels, bg, bg_labels = random_banks()
    label_map = create_label_map(9)
    module = MeanLevel()

    def predict(x):
        return label_map.predict(module(x))

    ref = reference_loop(predict, fg, masks, fg_labels, bg)
    fooled = [r["fooled"] for r in ref]
    assert 0 < sum(fooled) < len(fooled)  # the data is not trivial
    matrix = reference_matrix(predict, fg, masks, bg)
    for order, host in (("adaptive", True), ("folder", True), ("adaptive", False)):
        for batch_size in (1, 5, 32, 200):
            stats = search_backgrounds(predict, fg, masks, fg_labels, bg, bg_labels, batch_size=batch_size,
                                       order=order, host_selection=host)
            outcomes = [stats.outcomes[i] for i in range(len(fg_labels))]
            assert [o.fooled for o in outcomes] == fooled, (order, batch_size)
            for o in outcomes:  # the reported background really fools, with the reported prediction
                if o.fooled:
                    assert matrix[o.index, o.fooling_background] == o.predicted != fg_labels[o.index]
                else:
                    assert o.backgrounds_tried == len(bg_labels)
            oracle = oracle_minimum(outcomes, len(bg_labels))
            assert stats.forward_passes == sum(o.backgrounds_tried for o in outcomes) + stats.wasted
            assert stats.forward_passes >= oracle
            if batch_size == 1:
                assert stats.wasted == 0
    # in folder order with one composite per foreground per batch, the first fooling background
    # is the released loop's (first wrong prediction in folder order)
    stats = search_backgrounds(predict, fg, masks, fg_labels, bg, bg_labels, batch_size=1, order="folder")
    assert [stats.outcomes[i].fooling_background for i in range(len(ref))] == \
        [r["fooling_background"] for r in ref]


def test_adaptive_order_needs_fewer_forward_passes_than_folder_order():
    fg, masks, fg_labels, bg, bg_labels = random_banks(seed=1, n_fg=45)
    module = MeanLevel()

    def predict(x):
        return module(x).argmax(1)

    adaptive = search_backgrounds(predict, fg, masks, fg_labels, bg, bg_labels, batch_size=8)
    folder = search_backgrounds(predict, fg, masks, fg_labels, bg, bg_labels, batch_size=8, order="folder")
    assert adaptive.forward_passes < folder.forward_passes


def test_strict_search_matches_matrix():
    fg, masks, fg_labels, bg, bg_labels = random_banks(seed=2)
    module = MeanLevel()

    def predict(x):
        return module(x).argmax(1)

    dec = matrix_decisions(reference_matrix(predict, fg, masks, bg), fg_labels, bg_labels)
    for batch_size, host in ((3, True), (64, True), (5, False)):
        stats = search_backgrounds(predict, fg, masks, fg_labels, bg, bg_labels, batch_size=batch_size,
                                   strict=True, host_selection=host)
        assert [stats.outcomes[i].fooled for i in range(len(fg_labels))] == dec["fooled"].tolist()
        assert [stats.outcomes[i].strict_fooled for i in range(len(fg_labels))] == dec["strict"].tolist()
    assert 0 < dec["strict"].sum() < dec["fooled"].sum()


# ----------------------------------------------------------------------------- from files, end to end
@pytest.mark.parametrize("kind", ["nine", "imagenet"])
def test_run_challenge_matches_released_loop_on_files(tree: Path, tmp_path: Path, kind: str):
    clf = toy_classifier(kind)
    label_map = create_label_map(clf.num_outputs)

    def predict(x):
        return label_map.predict(clf(x))

    ref = reference_loop_files(predict, tree)
    summary = run_challenge(tree, clf, ChallengeConfig(batch_size=7), out=tmp_path / "out", quiet=True)
    assert decisions(summary) == [(r["image"], r["fooled"]) for r in ref]
    n_fooled = sum(r["fooled"] for r in ref)
    assert 0 < n_fooled < len(ref)
    assert summary.doc["n_fooled"] == n_fooled and summary.doc["n_foregrounds"] == len(ref) == 9 * PER_CLASS
    assert summary.doc["challenge_accuracy"] == pytest.approx(1 - n_fooled / len(ref))
    lo, hi = summary.doc["challenge_accuracy_ci95"]
    assert lo < summary.doc["challenge_accuracy"] < hi
    assert summary.doc["vulnerable"] == f"{n_fooled}/{len(ref)} vulnerable"
    # every reported fooling background really fools the foreground
    fg, m, fg_labels, bg, bg_labels = banks(tree)
    matrix = reference_matrix(predict, fg, m, bg)
    bg_paths = sorted(str(p.relative_to(tree)) for p in (tree / "only_bg_t").rglob("*.JPEG"))
    for r in summary.doc["foregrounds"]:
        if r["fooled"]:
            b = bg_paths.index(r["fooling_background"])
            assert matrix[r["index"], b] == r["predicted"] != r["label"]
        else:
            assert r["fooling_background"] is None and r["backgrounds_tried"] == len(bg_paths)
    if kind == "imagenet":  # the mapping matters: a top class outside the nine counts as wrong
        assert any(r["predicted"] == -1 for r in summary.doc["foregrounds"])
    saved = json.loads((tmp_path / "out" / "challenge.json").read_text())
    assert decisions(saved) == decisions(summary)
    assert saved["forward_passes"]["used"] >= saved["forward_passes"]["oracle_minimum"] > 0
    assert saved["model"]["spec"] == clf.spec and saved["data"]["fingerprint"]
    rows = (tmp_path / "out" / "challenge.csv").read_text().splitlines()
    assert len(rows) == 1 + len(ref) and rows[0].startswith("index,image,class")
    assert [c["n"] for c in saved["per_class"]] == [PER_CLASS] * 9


def test_full_matrix_equals_plain_per_pair_loop(tree: Path, tmp_path: Path):
    clf = toy_classifier("imagenet")
    label_map = create_label_map(1000)

    def predict(x):
        return label_map.predict(clf(x))

    fg, m, fg_labels, bg, bg_labels = banks(tree)
    expected = reference_matrix(predict, fg, m, bg)
    out = tmp_path / "full"
    summary = run_challenge(tree, clf, ChallengeConfig(full=True, batch_size=5, top_k=2), out=out, quiet=True)
    matrix = np.load(out / "challenge_matrix.npy")
    assert matrix.dtype == np.int8 and matrix.shape == expected.shape
    np.testing.assert_array_equal(matrix, expected)
    dec = matrix_decisions(expected, fg_labels, bg_labels)
    assert [r["fooled"] for r in summary.doc["foregrounds"]] == dec["fooled"].tolist()
    assert [r["strict_fooled"] for r in summary.doc["foregrounds"]] == dec["strict"].tolist()
    assert summary.doc["strict_reading"]["exact"]
    assert summary.doc["strict_reading"]["n_fooled"] == int(dec["strict"].sum())
    early = run_challenge(tree, clf, out=tmp_path / "early", quiet=True)
    assert decisions(early) == decisions(summary)
    # per-background rates: share of OTHER-class foregrounds fooled, checked by hand for one background
    other = fg_labels != bg_labels[0]
    rates = (out / "backgrounds.csv").read_text().splitlines()
    assert float(rates[1].split(",")[3]) == pytest.approx((expected[other, 0] != fg_labels[other]).mean())
    for group in summary.doc["top_backgrounds"]:
        assert len(group["backgrounds"]) == 2
        got = [b["fool_rate"] for b in group["backgrounds"]]
        assert got == sorted(got, reverse=True)
    for t, row in enumerate(summary.doc["reachability"]):
        eligible = fg_labels != t
        assert row["n_reachable"] == int((expected[eligible] == t).any(axis=1).sum())
    assert (out / "gallery.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_strict_flag_and_order_and_batch_size_change_no_decision(tree: Path, tmp_path: Path):
    clf = toy_classifier("nine")
    full = run_challenge(tree, clf, ChallengeConfig(full=True), quiet=True)
    strict = run_challenge(tree, clf, ChallengeConfig(strict=True, batch_size=4), quiet=True)
    folder = run_challenge(tree, clf, ChallengeConfig(order="folder", batch_size=32), quiet=True)
    assert decisions(strict) == decisions(full) == decisions(folder)
    assert [r["strict_fooled"] for r in strict.doc["foregrounds"]] == \
        [r["strict_fooled"] for r in full.doc["foregrounds"]]
    assert not folder.doc["strict_reading"]["exact"]
    assert folder.doc["strict_reading"]["n_fooled_lower_bound"] <= full.doc["strict_reading"]["n_fooled"]


# ----------------------------------------------------------------------------- resume, shards, ray
RUNNER = """
import sys
sys.path.insert(0, {tests!r})
from test_challenge import toy_classifier
from bgbench.challenge import ChallengeConfig, run_challenge
run_challenge({data!r}, toy_classifier("nine", delay={delay}),
              ChallengeConfig(batch_size=2, full={full}, checkpoint_seconds=0), out={out!r}, quiet=True)
"""


def _kill_midway(tree: Path, out: Path, full: bool, ready) -> None:
    env = dict(os.environ, BGBENCH_PROGRESS="0")
    code = RUNNER.format(tests=str(TESTS), data=str(tree), out=str(out), delay=0.15, full=full)
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while not ready() and time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"runner ended early: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.05)
        assert ready(), "runner made no progress"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def test_resume_after_sigkill_gives_identical_decisions(tree: Path, tmp_path: Path):
    clf = toy_classifier("nine")
    clean = run_challenge(tree, clf, out=tmp_path / "clean", quiet=True)
    out = tmp_path / "killed"
    log = out / "challenge.log.jsonl"

    def ready() -> bool:
        return log.exists() and log.read_text().count("\n") >= 4  # header + 3 decided foregrounds

    _kill_midway(tree, out, False, ready)
    assert not (out / "challenge.json").exists()
    n_before = log.read_text().count('"type": "foreground"')
    assert 3 <= n_before < 9 * PER_CLASS
    with open(log, "a") as handle:  # a torn last line, as a kill during a write leaves it
        handle.write('{"type": "foreground", "index": 1')
    resumed = run_challenge(tree, clf, out=out, quiet=True)
    assert resumed.doc["forward_passes"]["foregrounds_resumed"] == n_before
    assert decisions(resumed) == decisions(clean)
    # a rerun of a finished run decides nothing new and changes nothing
    again = run_challenge(tree, clf, out=out, quiet=True)
    assert again.doc["forward_passes"]["used"] == 0 and decisions(again) == decisions(clean)


def test_full_matrix_resumes_after_sigkill(tree: Path, tmp_path: Path):
    clf = toy_classifier("nine")
    out = tmp_path / "killed-full"
    matrix_path = out / "challenge_matrix.npy"

    def ready() -> bool:
        if not matrix_path.exists():
            return False
        try:
            return int((np.load(matrix_path) != -128).sum()) >= 20
        except (ValueError, OSError, EOFError):
            return False

    _kill_midway(tree, out, True, ready)
    partial = np.load(matrix_path)
    assert (partial == -128).any()
    resumed = run_challenge(tree, clf, ChallengeConfig(full=True), out=out, quiet=True)
    clean = run_challenge(tree, clf, ChallengeConfig(full=True), out=tmp_path / "clean-full", quiet=True)
    assert resumed.doc["forward_passes"]["used"] == int((partial == -128).sum())
    clean_matrix = np.load(tmp_path / "clean-full" / "challenge_matrix.npy")
    np.testing.assert_array_equal(np.load(matrix_path), clean_matrix)
    assert decisions(resumed) == decisions(clean)


def test_resume_with_another_configuration_is_refused(tree: Path, tmp_path: Path):
    run_challenge(tree, toy_classifier("nine"), out=tmp_path / "o", quiet=True)
    with pytest.raises(BgbenchError, match="different configuration.*model"):
        run_challenge(tree, toy_classifier("imagenet"), out=tmp_path / "o", quiet=True)


@pytest.mark.parametrize("full", [False, True])
def test_shards_merge_to_the_unsharded_result(tree: Path, tmp_path: Path, full: bool):
    clf = toy_classifier("nine")
    whole = run_challenge(tree, clf, ChallengeConfig(full=full), out=tmp_path / "whole", quiet=True)
    dirs = []
    for i in range(3):
        config = ChallengeConfig(shard=f"{i}/3", full=full)
        part = run_challenge(tree, clf, config, out=tmp_path / f"shard-{i}", quiet=True)
        assert [r["index"] for r in part.doc["foregrounds"]] == list(range(i, 9 * PER_CLASS, 3))
        dirs.append(tmp_path / f"shard-{i}")
    with pytest.raises(BgbenchError, match="cover"):
        merge_shards(tree, dirs[:2], tmp_path / "bad")
    merged = merge_shards(tree, dirs, tmp_path / "merged")
    assert decisions(merged) == decisions(whole)
    assert merged.doc["n_fooled"] == whole.doc["n_fooled"] and merged.doc["complete"]
    written = json.loads((tmp_path / "merged" / "challenge.json").read_text())
    assert written["n_fooled"] == whole.doc["n_fooled"]
    if full:
        np.testing.assert_array_equal(np.load(tmp_path / "merged" / "challenge_matrix.npy"),
                                      np.load(tmp_path / "whole" / "challenge_matrix.npy"))
        assert merged.doc["top_backgrounds"] == whole.doc["top_backgrounds"]


@pytest.mark.slow
def test_ray_executor_equals_serial(tree: Path, tmp_path: Path):
    ray = pytest.importorskip("ray")
    clf = toy_classifier("nine")
    serial = run_challenge(tree, clf, quiet=True)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(TESTS), "BGBENCH_PROGRESS": "0",
                                       "BGBENCH_CACHE": os.environ["BGBENCH_CACHE"]}})
    try:
        merged = run_challenge(tree, clf, ChallengeConfig(executor="ray", workers=2), out=tmp_path / "ray",
                               quiet=True)
    finally:
        ray.shutdown()
    assert decisions(merged) == decisions(serial)
    assert sorted(p.name for p in (tmp_path / "ray").glob("shard-*")) == ["shard-0-of-2", "shard-1-of-2"]


# ----------------------------------------------------------------------------- bad input
def test_missing_mask_folder_is_a_clear_error(tmp_path: Path):
    root = write_tree(tmp_path / "d", per_class=1)
    import shutil

    shutil.rmtree(root / "fg_mask")
    with pytest.raises(BgbenchError, match="fg_mask/val"):
        run_challenge(root, toy_classifier(), quiet=True)


def test_mask_without_image_is_a_clear_error(tmp_path: Path):
    root = write_tree(tmp_path / "d", per_class=1)
    (root / "fg_mask" / "val" / "03_reptile" / "img_3_0.npy").rename(
        root / "fg_mask" / "val" / "03_reptile" / "other.npy")
    with pytest.raises(BgbenchError, match=r"other\.npy: mask has no image .*other\.JPEG"):
        run_challenge(root, toy_classifier(), quiet=True)


def test_mask_of_wrong_shape_is_a_clear_error(tmp_path: Path):
    root = write_tree(tmp_path / "d", per_class=1)
    for path in (root / "fg_mask").rglob("*.npy"):
        np.save(path, np.ones((SIZE + 1, SIZE), dtype=np.uint8))
    with pytest.raises(BgbenchError, match=r"mask has shape \(33, 32\), but the images are \(32, 32\)"):
        run_challenge(root, toy_classifier(), out=tmp_path / "o", quiet=True)
    assert not (tmp_path / "o" / "challenge.json").exists()
    one = next((root / "fg_mask").rglob("*.npy"))
    np.save(one, np.ones((SIZE, SIZE + 2), dtype=np.uint8))
    with pytest.raises(BgbenchError, match="shape"):
        run_challenge(root, toy_classifier(), quiet=True)


def test_bad_shard_spec_is_a_clear_error(tree: Path):
    with pytest.raises(BgbenchError, match="--shard"):
        run_challenge(tree, toy_classifier(), ChallengeConfig(shard="3/3"), quiet=True)


@pytest.mark.parametrize(("settings", "message"), [
    ({"order": "random"}, "unknown order 'random' (expected adaptive or folder)"),
    ({"batch_size": 0}, "ChallengeConfig.batch_size must be a whole number of at least 1 (or None), got 0"),
    ({"batch_size": 2.5}, "ChallengeConfig.batch_size"
     " must be a whole number of at least 1 (or None), got 2.5"),
    ({"top_k": 0}, "ChallengeConfig.top_k must be a whole number of at least 1, got 0"),
    ({"top_k": True}, "ChallengeConfig.top_k must be a whole number of at least 1, got True"),
    ({"checkpoint_seconds": -1}, "ChallengeConfig.checkpoint_seconds must be a number of at least 0, got -1"),
    ({"split": ""}, "split must be a folder name, got ''"),
    ({"executor": "process"}, "unknown --executor 'process' (expected serial or ray)"),
    ({"shard": "1-of-2"}, "--shard must look like i/n (e.g. 0/4), got '1-of-2'"),
    ({"shard": "2/2"}, "--shard 2/2: need 0 <= i < n"),
    ({"shard": (0, 0)}, "--shard 0/0: need 0 <= i < n"),
    ({"shard": 3}, "--shard must be 'i/n' or a pair (i, n), got 3"),
    ({"workers": 0, "executor": "ray"}, "ChallengeConfig.workers"
     " must be a whole number of at least 1 (or None), got 0"),
    ({"workers": 2}, "--workers 2 runs 2 tasks at once and --executor serial runs one"),
    ({"executor": "ray", "shard": "0/2"}, "--shard and --executor ray exclude each other"),
    ({"cache": False}, "cache must be a CacheChoice, got bool"),
])
def test_challenge_config_refuses_bad_settings_in_one_line(settings: dict, message: str):
    with pytest.raises(BgbenchError) as caught:
        ChallengeConfig(**settings)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_challenge_config_normalizes_and_records(tmp_path: Path):
    from dataclasses import FrozenInstanceError

    from bgbench.config import CacheChoice

    config = ChallengeConfig(shard="1/3", cache=CacheChoice(False, tmp_path))
    assert config.shard == (1, 3) and ChallengeConfig(shard=(1, 3)) == ChallengeConfig(shard="1/3")
    assert ChallengeConfig(workers=1).workers == 1  # one task at once is what serial does
    doc = config.to_json()
    assert doc["shard"] == [1, 3] and doc["cache"] == {"cache": False, "cache_dir": str(tmp_path)}
    assert json.loads(json.dumps(doc)) == doc and doc["order"] == "adaptive" and doc["executor"] == "serial"
    with pytest.raises(FrozenInstanceError):
        config.full = True  # type: ignore[misc]


def test_ray_without_out_is_refused_before_any_work(tmp_path: Path):
    with pytest.raises(BgbenchError, match="--executor ray needs --out"):
        run_challenge(tmp_path / "no-such-tree", toy_classifier(), ChallengeConfig(executor="ray"),
                      quiet=True)


# ----------------------------------------------------------------------------- command line
TOY_SPEC = f"python:{TESTS / 'test_challenge.py'}:toy_classifier"


def test_cli_runs_shards_merges_and_reports(tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    from bgbench.cli import main

    expected = run_challenge(tree, toy_classifier(), quiet=True)
    assert main(["challenge", str(tree), "--model", TOY_SPEC, "--out", str(tmp_path / "cli"), "-q"]) == 0
    printed = capsys.readouterr().out
    assert f"{expected.doc['n_fooled']}/{9 * PER_CLASS} vulnerable" in printed
    assert "fooled per class" in printed
    assert decisions(json.loads((tmp_path / "cli" / "challenge.json").read_text())) == decisions(expected)
    for i in range(2):
        assert main(["challenge", str(tree), "--model", TOY_SPEC, "--shard", f"{i}/2", "-q",
                     "--out", str(tmp_path / f"shard-{i}")]) == 0
    capsys.readouterr()
    shards = str(tmp_path / "shard-*")  # a quoted glob
    assert main(["challenge", str(tree), "--merge", shards, "--out", str(tmp_path / "merged"), "--json"]) == 0
    merged = json.loads(capsys.readouterr().out)
    assert decisions(merged) == decisions(expected)


def test_cli_bad_input_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture):
    from bgbench.cli import main

    (tmp_path / "empty" / "original" / "val" / "00_dog").mkdir(parents=True)
    assert main(["challenge", str(tmp_path / "empty"), "--model", TOY_SPEC, "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'empty'}: no fg_mask/val folder: the challenge needs the foreground "
                   "masks (build the dataset with bgbench build, or use the released data)"]


@pytest.mark.slow
def test_real_model_on_synth_built_set_matches_released_loop(synth_built: Path, tmp_path: Path):
    """efficientnet_lite0 (real pretrained weights, 1000 classes, released map) on the synth-built
    tree: shard 0/9 (one foreground in nine) against the released loop read from the files."""
    from bgbench.models import create_classifier
    from bgbench.predict import select_label_map

    clf = create_classifier("efficientnet_lite0", device="cpu")
    summary = run_challenge(synth_built, clf, ChallengeConfig(shard="0/9"), out=tmp_path / "o", quiet=True)
    indices = [r["index"] for r in summary.doc["foregrounds"]]
    label_map = select_label_map(1000, list(IN9_FOLDERS))

    def predict(x):
        return label_map.predict(clf(x))

    ref = reference_loop_files(predict, synth_built, indices=indices)
    assert decisions(summary) == [(r["image"], r["fooled"]) for r in ref]
    assert summary.doc["model"]["weights_sha256"]


# ----------------------------------------------------------------------------- a real CNN, every cell
@pytest.fixture(scope="module")
def synth_small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``bgbench synth`` (2 per class, seed 3, 128 px) + ``bgbench build`` (mask segmenter, serial):
    18 foregrounds and 18 backgrounds of 224 px, fewer than one released batch of 32."""
    from bgbench.builder import BuildConfig, BuildRun, build_dataset
    from bgbench.synth import synthesize

    base = tmp_path_factory.mktemp("synth_small")
    synthesize(base / "synth", per_class=2, split="val", seed=3, size=128, quiet=True)
    build_dataset(base / "synth", base / "built", BuildConfig(split="val", segmenter="mask",
                                                              run=BuildRun("serial")), quiet=True)
    return base / "built"


@pytest.mark.slow
def test_real_cnn_search_and_full_matrix_equal_released_loop(synth_small: Path, tmp_path: Path):
    """efficientnet_lite0 (real pretrained weights, fp32, ``--map restricted`` so that not every
    foreground is fooled) on a synth-built set: the search's decisions and every cell of the
    ``--full`` matrix equal the released loop's (``reference_loop_files``: per foreground, every
    background in folder order, batch 32, re-decoded from the files). With 18 backgrounds each
    foreground is one released batch, so that loop's predictions cover every cell."""
    from bgbench.models import create_classifier
    from bgbench.predict import select_label_map

    assert sorted(p.name for p in (synth_small / "only_bg_t" / "val").iterdir()) == list(IN9_FOLDERS)
    bg_paths = sorted(p.relative_to(synth_small).as_posix()
                      for p in (synth_small / "only_bg_t" / "val").rglob("*.JPEG"))
    assert len(bg_paths) <= 32
    clf = create_classifier("efficientnet_lite0", device="cpu")
    label_map = select_label_map(1000, list(IN9_FOLDERS), "restricted")
    batches: list[np.ndarray] = []

    def predict(x):
        preds = label_map.predict(clf(x))
        batches.append(preds.cpu().numpy())
        return preds

    ref = reference_loop_files(predict, synth_small)
    assert len(batches) == len(ref) and all(len(b) == len(bg_paths) for b in batches)
    expected = np.stack(batches)  # (foregrounds, backgrounds) as the released loop predicted them
    fooled = [r["fooled"] for r in ref]
    assert 0 < sum(fooled) < len(fooled), fooled  # mixed, so a wrong decision would show

    restricted = ReadyModel(clf, map_rule="restricted")
    search = run_challenge(synth_small, restricted, out=tmp_path / "search", quiet=True)
    assert decisions(search) == [(r["image"], r["fooled"]) for r in ref]
    for r in search.doc["foregrounds"]:
        if r["fooled"]:
            b = bg_paths.index(r["fooling_background"])
            assert expected[r["index"], b] == r["predicted"] != r["label"]
        else:
            assert r["backgrounds_tried"] == len(bg_paths)

    full = run_challenge(synth_small, restricted, ChallengeConfig(full=True), out=tmp_path / "full",
                         quiet=True)
    matrix = np.load(tmp_path / "full" / "challenge_matrix.npy")
    assert matrix.shape == expected.shape == (len(ref), len(bg_paths))
    np.testing.assert_array_equal(matrix, expected)
    assert decisions(full) == decisions(search)
    print(f"\nreal CNN: {sum(fooled)}/{len(fooled)} fooled, {matrix.size} matrix cells identical")


# ----------------------------------------------------------------------------- a failing gallery
def test_matplotlib_is_a_core_dependency_without_an_extra():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((TESTS.parent / "pyproject.toml").read_text())["project"]
    assert any(dep.replace(" ", "").startswith("matplotlib>=3.7") for dep in project["dependencies"])
    assert not any("matplotlib" in dep for deps in project["optional-dependencies"].values() for dep in deps)


def test_full_run_keeps_its_results_when_the_gallery_fails(tree: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture):
    """No matplotlib (the import fails): ``challenge --full`` still writes challenge.json, the matrix
    and backgrounds.csv, exits 0 and says why there is no gallery in one warning line."""
    from bgbench.cli import main

    expected = run_challenge(tree, toy_classifier(), ChallengeConfig(full=True), quiet=True)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    out = tmp_path / "full"
    assert main(["challenge", str(tree), "--model", TOY_SPEC, "--full", "--out", str(out), "-q"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    warnings = [line for line in err if "gallery" in line]
    assert len(warnings) == 1, err
    assert re.fullmatch(r"warning: gallery not drawn \((ModuleNotFound|Import)Error: .*matplotlib.*\); "
                        r"the results are in .*challenge\.json", warnings[0]), warnings
    saved = json.loads((out / "challenge.json").read_text())
    assert decisions(saved) == decisions(expected) and saved["n_foregrounds"] == 9 * PER_CLASS
    assert saved["gallery"] is None and "matplotlib" in saved["gallery_error"]
    assert saved["top_backgrounds"] == expected.doc["top_backgrounds"]
    assert (out / "challenge_matrix.npy").exists() and (out / "backgrounds.csv").exists()
    assert not (out / "gallery.png").exists()
    # with matplotlib back, the same command draws it and records it
    monkeypatch.undo()
    monkeypatch.setenv("BGBENCH_CACHE", str(tmp_path / "cache"))
    summary = run_challenge(tree, toy_classifier(), ChallengeConfig(full=True), out=tmp_path / "drawn",
                            quiet=True)
    assert summary.doc["gallery"] == "gallery.png" and "gallery_error" not in summary.doc
    assert json.loads((tmp_path / "drawn" / "challenge.json").read_text())["gallery"] == "gallery.png"
    assert (tmp_path / "drawn" / "gallery.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tree_missing_a_class_keeps_in9_labels(tree: Path, tmp_path: Path):
    """A tree without one IN-9 class folder (every image of the class was dropped) is scored in the
    full IN-9 space: labels keep their IN-9 meaning and predicting the absent class is wrong."""
    import shutil

    part = tmp_path / "part"
    shutil.copytree(tree, part)
    for variant in ("original", "only_bg_t", "fg_mask"):
        shutil.rmtree(part / variant / "val" / IN9_FOLDERS[3])
    clf = toy_classifier("imagenet")
    summary = run_challenge(part, clf, ChallengeConfig(full=True), out=tmp_path / "out", quiet=True)
    label_map = create_label_map(clf.num_outputs)  # the released 1000 -> 9 rule, IN-9 indices
    fg, m, fg_folder, bg, _ = banks(part)
    present = [f for f in IN9_FOLDERS if f != IN9_FOLDERS[3]]
    in9_label = np.array([IN9_FOLDERS.index(present[i]) for i in fg_folder])
    matrix = reference_matrix(lambda x: label_map.predict(clf(x)), fg, m, bg)  # IN-9 predictions
    fooled = [(matrix[i] != in9_label[i]).any() for i in range(len(in9_label))]
    assert [r["fooled"] for r in summary.doc["foregrounds"]] == fooled
    assert 0 < sum(fooled) < len(fooled)
    # reported predictions are folder indices; the absent class (IN-9 index 3) and classes outside the
    # nine are -1
    assert (matrix == 3).any()
    to_folder = {IN9_FOLDERS.index(f): i for i, f in enumerate(present)}
    bg_paths = sorted(str(p.relative_to(part)) for p in (part / "only_bg_t").rglob("*.JPEG"))
    for r in summary.doc["foregrounds"]:
        assert r["label"] == fg_folder[r["index"]]
        if r["fooled"]:
            in9_pred = int(matrix[r["index"], bg_paths.index(r["fooling_background"])])
            assert r["predicted"] == to_folder.get(in9_pred, -1)
