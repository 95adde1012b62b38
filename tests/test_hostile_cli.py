"""Hostile and careless inputs to every command's result files, configs and options.

Each case runs the real command line (``bgbench.cli.main``) on a generated bad input and asserts the
exact behaviour: exit status 2, one line on stderr that starts with ``error:`` and names the file
(when there is one) and the problem, no traceback, and nothing written as if complete. The Ctrl-C and
missing-runtime cases run ``python -m bgbench`` in a subprocess so that the real signal and import
paths run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from bgbench.challenge import ChallengeConfig, run_challenge
from bgbench.cli import main
from bgbench.config import CacheChoice
from bgbench.eval import EvalConfig, evaluate
from bgbench.options import ModelOptions

REPO = Path(__file__).resolve().parents[1]


class TinyNet(torch.nn.Module):
    """A 9-class CNN that scores a small tree in a blink."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 5, stride=4)
        self.fc = torch.nn.Linear(8, 9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 50.0 * self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


@pytest.fixture(scope="module")
def made(synth_built: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A TorchScript model, its eval.json, a challenge.json and two finished shards."""
    base = tmp_path_factory.mktemp("hostile")
    torch.manual_seed(0)
    model = base / "tiny.pt"
    torch.jit.script(TinyNet()).save(str(model))
    spec = f"torchscript:{model}"
    evaluate(synth_built, ModelOptions.of(spec, device="cpu"),
             EvalConfig(variants="original,mixed_same,mixed_rand", cache=CacheChoice(cache=False)),
             out=base / "eval", quiet=True)
    cpu, no_cache = ModelOptions.of(spec, device="cpu"), ChallengeConfig(cache=CacheChoice(cache=False))
    run_challenge(synth_built, cpu, no_cache, out=base / "challenge", quiet=True)
    for i in range(2):
        run_challenge(synth_built, cpu, replace(no_cache, shard=f"{i}/2"), out=base / f"shard-{i}",
                      quiet=True)
    return {"data": synth_built, "model": model, "eval": base / "eval" / "eval.json",
            "challenge": base / "challenge" / "challenge.json", "shard0": base / "shard-0",
            "shard1": base / "shard-1"}


def fails(argv: list[str], capsys: pytest.CaptureFixture, *fragments: str) -> str:
    """Run the CLI; assert exit 2 and one ``error:`` line holding every fragment; return the line."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert str(fragment) in lines[0], (fragment, lines[0])
    return lines[0]


def edited(doc: dict, **changes) -> dict:
    """A copy of ``doc`` with ``changes`` (a value of ``...`` deletes the key)."""
    out = dict(doc)
    for key, value in changes.items():
        if value is ...:
            out.pop(key)
        else:
            out[key] = value
    return out


# ----------------------------------------------------------------------------- result files (report)
def _eval_doc(made) -> dict:
    return json.loads(made["eval"].read_text())


BAD_RESULT_TEXT = {
    "not_utf8": (b'{"schema": "bgbench.eval/1", "model": "\xff\xfe"}', "not UTF-8 text (bad byte at offset"),
    "empty": (b"", "not valid JSON (line 1, column 1"),
    "truncated": (b'{"schema": "bgbench.eval/1", "accur', "not valid JSON"),
    "deep": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "array": (b"[1, 2, 3]", "the JSON is not an object"),
    "nan": (b'{"schema": "bgbench.eval/1", "bg_gap": NaN}', "NaN is not a JSON number"),
    "infinity": (b'{"schema": "bgbench.eval/1", "bg_gap": -Infinity}', "-Infinity is not a JSON number"),
    "huge_int": (b'{"schema": "bgbench.eval/1", "batch_size": 1' + b"0" * 5000 + b"}",
                 "a number is too long"),
}


@pytest.mark.parametrize("case", sorted(BAD_RESULT_TEXT))
def test_report_refuses_unreadable_result_text(case, tmp_path, capsys):
    data, fragment = BAD_RESULT_TEXT[case]
    path = tmp_path / "eval.json"
    path.write_bytes(data)
    fails(["report", path, "-o", tmp_path / "r.html", "-q"], capsys, path, fragment)
    assert not (tmp_path / "r.html").exists()


def test_report_refuses_huge_float_as_infinity(made, tmp_path, capsys):
    path = tmp_path / "eval.json"
    path.write_text(json.dumps(_eval_doc(made)).replace('"schema"', '"x": 1e999, "schema"', 1))
    fails(["report", path, "-o", tmp_path / "r.html"], capsys, path,
          "1e999 is too large (it would read as Infinity")


@pytest.mark.parametrize(("change", "fragment"), [
    ({"accuracy": ...}, "missing key accuracy"),
    ({"accuracy": "high"}, "accuracy should be dict, not str"),
    ({"data": ...}, "missing key data"),
    ({"data": [1, 2]}, "data should be dict, not list"),
    ({"class_names": 9}, "class_names should be list, not int"),
    ({"predictions": ...}, "has no 'predictions'"),
    ({"map_rule": 3}, "map_rule should be str, not int"),
    ({"schema": "bgbench.eval/99"}, "schema bgbench.eval/99 is newer than this bgbench reads"),
    ({"schema": "bgbench.nonsense/1"}, "unknown result kind 'nonsense'"),
    ({"bg_gap_ci95": "wide"}, "not a valid eval result"),
    ({"predictions": {"original": {"path": []}}}, "not a valid eval result (missing key"),
])
def test_report_names_the_result_file_and_its_wrong_field(made, tmp_path, capsys, change, fragment):
    path = tmp_path / "eval.json"
    path.write_text(json.dumps(edited(_eval_doc(made), **change)))
    fails(["report", path, "-o", tmp_path / "r.html"], capsys, path, fragment)
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "r.md").exists()


def test_report_names_the_bad_challenge_among_good_results(made, tmp_path, capsys):
    bad = tmp_path / "bad" / "challenge.json"
    bad.parent.mkdir()
    bad.write_text(json.dumps(edited(json.loads(made["challenge"].read_text()), foregrounds="none")))
    fails(["report", made["eval"], bad, "-o", tmp_path / "r.html"], capsys, bad,
          "not a valid challenge result")


def test_report_refuses_a_results_file_that_is_a_directory(tmp_path, capsys):
    (tmp_path / "eval.json").mkdir()
    fails(["report", tmp_path / "eval.json", "-o", tmp_path / "r.html"], capsys, "eval.json",
          "no bgbench result in this folder")


def test_report_refuses_a_symlink_loop(tmp_path, capsys):
    loop = tmp_path / "eval.json"
    loop.symlink_to(loop)
    fails(["report", loop, "-o", tmp_path / "r.html"], capsys, loop, "symlink loop")


def test_load_results_is_one_error_for_a_directory_loop(tmp_path):
    from bgbench.errors import BgbenchError
    from bgbench.results import load_results

    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(BgbenchError, match="symlink loop"):
        load_results(tmp_path / "a")


# ----------------------------------------------------------------------------- challenge --merge inputs
def _shards(made, tmp_path: Path, **change) -> list[Path]:
    """Copies of the two shard folders, shard 0's challenge.json changed by ``change``."""
    folders = []
    for i in range(2):
        folder = tmp_path / f"s{i}"
        shutil.copytree(made[f"shard{i}"], folder)
        folders.append(folder)
    path = folders[0] / "challenge.json"
    doc = json.loads(path.read_text())
    for key, value in change.items():
        if key.startswith("fg_"):
            record = doc["foregrounds"][0]
            if value is ...:
                record.pop(key[3:])
            else:
                record[key[3:]] = value
        elif value is ...:
            doc.pop(key)
        else:
            doc[key] = value
    path.write_text(json.dumps(doc))
    return folders


def merge_argv(made, folders, out) -> list:
    return ["challenge", made["data"], "--merge", folders[0], "--merge", folders[1], "--out", out, "-q"]


@pytest.mark.parametrize(("change", "fragment"), [
    ({"config": ...}, "missing key config"),
    ({"config": "full"}, "config should be dict, not str"),
    ({"foregrounds": {"a": 1}}, "foregrounds should be list, not dict"),
    ({"forward_passes": [1]}, "forward_passes should be dict, not list"),
    ({"fg_index": ...}, "missing key foregrounds[0].index"),
    ({"fg_index": "0"}, "foregrounds[0].index should be int, not str"),
    ({"fg_fooled": "yes"}, "foregrounds[0].fooled should be bool, not str"),
    ({"data": {"skipped_backgrounds": "none"}}, "data.skipped_backgrounds should be a list"),
])
def test_merge_names_the_shard_file_and_its_wrong_field(made, tmp_path, capsys, change, fragment):
    folders = _shards(made, tmp_path, **change)
    fails(merge_argv(made, folders, tmp_path / "out"), capsys, folders[0] / "challenge.json", fragment)
    assert not (tmp_path / "out" / "challenge.json").exists()


def test_merge_refuses_a_shard_with_a_bad_config_shard(made, tmp_path, capsys):
    folders = _shards(made, tmp_path)
    path = folders[0] / "challenge.json"
    doc = json.loads(path.read_text())
    doc["config"]["shard"] = "0/2"
    path.write_text(json.dumps(doc))
    fails(merge_argv(made, folders, tmp_path / "out"), capsys, path, "config.shard should be [i, n] or null")


@pytest.mark.parametrize(("data", "fragment"), [
    (b"\xff\xfe\x00", "not UTF-8"),
    (b'{"config": NaN}', "NaN is not a JSON number"),
    (b"", "not valid JSON"),
])
def test_merge_refuses_unreadable_shard_text(made, tmp_path, capsys, data, fragment):
    folders = _shards(made, tmp_path)
    (folders[1] / "challenge.json").write_bytes(data)
    fails(merge_argv(made, folders, tmp_path / "out"), capsys, folders[1] / "challenge.json", fragment)
    assert not (tmp_path / "out" / "challenge.json").exists()


def test_merge_refuses_a_missing_shard_folder_and_a_missing_out(made, tmp_path, capsys):
    folders = [made["shard0"], tmp_path / "never-ran"]
    fails(merge_argv(made, folders, tmp_path / "out"), capsys, "never-ran", "no challenge.json here")
    fails(["challenge", made["data"], "--merge", made["shard0"]], capsys, "--merge needs --out")


# ----------------------------------------------------------------------------- sweep models TOML
SWEEP_TOML = {
    "model_is_int": (b"model = 5\n", "model should be [[model]] tables, not 5"),
    "model_is_str": (b'model = "lite0"\n', "model should be [[model]] tables, not 'lite0'"),
    "not_utf8": (b'[[model]]\nspec = "\xff"\n', "not UTF-8 text"),
    "syntax": (b"[[model]\nspec = 1\n", "not valid TOML"),
    "empty": (b"", "no models"),
    "unknown_top": (b'title = "x"\n[[model]]\nspec = "efficientnet_lite0"\n',
                    "unknown top-level key(s) title"),
    "unknown_key": (b'[[model]]\nspec = "efficientnet_lite0"\nweigths = "w.pt"\n', "unknown key(s) weigths"),
    "unknown_spec": (b'[[model]]\nspec = "resnet9000"\n', "model #1 (resnet9000): unknown model spec"),
    "spec_is_int": (b"[[model]]\nspec = 5\n", "model #1 needs a spec"),
    "top1_is_str": (b'[[model]]\nspec = "efficientnet_lite0"\nimagenet_top1 = "high"\n',
                    "imagenet_top1 must be a percentage"),
    "challenge_is_str": (b'[[model]]\nspec = "efficientnet_lite0"\nchallenge = "yes"\n',
                         "challenge must be true or false"),
    "deep": (b"x = " + b"[" * 50_000 + b"]" * 50_000 + b"\n", "nested too deeply"),
}


@pytest.mark.parametrize("case", sorted(SWEEP_TOML))
def test_sweep_models_file_is_one_line_naming_file_and_entry(made, tmp_path, capsys, case):
    text, fragment = SWEEP_TOML[case]
    path = tmp_path / "models.toml"
    path.write_bytes(text)
    fails(["sweep", path, made["data"], "--out", tmp_path / "out", "-q"], capsys, path, fragment)
    assert not (tmp_path / "out" / "sweep.json").exists()


# ----------------------------------------------------------------------------- models --zoo TOML
ZOO_TOML = {
    "not_utf8": (b'[[model]]\nspec = "timm:\xe9"\n', "zoo file is not UTF-8 text"),
    "model_is_str": (b'model = "abc"\n', "model should be [[model]] tables"),
    "top1_is_bool": (b'[[model]]\nspec = "timm:a"\npublished_top1 = true\n',
                     "published_top1 should be a integer or number, not True"),
    "name_is_int": (b'[[model]]\nspec = "timm:a"\nname = 5\n', "name should be a string, not 5"),
    "unknown_key": (b'[[model]]\nspec = "timm:a"\ncolour = "red"\n', "unknown key(s) ['colour']"),
    "preprocessing": (b'[[model]]\nspec = "timm:a"\npreprocessing = "magic"\n',
                      "preprocessing must be one of"),
    "top1_range": (b'[[model]]\nspec = "timm:a"\npublished_top1 = 101\n', "must be a percentage in [0, 100]"),
}


@pytest.mark.parametrize("case", sorted(ZOO_TOML))
def test_models_zoo_file_is_one_line(tmp_path, capsys, case):
    text, fragment = ZOO_TOML[case]
    path = tmp_path / "zoo.toml"
    path.write_bytes(text)
    fails(["models", "--zoo", path, "--json"], capsys, path, fragment)


# ----------------------------------------------------------------------------- options checked before work
#: --workers is how many tasks run at once everywhere, so serial refuses more than one instead of ignoring it
SERIAL_WORKERS = "--workers 2 runs 2 tasks at once and --executor serial runs one: choose another --executor"


@pytest.mark.parametrize(("argv", "fragment"), [
    (["eval", "{data}", "--model", "{spec}", "--draws", "0"], "--draws must be at least 1, got 0"),
    (["eval", "{data}", "--model", "{spec}", "--draws", "-1"], "--draws must be at least 1, got -1"),
    (["eval", "{data}", "--model", "{spec}", "--batch-size", "0"], "--batch-size must be at least 1"),
    (["eval", "{data}", "--model", "{spec}", "--num-classes", "0"], "--num-classes must be at least 1"),
    (["challenge", "{data}", "--model", "{spec}", "--full", "--top-k", "-1"], "--top-k must be at least 1"),
    (["challenge", "{data}", "--model", "{spec}", "--batch-size", "-3"], "--batch-size must be at least 1"),
    (["challenge", "{data}", "--model", "{spec}", "--shard", "2/2"], "--shard 2/2: need 0 <= i < n"),
    (["build", "{data}", "{out}", "--workers", "0"], "--workers must be at least 1, got 0"),
    (["build", "{data}", "{out}", "--executor", "serial", "--workers", "2"], SERIAL_WORKERS),
    (["challenge", "{data}", "--model", "{spec}", "--workers", "2", "--out", "{out}"], SERIAL_WORKERS),
    (["challenge", "{data}", "--model", "{spec}", "--executor", "ray", "--shard", "0/2", "--out", "{out}"],
     "--shard and --executor ray exclude each other"),
    (["challenge", "{data}", "--model", "{spec}", "--order", "random", "--out", "{out}"],
     "unknown order 'random' (expected adaptive or folder)"),
    (["sweep", "{toml}", "{data}", "--workers", "3", "--out", "{out}"],
     "--workers 3 runs 3 tasks at once and --executor serial runs one"),
    (["build", "{data}", "{out}", "--jpeg-quality", "101"], "--jpeg-quality must be at most 100"),
    (["synth", "{out}", "--bg-correlation", "1.5"], "bg_correlation must be in [0, 1], got 1.5"),
    (["synth", "{out}", "--per-class", "0"], "--per-class must be at least 1"),
    (["train", "{data}", "--epochs", "0"], "--epochs must be at least 1, got 0"),
    (["train", "{data}", "--swap", "2"], "--swap must be at most 1, got 2"),
    (["sweep", "{toml}", "{data}", "--n-boot", "0"], "--n-boot must be at least 1"),
    (["probe", "{data}", "--model", "{spec}", "--grid", "1"], "--grid must be at least 2, got 1"),
    (["saliency", "{data}", "--model", "{spec}", "--figure-images", "-1"],
     "--figure-images must be at least 0"),
    # the command line's limits are the library config's (bgbench.config.number), open ends included
    (["build", "{data}", "{out}", "--size", "4"], "--size must be at least 8, got 4"),
    (["build", "{data}", "{out}", "--max-box-fraction", "0"], "--max-box-fraction must be above 0, got 0"),
    (["train", "{data}", "--lr", "0"], "--lr must be above 0, got 0"),
    (["train", "{data}", "--label-smoothing", "1"], "--label-smoothing must be below 1, got 1"),
    (["train", "{data}", "--swap-translate", "1.5"], "--swap-translate must be at most 1, got 1.5"),
    (["saliency", "{data}", "--model", "{spec}", "--samples", "0"], "--samples must be at least 1, got 0"),
    (["eval", "{data}", "--model", "{spec}", "--group-min", "0"], "--group-min must be at least 1, got 0"),
    (["demo", "{out}", "--epochs", "0"], "--epochs must be at least 1, got 0"),
])
def test_bad_option_is_refused_before_any_work(made, tmp_path, capsys, argv, fragment):
    toml = tmp_path / "m.toml"
    toml.write_text(f'[[model]]\nspec = "torchscript:{made["model"]}"\n')
    values = {"data": made["data"], "spec": f"torchscript:{made['model']}", "out": tmp_path / "out",
              "toml": toml}
    started = time.perf_counter()
    fails([a.format(**values) for a in argv], capsys, fragment)
    assert time.perf_counter() - started < 5
    assert not (tmp_path / "out").exists()


def test_eval_config_refuses_draws_below_one():
    from bgbench.errors import BgbenchError

    for draws in (0, -1, True, 1.5):
        with pytest.raises(BgbenchError, match="draws must be a whole number of at least 1") as info:
            EvalConfig(draws=draws)
        assert "\n" not in str(info.value)


# ----------------------------------------------------------------------------- model files
def test_garbage_torchscript_is_one_whole_sentence(made, tmp_path, capsys):
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(os.urandom(2000))
    line = fails(["eval", made["data"], "--model", f"torchscript:{bad}", "--out", tmp_path / "o"], capsys,
                 bad, "not a TorchScript file torch.jit.load can read")
    assert line.endswith(")") and "If you are seeing" not in line and "warn" not in line.lower()


@pytest.mark.parametrize(("sidecar", "fragment"), [
    (b'{"schema": "bgbench.model/1", "arch": "\xff"}', "checkpoint sidecar is not UTF-8 text"),
    (b'{"schema": "bgbench.model/1", "num_classes": "nine"}', "num_classes should be int, not 'nine'"),
    (b'{"schema": "bgbench.model/1", "num_classes": 0}', "num_classes should be positive"),
    (b'{"schema": "bgbench.model/1", "preprocessing": {"mean": [0.5], "std": [1, 1, 1]}}',
     "preprocessing.mean should be 3 numbers"),
    (b'{"schema": "bgbench.model/1", "arch": NaN}', "NaN is not a JSON number"),
])
def test_checkpoint_sidecar_is_one_line(made, tmp_path, capsys, sidecar, fragment):
    from safetensors.torch import save_file

    weights = tmp_path / "model.safetensors"
    save_file({"w": torch.zeros(2)}, str(weights))
    (tmp_path / "model.json").write_bytes(sidecar)
    fails(["eval", made["data"], "--model", f"ckpt:{weights}", "--out", tmp_path / "o"], capsys,
          tmp_path / "model.json", fragment)


@pytest.mark.parametrize(("mapping", "fragment"), [
    (b'{"0": "\xff"}', "mapping file is not UTF-8 text"),
    (b'{"0": NaN}', "NaN is not a JSON number"),
    (b'{"0": true}', "mapping entry '0': True is not integer -> integer"),
    (b'{"0": 1.5}', "mapping entry '0': 1.5 is not integer -> integer"),
    (b"[" * 100_000, "nested too deeply"),
])
def test_model_class_map_is_one_line(made, tmp_path, capsys, mapping, fragment):
    path = tmp_path / "map.json"
    path.write_bytes(mapping)
    fails(["eval", made["data"], "--model", f"torchscript:{made['model']}", "--class-map", path, "--out",
           tmp_path / "o", "--no-cache"], capsys, path, fragment)
    assert not (tmp_path / "o" / "eval.json").exists()


# ----------------------------------------------------------------------------- default output folders
def test_default_out_is_unique_per_model_file_and_never_overwritten(made, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # a command refused after choosing its default folder leaves no folder behind
    fails(["eval", made["data"], "--model", "torchscript:missing/model.pt"], capsys, "missing/model.pt")
    fails(["challenge", made["data"], "--model", "torchscript:missing/model.pt", "--shard", "2/2"], capsys,
          "--shard 2/2")
    assert not (tmp_path / "bgbench-results").exists()
    for name in ("A", "B"):
        (tmp_path / name).mkdir()
        shutil.copy(made["model"], tmp_path / name / "model.pt")
    argv = ["eval", made["data"], "--variants", "original", "--no-cache", "--device", "cpu", "-q", "--model"]
    for name in ("A", "B"):
        assert main([str(a) for a in [*argv, f"torchscript:{name}/model.pt"]]) == 0
    capsys.readouterr()
    folders = sorted(p.name for p in (tmp_path / "bgbench-results").iterdir())
    assert len(folders) == 2 and all(f.startswith("eval-model.pt-") for f in folders)
    # a folder of that name that holds another run's results is refused, not overwritten
    taken = tmp_path / "bgbench-results" / "eval-torchscript_model.pt"
    taken.mkdir()
    (taken / "eval.json").write_text("{}")
    shutil.copy(made["model"], tmp_path / "model.pt")
    fails([*argv, "torchscript:model.pt"], capsys, "bgbench-results/eval-torchscript_model.pt: ",
          "already holds results of another run")
    assert (taken / "eval.json").read_text() == "{}"
    # a folder whose owner record names another model is refused too
    owner_of = {json.loads((tmp_path / "bgbench-results" / f / ".bgbench-owner.json").read_text())["model"]: f
                for f in folders}
    folder_a = owner_of[f"torchscript:{tmp_path / 'A' / 'model.pt'}"]
    record = tmp_path / "bgbench-results" / folder_a / ".bgbench-owner.json"
    record.write_text(json.dumps({"command": "eval", "model": "torchscript:/elsewhere/model.pt"}))
    fails([*argv, "torchscript:A/model.pt"], capsys, f"bgbench-results/{folder_a}: ",
          "already holds eval results of torchscript:/elsewhere/model.pt; not overwriting it (pass --out)")


# ----------------------------------------------------------------------------- subprocess: Ctrl-C, runtimes
def _env(tmp_path: Path, blocked: str | None = None) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), BGBENCH_PROGRESS="0")
    if blocked is not None:  # make `import <blocked>` fail in the child, through the real import path
        site = tmp_path / "site"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(f"import sys\nsys.modules[{blocked!r}] = None\n")
        env["PYTHONPATH"] = f"{site}{os.pathsep}{env['PYTHONPATH']}"
    return env


