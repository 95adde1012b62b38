"""bgbench train: resume after SIGKILL, checkpoint round trip through eval ckpt:, head-only with
cached features and swap draws, and bad data refused before any output."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bgbench.cli import main
from bgbench.config import CacheChoice
from bgbench.errors import BgbenchError
from bgbench.options import ModelOptions
from bgbench.training import EvalPlan, Recipe, Swap, TrainConfig, train
from procutil import kill_when

FULL_ARGS = [
    "--model",
    "timm:test_resnet",
    "--scratch",
    "--epochs",
    "4",
    "--input-size",
    "32",
    "--batch-size",
    "16",
    "--swap",
    "0.5",
    "--device",
    "cpu",
    "--seed",
    "3",
    "-q",
    "--no-cache",
]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "BGBENCH_PROGRESS": "0"}


def _train_cli(data: Path, out: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "bgbench", "train", str(data), "--out", str(out), *FULL_ARGS]
    return subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_resume_after_sigkill_gives_the_same_final_weights(synth_trainval, tmp_path):
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    done = _train_cli(synth_trainval, whole)
    assert done.returncode == 0, done.stderr[-2000:]
    key = resumed / "state" / "key.json"

    def one_epoch_saved() -> bool:
        try:
            return json.loads(key.read_text())["epoch"] >= 1
        except (OSError, ValueError, KeyError):
            return False

    kill_when(
        [sys.executable, "-m", "bgbench", "train", str(synth_trainval), "--out", str(resumed), *FULL_ARGS],
        _env(),
        one_epoch_saved,
        timeout=300,
    )
    assert not (resumed / "model.safetensors").exists()
    again = _train_cli(synth_trainval, resumed)
    assert again.returncode == 0, again.stderr[-2000:]
    assert (whole / "model.safetensors").read_bytes() == (resumed / "model.safetensors").read_bytes()
    history = json.loads((resumed / "train.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]


def test_checkpoint_round_trips_through_eval_ckpt(synth_trainval, tmp_path):
    out = tmp_path / "run"
    result = train(synth_trainval, ModelOptions("timm:test_resnet", pretrained=False, device="cpu"),
                   TrainConfig(recipe=Recipe(epochs=1, input_size=32), cache=CacheChoice(False)),
                   out=out, quiet=True)
    side = json.loads((out / "model.json").read_text())
    assert side["schema"] == "bgbench.model/1" and side["arch"] == "test_resnet" and side["num_classes"] == 9
    assert side["classes"][0] == "00_dog" and side["preprocessing"]["input_size"] == 32
    assert len(result.history) == 1 and set(result.accuracy) >= {"original", "mixed_rand"}
    assert (
        main(
            [
                "eval",
                str(synth_trainval),
                "--model",
                f"ckpt:{out / 'model.safetensors'}",
                "--out",
                str(tmp_path / "ev"),
                "--device",
                "cpu",
                "--no-cache",
                "-q",
            ]
        )
        == 0
    )
    again = json.loads((tmp_path / "ev" / "eval.json").read_text())
    first = json.loads((out / "eval" / "eval.json").read_text())
    assert again["accuracy"] == first["accuracy"]
    assert again["predictions"]["original"]["pred"] == first["predictions"]["original"]["pred"]
    assert again["model_info"]["sidecar"]["variant"] == "original"


def test_head_only_with_swap_draws_caches_features_and_is_deterministic(synth_trainval, tmp_path):
    import torch

    from bgbench.training.data import load_train_data
    from bgbench.training.head import train_features
    from bgbench.training.network import make_network

    data = load_train_data(synth_trainval, "original", "train", swap=True, cache=False, quiet=True)
    swap = {"p": 1.0, "classes": "other", "draws": 3, "scale": [1.0, 1.0], "translate": 0.0}
    net = make_network(ModelOptions("timm:test_resnet", pretrained=False), 9, torch.device("cpu"))
    cache = tmp_path / "features"
    feats, labels = train_features(net, data, swap=swap, seed=5, cache_dir=cache, quiet=True)
    assert feats.shape[0] == labels.shape[0] == 3 * len(data.labels) and feats.dtype == np.float32
    assert len(list(cache.glob("features-*.npy"))) == 1
    again, _ = train_features(net, data, swap=swap, seed=5, cache_dir=None, quiet=True)
    assert np.array_equal(feats, again)  # seeded draws: the cache holds what a recompute gives
    other, _ = train_features(net, data, swap=swap, seed=6, cache_dir=cache, quiet=True)
    assert not np.array_equal(feats, other) and len(list(cache.glob("features-*.npy"))) == 2
    config = TrainConfig(head_only=True, swap=Swap(p=1.0, draws=2), recipe=Recipe(epochs=3, input_size=32),
                         cache=CacheChoice(False))
    result = train(synth_trainval, ModelOptions("timm:test_resnet", pretrained=False, device="cpu"), config,
                   out=tmp_path / "head", quiet=True)
    assert result.doc["mode"] == "head-only" and len(result.history) == 3


def _one_class_tree(root: Path, source: Path) -> Path:
    for variant in ("original", "fg_mask", "only_bg_t"):
        for split in ("train", "val"):
            folder = source / variant / split / "00_dog"
            if folder.is_dir():
                shutil.copytree(folder, root / variant / split / "00_dog")
    return root


@pytest.mark.parametrize("case", ["no_train_split", "one_class", "no_masks"])
def test_bad_data_is_one_line_error_before_any_output(synth_trainval, tmp_path, capsys, case):
    data = tmp_path / "data"
    if case == "no_train_split":
        shutil.copytree(synth_trainval / "original" / "val", data / "original" / "val")
        args, expected = [], "no train split"
    elif case == "one_class":
        _one_class_tree(data, synth_trainval)
        args, expected = [], "at least two"
    else:
        shutil.copytree(synth_trainval / "original", data / "original")
        shutil.copytree(synth_trainval / "only_bg_t", data / "only_bg_t")
        args, expected = ["--swap", "0.5"], "fg_mask"
    out = tmp_path / "out"
    rc = main(
        ["train", str(data), "--model", "timm:test_resnet", "--scratch", "--out", str(out), "--device", "cpu",
         "-q", *args]
    )
    err = capsys.readouterr().err
    assert rc == 2 and expected in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    with pytest.raises(BgbenchError, match=re.escape("Swap.p must be a number in (0, 1], got 2.0")):
        train(data, ModelOptions("timm:test_resnet", pretrained=False), TrainConfig(swap=Swap.of(2.0)),
              out=out)


def test_shrink_train_data_resizes_images_masks_and_bank_once():
    from bgbench.training.crops import working_size
    from bgbench.training.data import TrainData, shrink_train_data

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 96, 96, 3), dtype=np.uint8)
    masks = np.zeros((5, 96, 96), np.uint8)
    masks[:, 24:72, 24:72] = 1  # a centred square, half the side
    data = TrainData(images, np.arange(5) % 2, [f"{i}.png" for i in range(5)], ["a", "b"], "fp",
                     masks=masks, bank=images[:3].copy(), bank_labels=np.array([0, 1, 0]))
    assert working_size(64, (1.0, 1.0)) == 64 and working_size(64, (0.25, 1.0)) == 128
    small = shrink_train_data(data, 32)
    assert small.images.shape == (5, 32, 32, 3) and small.images.dtype == np.uint8
    assert small.bank.shape == (3, 32, 32, 3) and small.masks.shape == (5, 32, 32)
    assert set(np.unique(small.masks)) == {0, 1} and small.masks[:, 8:24, 8:24].all()
    assert small.masks.sum() == 5 * 16 * 16  # the square maps exactly onto 16 x 16 pixels
    # the antialiased shrink averages: a constant image stays that constant
    flat = TrainData(np.full((2, 64, 64, 3), 77, np.uint8), np.array([0, 1]), ["x", "y"], ["a", "b"], "fp")
    assert (shrink_train_data(flat, 16).images == 77).all()
    assert shrink_train_data(data, 128) is data  # nothing larger: unchanged, no copy


def test_a_fine_tuned_python_model_reloads_from_its_checkpoint_alone(synth_trainval, tmp_path):
    """A ``python:MOD:FN`` network (the demo's small CNN) records its spec as the checkpoint's arch,
    so ``ckpt:`` rebuilds it with no other option and gives the trained model's outputs."""
    import torch

    from bgbench import create_classifier

    out = tmp_path / "py"
    config = TrainConfig(recipe=Recipe(epochs=1, input_size=32), cache=CacheChoice(False),
                         evaluation=EvalPlan(variants="original"))
    train(synth_trainval, ModelOptions("python:bgbench.smallcnn:small_cnn", device="cpu"), config, out=out,
          quiet=True)
    assert json.loads((out / "model.json").read_text())["arch"] == "python:bgbench.smallcnn:small_cnn"
    clf = create_classifier(f"ckpt:{out / 'model.safetensors'}", device="cpu")
    from safetensors.torch import load_file

    state = load_file(out / "model.safetensors")
    assert all(torch.equal(clf.module.state_dict()[k], v) for k, v in state.items())
    assert clf.preprocessing.input_size == 32 and clf.num_outputs == 9
