"""bgbench train's model flags mean what they mean everywhere: --arch is only a ckpt: file's
architecture (training from scratch is --model timm:NAME --scratch), --precision alone sets the
autocast (--no-amp and amp= are gone, with errors that name the new form), and scratch training
honours --precision, --preprocess and --device like every other mode."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from bgbench.classes import IN9_MEAN
from bgbench.cli import main
from bgbench.config import CacheChoice
from bgbench.errors import BgbenchError
from bgbench.options import ModelOptions
from bgbench.training import EvalPlan, Recipe, Swap, TrainConfig, train

SCRATCH = ["--model", "timm:test_resnet", "--scratch"]
REFUSED = [
    (["--arch", "test_resnet"], "to train test_resnet from scratch give --model timm:test_resnet --scratch"),
    ([*SCRATCH, "--no-amp"], "--no-amp is gone: training is fp32 unless --precision bf16 is given"),
    (["--model", "efficientnet_lite0", "--scratch"], "timm:NAME or torchvision:NAME architecture"),
    ([*SCRATCH, "--precision", "fp16"], "loss scaling"),
    ([*SCRATCH, "--weights", "w.safetensors"], "--scratch starts from random weights"),
]


@pytest.mark.parametrize(("args", "expected"), REFUSED, ids=["arch", "no-amp", "scratch-builtin", "fp16",
                                                             "scratch-weights"])
def test_old_and_impossible_train_flags_are_one_line_errors_before_any_output(
        synth_trainval, tmp_path, capsys, args, expected):
    out = tmp_path / "out"
    rc = main(["train", str(synth_trainval), "--out", str(out), "--device", "cpu", "-q", *args])
    err = capsys.readouterr().err
    assert rc == 2 and expected in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_the_library_refuses_the_old_arch_form_and_option_keywords(synth_trainval, tmp_path):
    new_form = re.escape("Python: train(data, ModelOptions('timm:test_resnet', pretrained=False), ...)")
    with pytest.raises(BgbenchError, match=new_form):
        train(synth_trainval, ModelOptions(arch="test_resnet"), out=tmp_path / "a")
    with pytest.raises(TypeError, match="amp"):  # model options live in ModelOptions, settings in TrainConfig
        train(synth_trainval, "timm:test_resnet", amp=False, out=tmp_path / "b")
    with pytest.raises(TypeError, match="device"):
        train(synth_trainval, "timm:test_resnet", device="cpu", out=tmp_path / "c")
    assert not any(tmp_path.iterdir())


BAD_CONFIGS = [
    (lambda: TrainConfig(swap=0.5), "TrainConfig.swap must be a Swap or None (Swap.of(p) from a probability"),
    (lambda: TrainConfig(swap=Swap.of(1.5)), "Swap.p must be a number in (0, 1], got 1.5"),
    (lambda: TrainConfig(swap=Swap(draws=0)), "Swap.draws must be a whole number of at least 1, got 0"),
    (lambda: TrainConfig(swap=Swap(classes="same")), "--swap-classes must be one of any, other, got 'same'"),
    (lambda: TrainConfig(recipe={"epochs": 1}), "TrainConfig.recipe must be a Recipe"),
    (lambda: TrainConfig(recipe=Recipe(epochs=0)), "Recipe.epochs"
     " must be a whole number of at least 1 (or None), got 0"),
    (lambda: TrainConfig(evaluation=EvalPlan(draws=0)), "EvalPlan.draws"
     " must be a whole number of at least 1 (or None), got 0"),
    (lambda: TrainConfig(evaluation="val"), "TrainConfig.evaluation must be an EvalPlan"),
    (lambda: TrainConfig(cache=False), "TrainConfig.cache must be a CacheChoice"),
    (lambda: TrainConfig(log="neptune"), "unknown --log 'neptune' (expected tensorboard, mlflow, wandb)"),
    (lambda: TrainConfig(seed=1.5), "TrainConfig.seed must be a whole number, got 1.5"),
    (lambda: TrainConfig(variant=""), "TrainConfig.variant must be a non-empty folder name"),
]


@pytest.mark.parametrize(("make", "expected"), BAD_CONFIGS)
def test_train_config_refuses_bad_settings_in_one_line(make, expected):
    with pytest.raises(BgbenchError) as info:
        make()
    assert expected in str(info.value) and len(str(info.value).splitlines()) == 1


def test_train_takes_a_train_config_and_a_spec_or_model_options_only(synth_trainval, tmp_path):
    from tests_helpers_api import tiny_classifier

    with pytest.raises(BgbenchError, match="config must be a TrainConfig, got dict"):
        train(synth_trainval, "timm:test_resnet", {"variant": "original"}, out=tmp_path / "a")
    with pytest.raises(BgbenchError, match="train needs a model spec or ModelOptions"):
        train(synth_trainval, tiny_classifier(), out=tmp_path / "b")
    assert not any(tmp_path.iterdir())
    config = TrainConfig(swap=Swap.of(0.5))
    assert config.swap == Swap(p=0.5) and TrainConfig(swap=Swap.of(0)).swap is None
    assert config.cache == CacheChoice() and config.recipe == Recipe() and config.evaluation == EvalPlan()


def _scratch_run(data: Path, out: Path, precision: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    args = ["train", str(data), *SCRATCH, "--precision", precision, "--preprocess", "in9", "--device", "cpu",
            "--epochs", "1", "--input-size", "32", "--batch-size", "16", "--eval-variants", "original",
            "--no-cache", "-q", "--out", str(out)]
    assert main(args) == 0
    return load_file(str(out / "model.safetensors"))


def test_scratch_training_honours_precision_preprocess_and_device(synth_trainval, tmp_path):
    weights = {}
    for precision in ("fp32", "bf16"):
        out = tmp_path / precision
        weights[precision] = _scratch_run(synth_trainval, out, precision)
        doc = json.loads((out / "train.json").read_text())
        assert doc["precision"] == precision and doc["model"]["precision"] == precision
        assert doc["model"]["pretrained"] is False and doc["model"]["device"] == "cpu"
        assert doc["arch"] == "test_resnet" and doc["model"]["spec"] == "timm:test_resnet"
        side = json.loads((out / "model.json").read_text())
        assert side["preprocessing"]["mean"] == pytest.approx(list(IN9_MEAN))  # --preprocess in9 applied
        info = json.loads((out / "eval" / "eval.json").read_text())["model_info"]
        assert info["precision"] == precision and info["device"] == "cpu"  # the evaluation ran at it too
    # bf16 autocast on the CPU changes the training steps (it is honoured, not dropped)
    changed = [k for k in weights["fp32"] if not torch.equal(weights["fp32"][k], weights["bf16"][k])]
    assert changed and all(weights["bf16"][k].dtype == torch.float32 for k in changed)


def test_head_only_features_run_at_the_precision_and_are_cached_apart(synth_trainval, tmp_path):
    from bgbench.training.data import load_train_data
    from bgbench.training.head import train_features
    from bgbench.training.network import make_network

    data = load_train_data(synth_trainval, "original", "train", cache=False, quiet=True)
    cache, feats = tmp_path / "features", {}
    for precision in ("fp32", "bf16"):
        options = ModelOptions("timm:test_resnet", pretrained=False, precision=precision)
        net = make_network(options, 9, torch.device("cpu"), seed=2)
        feats[precision], _ = train_features(net, data, swap=None, seed=0, cache_dir=cache, quiet=True)
    a, b = feats["fp32"].astype(np.float64), feats["bf16"].astype(np.float64)
    assert not np.array_equal(a, b) and len(list(cache.glob("features-*.npy"))) == 2
    assert np.linalg.norm(a - b) / np.linalg.norm(a) < 0.05  # the same network, rounded to bf16