@pytest.mark.parametrize(("module", "spec", "extra"), [
    ("onnxruntime", "onnx:model.onnx", "onnx"),
    ("ai_edge_litert", "tflite:model.tflite", "tflite"),
    ("transformers", "hf:some/repo", "hf"),
])
def test_missing_optional_runtime_is_one_line_naming_the_extra(made, tmp_path, module, spec, extra):
    env = _env(tmp_path, module)
    run = subprocess.run([sys.executable, "-m", "bgbench", "eval", str(made["data"]), "--model", spec,
                          "--out", str(tmp_path / "o")], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines() == [
        f"error: model '{spec}' needs {module}, which is not installed: pip install 'bgbench[{extra}]'"]
    assert not (tmp_path / "o").exists()
    listing = subprocess.run([sys.executable, "-m", "bgbench", "models", "--json"], env=env,
                             capture_output=True, text=True, timeout=120)
    records = {r["name"]: r for r in json.loads(listing.stdout)}
    assert records[extra]["available"] is False
    assert records["timm"]["available"] is True


def test_missing_runtime_stops_a_sweep_before_any_model_runs(made, tmp_path):
    toml = tmp_path / "zoo.toml"
    toml.write_text(f'[[model]]\nspec = "torchscript:{made["model"]}"\n\n[[model]]\nspec = "onnx:m.onnx"\n')
    run = subprocess.run([sys.executable, "-m", "bgbench", "sweep", str(toml), str(made["data"]), "--out",
                          str(tmp_path / "o"), "-q"], env=_env(tmp_path, "onnxruntime"), capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == [
        f"error: {toml}: model #2 (onnx:m.onnx): model 'onnx:{tmp_path / 'm.onnx'}' needs "
        "onnxruntime, which is not installed: pip install 'bgbench[onnx]'"]
    assert not (tmp_path / "o").exists()


def _children(pid: int) -> list[str]:
    """The command lines of ``pid``'s child processes (Linux /proc), ``[]`` once it is gone."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return []
    lines = []
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            try:
                lines.append(Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                continue
    return lines


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc to see the pool start")
@pytest.mark.parametrize("when", ["fork server starting", 0.8, 1.5])
def test_ctrl_c_during_a_process_pool_build_is_one_line_and_130(tmp_path, when):
    """A Ctrl-C stops a process-pool build, whenever it comes: also while the pool's fork server is
    still importing (where an ignored SIGINT that another thread took used to be lost, and the
    build ran on to exit 0) and while workers start."""
    from bgbench.synth import synthesize

    synthesize(tmp_path / "synth", per_class=4, split="val", size=96, quiet=True)
    proc = subprocess.Popen([sys.executable, "-m", "bgbench", "build", str(tmp_path / "synth"),
                             str(tmp_path / "out"), "--segmenter", "grabcut", "--executor", "process",
                             "--workers", "2", "-q"], env=_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    if isinstance(when, str):
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if any("forkserver" in line for line in _children(proc.pid)):
                break
            time.sleep(0.002)
    else:
        time.sleep(when)
    if proc.poll() is not None:
        pytest.skip("the build finished before the interrupt")
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["interrupted; rerun to resume"]
    assert not (tmp_path / "out" / "build.json").exists()


def test_ctrl_c_caught_inside_exec_of_a_string_still_exits_130(tmp_path):
    """``python -m bgbench`` ends with 130 after a Ctrl-C that passed through ``exec`` of a string
    (as it does while dataclasses build a class), which CPython otherwise turns into death by
    SIGINT (status -2) at exit."""
    (tmp_path / "interrupted_in_exec.py").write_text(
        "import os, signal\n"
        "import bgbench.cli, bgbench.entry\n"
        "def main():\n"
        "    try:\n"
        "        exec('import os, signal, time\\nos.kill(os.getpid(), signal.SIGINT)\\ntime.sleep(5)')\n"
        "    except KeyboardInterrupt:\n"
        "        return bgbench.cli.interrupted()\n"
        "    return 0\n"
        "bgbench.cli.main = main\n"
        "bgbench.entry.run()\n")
    env = _env(tmp_path)
    env["PYTHONPATH"] = f"{tmp_path}{os.pathsep}{env['PYTHONPATH']}"
    run = subprocess.run([sys.executable, "-m", "interrupted_in_exec"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 130, run.stderr
    assert run.stderr.strip().splitlines() == ["interrupted; rerun to resume"]
