"""bgbench train --eval-data / --no-eval (a tree with only a train split, tested on another tree) and
--log tensorboard|mlflow|wandb, read back offline from what each tracker wrote."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import pytest

from bgbench.cli import main
from bgbench.config import CacheChoice
from bgbench.errors import BgbenchError
from bgbench.options import ModelOptions
from bgbench.training import EvalPlan, Recipe, TrainConfig, train

#: the Python form of SMALL's model options
SCRATCH_CPU = ModelOptions("timm:test_convnext", pretrained=False, device="cpu")


def _config(epochs: int = 1, **settings) -> TrainConfig:
    """SMALL's recipe and --no-cache as a TrainConfig, with ``settings`` (TrainConfig fields) on top."""
    return TrainConfig(recipe=Recipe(epochs=epochs, input_size=32), cache=CacheChoice(False), **settings)


SMALL = ["--model", "timm:test_convnext", "--scratch", "--epochs", "1", "--input-size", "32", "--batch-size",
         "16", "--device", "cpu", "--no-cache", "-q"]


@pytest.fixture(scope="module")
def train_only(synth_trainval, tmp_path_factory) -> Path:
    """The train split of synth_trainval alone (copies: symbolic links out of a tree are refused), as a
    tree built with only --split train."""
    import shutil

    root = tmp_path_factory.mktemp("train_only") / "tree"
    for variant in ("original", "fg_mask", "only_bg_t"):
        shutil.copytree(synth_trainval / variant / "train", root / variant / "train")
    return root


@pytest.mark.slow
def test_eval_data_scores_another_tree_and_records_it(train_only, synth_trainval, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(train_only), "--out", str(out), *SMALL]) == 2  # no val split: refused first
    err = capsys.readouterr().err
    assert "--eval-data" in err and len(err.strip().splitlines()) == 1 and not out.exists()
    assert main(["train", str(train_only), "--eval-data", str(synth_trainval), "--challenge",
                 "--out", str(out), *SMALL]) == 0
    assert f"evaluated on {synth_trainval.resolve()} (val)" in capsys.readouterr().out
    doc = json.loads((out / "train.json").read_text())
    assert doc["eval_data"] == str(synth_trainval.resolve())
    assert doc["data"]["root"] == str(train_only.resolve())
    assert doc["eval"]["data"]["root"] == str(synth_trainval.resolve())
    assert doc["eval"]["data"]["split"] == "val"
    results = json.loads((out / "eval" / "eval.json").read_text())
    assert results["data"]["root"] == str(synth_trainval.resolve())
    assert results["n"]["original"] == 27 and "mixed_rand" in results["accuracy"]
    assert doc["challenge"]["data"] == str(synth_trainval.resolve()) and (out / "challenge").is_dir()


def test_no_eval_trains_only_and_eval_data_classes_must_match(train_only, synth_trainval, tmp_path):
    out = tmp_path / "noeval"
    result = train(train_only, SCRATCH_CPU, _config(evaluation=EvalPlan(enabled=False)), out=out, quiet=True)
    assert result.doc["eval"] is None and result.doc["eval_data"] is None and not (out / "eval").exists()
    assert "not evaluated (--no-eval)" in str(result)
    assert (out / "model.safetensors").is_file() and len(result.history) == 1
    other = tmp_path / "fewer"  # a tree with two of the nine classes
    for name in ("00_dog", "01_bird"):
        (other / "original" / "val").mkdir(parents=True, exist_ok=True)
        (other / "original" / "val" / name).symlink_to(synth_trainval / "original" / "val" / name)
    with pytest.raises(BgbenchError, match="differ from the training classes"):
        train(train_only, SCRATCH_CPU, _config(evaluation=EvalPlan(data=other)), out=tmp_path / "x",
              quiet=True)
    assert not (tmp_path / "x").exists()


def _tensorboard_scalars(folder: Path) -> dict[str, list[float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {tag: [e.value for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def _mlflow_metrics(store: Path) -> dict[str, list[float]]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store.resolve().as_uri())
    (experiment,) = [e for e in client.search_experiments() if e.name == "bgbench"]
    (run,) = client.search_runs([experiment.experiment_id])
    return {name: [m.value for m in client.get_metric_history(run.info.run_id, name)]
            for name in run.data.metrics}


def _wandb_records(path: Path):
    """The protobuf records of an offline run's ``.wandb`` file (a LevelDB-style log: a 7-byte header,
    then 32 KiB blocks of records with a 7-byte header each: crc32c, length, type)."""
    raw, pos, block, part = path.read_bytes(), 7, 32768, b""
    assert raw[:4] == b":W&B"
    while pos + 7 <= len(raw):
        if block - pos % block < 7:  # a block's zero-filled trailer
            pos += block - pos % block
            continue
        length, kind = struct.unpack("<HB", raw[pos + 4:pos + 7])
        part, pos = part + raw[pos + 7:pos + 7 + length], pos + 7 + length
        if kind in (1, 4):  # a full record, or the last piece of one
            yield part
            part = b""


def _wandb_series(folder: Path) -> tuple[dict[str, list[float]], dict[str, float]]:
    """(metric -> values per logged step, the run's summary) read back from W&B's offline files."""
    from wandb.proto import wandb_internal_pb2 as pb

    (path,) = list(folder.glob("wandb/offline-run-*/*.wandb"))
    series: dict[str, list[float]] = {}
    summary: dict[str, float] = {}
    for data in _wandb_records(path):
        record = pb.Record()
        record.ParseFromString(data)
        kind = record.WhichOneof("record_type")
        if kind == "history":
            for item in record.history.item:
                name = item.key or "/".join(item.nested_key)
                series.setdefault(name, []).append(json.loads(item.value_json))
        elif kind == "summary":
            summary.update({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                            for item in record.summary.update})
    return series, summary


@pytest.mark.parametrize("kind", ["tensorboard", pytest.param("mlflow", marks=pytest.mark.slow),
                                  pytest.param("wandb", marks=pytest.mark.slow)])
def test_log_streams_training_and_the_final_eval(kind, synth_trainval, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    out = tmp_path / kind
    config = _config(epochs=2, evaluation=EvalPlan(variants="original,mixed_same,mixed_rand"), log=kind)
    result = train(synth_trainval, SCRATCH_CPU, config, out=out, quiet=True)
    if kind == "wandb":
        series, summary = _wandb_series(out)
        assert summary["eval/original"] == pytest.approx(result.accuracy["original"])
    elif kind == "tensorboard":
        series = _tensorboard_scalars(out / "tensorboard")
    else:
        series = _mlflow_metrics(out / "mlruns")
    assert series["train/loss"] == pytest.approx([h["loss"] for h in result.history])
    assert len(series["train/lr"]) == 2 and len(series["train/images_per_s"]) == 2
    assert series["eval/mixed_rand"] == pytest.approx([result.accuracy["mixed_rand"]])
    assert series["eval/bg_gap"] == pytest.approx([result.bg_gap])


def test_a_missing_tracker_is_one_line_naming_the_extra(synth_trainval, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if wandb were not installed
    out = tmp_path / "run"
    assert main(["train", str(synth_trainval), "--log", "wandb", "--out", str(out), *SMALL]) == 2
    err = capsys.readouterr().err.strip()
    assert "bgbench[wandb]" in err and len(err.splitlines()) == 1 and not out.exists()
    assert main(["train", str(synth_trainval), "--log", "neptune", "--out", str(out), *SMALL]) == 2
    assert "expected tensorboard, mlflow, wandb" in capsys.readouterr().err
