"""``bgbench sweep`` on a tiny synth build with tiny TorchScript models in files (so they have a
weights sha256): the table files against each model's own results, resuming (nothing runs
again; a changed weights file or dataset runs again), a killed CLI run resumed, Ray, bad models files."""

from __future__ import annotations

import csv
import inspect
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
import torch
from PIL import Image

import bgbench
from bgbench.cli import main as cli_main
from bgbench.config import CacheChoice
from bgbench.errors import BgbenchError
from bgbench.options import ModelOptions
from bgbench.results import load_results
from bgbench.stats import spearman
from bgbench.sweeps import SweepConfig, SweepResult, challenge_outcome, models_toml, read_models_toml, sweep

REPO = Path(__file__).resolve().parents[1]
TOP1 = {"r0": 50.0, "r1": 60.0, "r2": 70.0}


class TinyNet(torch.nn.Module):
    """A 9-class CNN small enough to score a synth tree in a blink (predictions vary by image)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 16, 5, stride=4)
        self.fc = torch.nn.Linear(16, 9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 50.0 * self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def save_model(path: Path, seed: int) -> Path:
    """A TorchScript file of a random TinyNet (the file's sha256 identifies the model)."""
    torch.manual_seed(seed)
    torch.jit.script(TinyNet()).save(str(path))
    return path


def write_models(folder: Path, challenge: str | None = "r1") -> Path:
    """models.toml with r0, r1, r2 (m0/m1/m2.pt beside it, paths relative to the file)."""
    lines = []
    for i, name in enumerate(TOP1):
        if not (folder / f"m{i}.pt").exists():
            save_model(folder / f"m{i}.pt", seed=i)
        lines += ["[[model]]", f'name = "{name}"', f'spec = "torchscript:m{i}.pt"',
                  f"imagenet_top1 = {TOP1[name]}"]
        if name == challenge:
            lines.append("challenge = true")
        lines.append("")
    path = folder / "models.toml"
    path.write_text("\n".join(lines))
    return path


def subfolder(parent: Path, name: str) -> Path:
    (parent / name).mkdir(exist_ok=True)
    return parent / name


def run(models, data, out, cache, **settings) -> SweepResult:
    """The sweep on the CPU with ``cache`` and 200 bootstrap resamples; ``settings``: more
    :class:`SweepConfig` fields."""
    config = SweepConfig(cache=CacheChoice(cache_dir=cache), n_boot=200, options=ModelOptions(device="cpu"),
                         **settings)
    return sweep(models, data, config, out=out, quiet=True)


def resumed(result: SweepResult) -> dict[str, bool]:
    return {m["name"]: m["timing"]["resumed"] for m in result.models}


def without_timing(doc):
    """A sweep.json document without the fields that depend on when, how fast and from which command
    line it ran."""
    if isinstance(doc, dict):
        return {k: without_timing(v) for k, v in doc.items() if k not in ("timing", "created", "command")}
    if isinstance(doc, list):
        return [without_timing(v) for v in doc]
    return doc


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sweep_models")


def check_against_results(result: SweepResult, out: Path) -> None:
    """sweep.json, sweep.csv and sweep.md agree with each model's own eval.json."""
    on_disk = json.loads((out / "sweep.json").read_text())
    assert on_disk == result.to_json() and on_disk["schema"] == "bgbench.sweep/1"
    with open(out / "sweep.csv", newline="") as handle:
        csv_rows = {r["model"]: r for r in csv.DictReader(handle)}
    md = (out / "sweep.md").read_text()
    for row in result.models:
        doc = json.loads((out / row["results"] / "eval.json").read_text())
        assert row["accuracy"] == doc["accuracy"] and row["n"] == doc["n"]
        assert row["accuracy_ci95"] == doc["accuracy_ci95"]
        assert row["bg_gap"] == doc["bg_gap"] and row["bg_gap_ci95"] == doc["bg_gap_ci95"]
        assert row["imagenet_top1"] == TOP1[row["name"]]
        assert row["weights_sha256"] == doc["model_info"]["weights_sha256"]
        line = csv_rows[row["name"]]
        for variant, value in doc["accuracy"].items():
            assert float(line[variant]) == pytest.approx(value, abs=1e-6)
            assert int(line[f"{variant}_n"]) == doc["n"][variant]
        assert float(line["bg_gap"]) == pytest.approx(doc["bg_gap"], abs=1e-6)
        cells = [f"{100 * doc['accuracy']['original']:.1f}", f"{100 * doc['bg_gap']:+.1f}"]
        assert any(line.startswith(f"| {row['name']} |") and all(c in line for c in cells)
                   for line in md.splitlines())
    # the trend is Spearman of imagenet_top1 against each variant and the BG-Gap, over the models
    trend = result.trend
    assert trend["models"] == list(TOP1) and set(trend["spearman"]) >= {"original", "mixed_rand", "bg_gap"}
    x = [m["imagenet_top1"] for m in result.models]
    y = [m["accuracy"]["mixed_rand"] for m in result.models]
    rho = trend["spearman"]["mixed_rand"]["value"]
    assert rho == pytest.approx(spearman(x, y)) if len(set(y)) > 1 else rho is None


def test_sweep_table_matches_results_and_resumes_by_the_library_key(synth_built, models_dir, tmp_path):
    models = write_models(models_dir)
    out, cache = tmp_path / "out", tmp_path / "cache"
    first = run(models, synth_built, out, cache)
    assert first.names == ["r0", "r1", "r2"] and not any(resumed(first).values())
    check_against_results(first, out)
    # the challenge ran for r1 only (its own flag), its row agrees with its challenge.json
    assert [m.get("challenge_accuracy") is not None for m in first.models] == [False, True, False]
    r1 = first.row("r1")
    challenge = json.loads((out / "r1" / "challenge" / "challenge.json").read_text())
    assert r1["challenge_accuracy"] == pytest.approx(challenge["challenge_accuracy"])
    assert r1["challenge_n"] == challenge["n_foregrounds"] and r1["challenge_shard"] is None
    # typed result: load_results reads the folder or the file back; a short summary; a notebook table
    loaded = load_results(out)
    assert isinstance(loaded, SweepResult) and loaded.to_json() == first.to_json()
    assert len(str(first).splitlines()) < 12 and "r1" in str(first) and "<table>" in first._repr_html_()

    # rerun: every model and the challenge are reused, no inference runs, the same table comes out
    again = run(models, synth_built, out, cache)
    assert all(resumed(again).values()) and again.row("r1")["timing"]["challenge_resumed"]
    for name in TOP1:
        timing = json.loads((out / name / "eval.json").read_text())["timing"]["variants"]
        assert all(v["resumed"] for v in timing.values())
    assert without_timing(again.to_json()) == without_timing(first.to_json())

    # a changed weights file re-runs that model (and its challenge), only that one
    save_model(models_dir / "m1.pt", seed=7)
    changed = run(models, synth_built, out, cache)
    assert resumed(changed) == {"r0": True, "r1": False, "r2": True}
    assert not changed.row("r1")["timing"]["challenge_resumed"]
    assert changed.row("r1")["weights_sha256"] != first.row("r1")["weights_sha256"]
    check_against_results(changed, out)

    # a changed dataset re-runs every model (the changed variant) and the challenge
    data = tmp_path / "data"
    shutil.copytree(synth_built, data)
    image = sorted((data / "original" / "val").rglob("*.JPEG"))[0]
    pixels = np.asarray(Image.open(image)).copy()
    pixels[:16, :16] = 255 - pixels[:16, :16]
    Image.fromarray(pixels).save(image, quality=95)
    moved = run(models, data, out, cache)
    assert not any(resumed(moved).values()) and not moved.row("r1")["timing"]["challenge_resumed"]
    for name in TOP1:
        timing = json.loads((out / name / "eval.json").read_text())["timing"]["variants"]
        assert not timing["original"]["resumed"] and timing["mixed_rand"]["resumed"]
    assert moved.doc["data"]["fingerprint"] != first.doc["data"]["fingerprint"]


def test_challenge_shards_are_pooled_then_merged(synth_built, models_dir, tmp_path):
    model = save_model(tmp_path / "m.pt", 0)
    models = [{"name": "r0", "spec": f"torchscript:{model}", "imagenet_top1": 50.0}]
    out, cache = tmp_path / "out", tmp_path / "cache"
    half = run(models, synth_built, out, cache, challenge=True, challenge_shard="0/2",
               variants="original,only_bg_t")
    row = half.row("r0")
    assert row["challenge_shard"] == "0/2" and row["challenge_n"] == 14  # foregrounds 0, 2, ..., 26
    assert half.doc["variants"] == ["original", "only_bg_t"] and row["bg_gap"] is None
    whole = run(models, synth_built, out, cache, challenge=True, challenge_shard="1/2",
                variants="original,only_bg_t")
    row = whole.row("r0")
    assert row["challenge_shard"] is None and row["challenge_n"] == 27  # merged by merge_shards
    merged = challenge_outcome(out / "r0" / "challenge")
    assert merged.files == [out / "r0" / "challenge" / "challenge.json"]
    assert row["challenge_fooled"] == merged.fooled


def test_killed_cli_sweep_resumes_to_the_uninterrupted_result(synth_built, models_dir, tmp_path):
    models = write_models(subfolder(models_dir, "kill"), challenge=None)
    cache = tmp_path / "cache"
    reference = run(models, synth_built, tmp_path / "reference", cache)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "bgbench", "sweep", str(models), str(synth_built), "--out", str(out),
               "--device", "cpu", "--cache-dir", str(cache), "--n-boot", "200", "-q"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (out / "r0" / "eval.json").exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the first model never finished"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL and not (out / "sweep.json").exists()
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    doc = json.loads((out / "sweep.json").read_text())
    assert without_timing(doc) == without_timing(reference.to_json())
    assert doc["models"][0]["timing"]["resumed"]  # r0 was done before the kill: no inference again
    assert "r0" in finished.stdout and "BG-Gap" in finished.stdout


@pytest.mark.slow
def test_ray_executor_gives_the_serial_table(synth_built, models_dir, tmp_path):
    ray = pytest.importorskip("ray")
    models = write_models(subfolder(models_dir, "ray"), challenge=None)
    cache = tmp_path / "cache"
    serial = run(models, synth_built, tmp_path / "serial", cache)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = run(models, synth_built, tmp_path / "ray", cache, executor="ray", workers=2)
    finally:
        ray.shutdown()
    assert on_ray.text_table() == serial.text_table()
    assert without_timing(on_ray.to_json()) == without_timing(serial.to_json())
    assert on_ray.doc["timing"]["executor"] == "ray"


@pytest.mark.parametrize("content, message", [
    ('[[model]]\nname = "a"\n', "model #1 needs a spec"),
    ('[[model]]\nspec = "efficientnet_lite0"\ncolour = "red"\n', "unknown key(s) colour"),
    ("[[model]\nspec = 1\n", "not valid TOML"),
    ('[[model]]\nspec = "efficientnet_lite0"\n[[model]]\nspec = "efficientnet_lite0"\n', "already used"),
    ('[[model]]\nspec = "efficientnet_lite0"\nmap_rule = "best"\n', "unknown --map rule"),
    ('[[model]]\nspec = "efficientnet_lite0"\nimagenet_top1 = 120\n', "imagenet_top1 must be a percentage"),
    (None, "models file not found"),
])
def test_bad_models_file_is_one_line_error_and_writes_nothing(synth_built, tmp_path, capsys, content,
                                                              message):
    path = tmp_path / "models.toml"
    if content is not None:
        path.write_text(content)
    out = tmp_path / "out"
    assert cli_main(["sweep", str(path), str(synth_built), "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err and message in err, err
    assert not out.exists()
    with pytest.raises(BgbenchError, match="models file"):
        read_models_toml(tmp_path / "absent.toml")


def test_models_file_round_trip_and_zoo_toml(tmp_path, capsys):
    entries = [{"spec": "efficientnet_lite0", "imagenet_top1": 75.1},
               {"name": "b", "spec": "tflite:m/b.tflite", "map_rule": "restricted", "challenge": False,
                "notes": 'say "hi"'}]
    (tmp_path / "m").mkdir()
    path = tmp_path / "m" / "models.toml"
    from bgbench.sweeps import sweep_models

    models = sweep_models(entries)
    path.write_text(models_toml(models))
    back = read_models_toml(path)
    assert [m.name for m in back] == ["efficientnet_lite0", "b"] and back[0].imagenet_top1 == 75.1
    assert back[1].overrides == {"map_rule": "restricted"} and back[1].challenge is False
    assert back[1].notes == 'say "hi"' and back[1].spec == f"tflite:{tmp_path / 'm' / 'm' / 'b.tflite'}"
    assert back[1].options().map_rule == "restricted"
    # bgbench models --toml: the runnable zoo (built-ins, real-data models found) as a models file
    zoo = tmp_path / "zoo.toml"
    assert cli_main(["models", "--toml", str(zoo)]) == 0
    capsys.readouterr()
    written = {m.name: m for m in read_models_toml(zoo)}
    assert written["efficientnet_lite0"].imagenet_top1 == 75.1
    assert not any(":NAME" in m.spec or ":FILE" in m.spec for m in written.values())


def test_public_api_sweep_is_a_plain_function(synth_built, tmp_path):
    assert bgbench.sweep is sweep and bgbench.SweepResult is SweepResult
    params = inspect.signature(bgbench.sweep).parameters
    assert list(params) == ["models", "data", "config", "out", "quiet"]
    out = params["out"]
    assert out.kind is inspect.Parameter.KEYWORD_ONLY and out.default is inspect.Parameter.empty
    with pytest.raises(BgbenchError, match="variant 'nope' not found"):
        sweep(["efficientnet_lite0"], synth_built, SweepConfig(variants="nope"), out=tmp_path / "o")
    with pytest.raises(BgbenchError, match="config must be a SweepConfig, got EvalConfig"):
        sweep(["efficientnet_lite0"], synth_built, bgbench.EvalConfig(), out=tmp_path / "o")
    with pytest.raises(BgbenchError, match=r"absent.onnx: model 'absent' \(onnx:.*\): file not found"):
        sweep([f"onnx:{tmp_path / 'absent.onnx'}"], synth_built, out=tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_sweep_config_checks_every_setting_in_one_line_and_shares_the_model_options():
    """SweepConfig normalises the shard and the variant list, refuses bad settings before any work,
    and its ``options`` are every model's base: a model's own fields win (the former
    ``**model_options``)."""
    from bgbench.sweeps.config import parse_entry

    config = SweepConfig(challenge_shard="1/4", variants="original, mixed_rand", batch_size=8,
                         options=ModelOptions(device="cpu", precision="bf16", map_rule="sum"))
    assert config.challenge_shard == (1, 4) and config.variants == ("original", "mixed_rand")
    assert config.eval_config() == bgbench.EvalConfig(variants=("original", "mixed_rand"), batch_size=8)
    doc = config.to_json()
    assert doc["challenge_shard"] == [1, 4] and doc["options"]["precision"] == "bf16"
    json.dumps(doc)
    entry = parse_entry({"spec": "timm:test_resnet", "map_rule": "restricted"}, "models[0]")
    opts = entry.options(config.options)
    assert (opts.spec, opts.device, opts.precision, opts.map_rule) == ("timm:test_resnet", "cpu", "bf16",
                                                                        "restricted")
    bad = {"unknown --executor 'dask' (expected serial or ray)": {"executor": "dask"},
           "--workers 2 runs 2 tasks at once and --executor serial runs one": {"workers": 2},
           "SweepConfig.workers must be a whole number of at least 1 (or None), got 0": {"workers": 0},
           "SweepConfig.n_boot must be a whole number of at least 1, got 0": {"n_boot": 0},
           "need 0 <= i < n": {"challenge_shard": "4/4"},
           "must look like i/n": {"challenge_shard": "half"},
           "SweepConfig.batch_size must be a whole number of at least 1, got 0": {"batch_size": 0},
           "--variants names no variant": {"variants": ","},
           "challenge must be true or false": {"challenge": "yes"},
           "SweepConfig.seed must be a whole number, got 1.5": {"seed": 1.5},
           "options must be a ModelOptions": {"options": {"device": "cpu"}}}
    for message, fields in bad.items():
        with pytest.raises(BgbenchError, match=re.escape(message)) as info:
            SweepConfig(**fields)
        assert "\n" not in str(info.value)


def test_collect_refuses_a_model_folder_with_only_an_earlier_results_json(synth_built, models_dir, tmp_path):
    """A sweep folder from an earlier bgbench (each model's results.json) is a one-line rename error
    for the table, not a model silently left out."""
    models, out = write_models(models_dir, challenge=None), tmp_path / "out"
    run(models, synth_built, out, tmp_path / "cache", variants="original")
    (out / "r1" / "eval.json").rename(out / "r1" / "results.json")
    from bgbench.sweeps import collect

    with pytest.raises(BgbenchError, match="results.json is an earlier bgbench's eval output; rename it to "
                                           "eval.json") as info:
        collect(models, out, n_boot=10)
    assert str(info.value).startswith(f"{out / 'r1' / 'results.json'}: ")
