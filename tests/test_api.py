"""The public API's shape: docs/api.md's example runs, results print short and load back, every
model option is defined once for the API and once for the CLI, and commands share that group."""

from __future__ import annotations

import csv
import inspect
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

import bgbench
from bgbench.config import CacheChoice
from bgbench.errors import BgbenchError
from bgbench.eval import EvalConfig
from bgbench.options import ModelOptions

REPO = Path(__file__).resolve().parents[1]


def _api_example() -> str:
    """The python block of docs/api.md's "## Example" section."""
    text = (REPO / "docs" / "api.md").read_text().split("\n## Example\n", 1)[-1]
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "docs/api.md has no python example"
    return blocks[0]


@pytest.mark.slow
def test_docs_api_example_runs(tmp_path):
    done = subprocess.run([sys.executable, "-c", _api_example()], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert "EvalResult" not in lines[0]  # print() gives the summary, not a repr
    assert any("BG-Gap" in line for line in lines)
    assert "['efficientnet_lite0', 'efficientnet_lite1', 'efficientnet_lite2']" in lines
    assert (tmp_path / "api-example" / "eval" / "eval.json").is_file()


def test_model_options_validate_and_merge():
    opts = ModelOptions.of("timm:resnet18", device="cpu", map_rule="restricted", weights=None)
    assert (opts.spec, opts.device, opts.map_rule) == ("timm:resnet18", "cpu", "restricted")
    assert opts.weights is None
    assert ModelOptions.of(opts, precision="bf16").precision == "bf16"
    with pytest.raises(BgbenchError, match="unknown precision"):
        ModelOptions(precision="fp8")
    with pytest.raises(BgbenchError, match="--map rule"):
        ModelOptions(map_rule="top5")
    with pytest.raises(TypeError, match="unknown model option"):
        ModelOptions.of("x", colour="red")


def test_every_model_option_has_one_cli_flag_shared_by_the_commands():
    from click.testing import CliRunner
    from typer.main import get_command

    from bgbench.cli import app
    from bgbench.cli.common import model_option_specs

    specs = model_option_specs("help")
    assert {s.name for s in specs} | {"pretrained"} == {f.name for f in fields(ModelOptions)}
    assert len({flag for s in specs for flag in s.flags}) == sum(len(s.flags) for s in specs)
    group = get_command(app)
    for command in ("eval", "challenge"):
        params = {p.name: p for p in group.commands[command].params}
        for spec in specs:
            assert spec.name in params, (command, spec.name)
            assert params[spec.name].opts[0] in spec.flags
        help_text = CliRunner().invoke(group, [command, "--help"]).output
        assert "--class-map" in help_text and "--int8" in help_text


def test_entry_points_have_real_signatures():
    leading = {bgbench.evaluate: ["data", "model"], bgbench.run_challenge: ["data", "model"],
               bgbench.build_dataset: ["source", "out"], bgbench.synthesize: ["out"],
               bgbench.train: ["data", "model"], bgbench.saliency: ["data"], bgbench.probe: ["data", "model"]}
    for fn, names in leading.items():
        assert inspect.isfunction(fn), fn
        params = list(inspect.signature(fn).parameters.values())
        assert [p.name for p in params[:len(names)]] == names, fn.__name__
        assert all(p.kind is not p.VAR_POSITIONAL for p in params), fn.__name__


def test_eval_result_prints_short_and_loads_back(synth_built, tmp_path):
    from tests_helpers_api import tiny_classifier

    result = bgbench.evaluate(synth_built, tiny_classifier(), EvalConfig(cache=CacheChoice(cache=False)),
                              out=tmp_path / "ev", quiet=True)
    text = str(result)
    assert len(text.splitlines()) <= 12 and "confusion" not in text and "BG-Gap" in text
    assert repr(result).startswith("<EvalResult") and len(repr(result)) < 300
    assert "<table>" in result._repr_html_()
    again = bgbench.load_results(tmp_path / "ev")
    assert type(again) is type(result)
    assert again.to_json()["accuracy"] == result.to_json()["accuracy"]
    assert again.to_json()["per_class"] == result.to_json()["per_class"]
    assert str(again) == str(result)
    assert result.to_json()["bg_gap"] == result.bg_gap.value


def test_challenge_result_is_typed_and_loads_back(synth_built, tmp_path):
    from tests_helpers_api import tiny_classifier

    config = bgbench.ChallengeConfig(cache=bgbench.CacheChoice(cache=False))
    result = bgbench.run_challenge(synth_built, tiny_classifier(), config, out=tmp_path / "ch", quiet=True)
    assert result.n_foregrounds == result.doc["n_foregrounds"] > 0
    assert result.complete
    rows = list(csv.DictReader((tmp_path / "ch" / "challenge.csv").open()))
    assert len(rows) == result.n_foregrounds
    fooled = sum(row["fooled"] in ("1", "True", "true") for row in rows)
    assert fooled == result.n_fooled and result.accuracy == pytest.approx(1 - fooled / len(rows))
    again = bgbench.load_results(tmp_path / "ch")
    assert type(again).__name__ == "ChallengeResult" and again.accuracy == result.accuracy
    assert "challenge accuracy" in str(again)


def test_load_results_errors_name_the_file(tmp_path):
    with pytest.raises(BgbenchError, match="not found"):
        bgbench.load_results(tmp_path / "nope")
    bad = tmp_path / "eval.json"
    bad.write_text("{not json")
    with pytest.raises(BgbenchError, match=re.escape(str(bad))):
        bgbench.load_results(bad)
    bad.write_text('{"schema": "bgbench.eval/99"}')
    with pytest.raises(BgbenchError, match="newer"):
        bgbench.load_results(bad)
