"""The public API's shape: docs/api.md's example runs, results print short and load back, every
model option is defined once for the API and once for the CLI, and commands share that group."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

import bgbench
from bgbench.errors import BgbenchError
from bgbench.options import ModelOptions

REPO = Path(__file__).resolve().parents[1]


def _api_example() -> str:
    text = (REPO / "docs" / "api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "docs/api.md has no python example"
    return blocks[-1]


@pytest.mark.slow
def test_docs_api_example_runs(tmp_path):
    done = subprocess.run([sys.executable, "-c", _api_example()], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "EvalResult" not in done.stdout.splitlines()[0]  # print() gives the summary, not a repr
    assert "challenge" in done.stdout or "0." in done.stdout
    assert (tmp_path / "api-example" / "eval" / "results.json").is_file()


def test_model_options_validate_and_merge():
    opts = ModelOptions.of("timm:resnet18", device="cpu", map_rule="restricted", weights=None)
    assert (opts.spec, opts.device, opts.map_rule) == ("timm:resnet18", "cpu", "restricted")
    assert opts.weights is None
    assert ModelOptions.of(opts, precision="bf16").precision == "bf16"
    assert set(opts.adapter_kwargs()) == set(ModelOptions.ADAPTER_FIELDS)
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
    for fn in (bgbench.evaluate, bgbench.run_challenge, bgbench.build_dataset, bgbench.synthesize):
        assert inspect.isfunction(fn)
        assert "data" in inspect.signature(fn).parameters or "out" in inspect.signature(fn).parameters


def test_eval_result_prints_short_and_loads_back(synth_built, tmp_path):
    from tests_helpers_api import tiny_classifier

    result = bgbench.evaluate(synth_built, tiny_classifier(), out=tmp_path / "ev", cache=False, quiet=True)
    text = str(result)
    assert len(text.splitlines()) <= 12 and "confusion" not in text and "BG-Gap" in text
    assert repr(result).startswith("<EvalResult") and len(repr(result)) < 300
    assert "<table>" in result._repr_html_()
    again = bgbench.load_results(tmp_path / "ev")
    assert type(again) is type(result)
    assert again.to_json()["accuracy"] == result.to_json()["accuracy"]
    assert again.to_json()["per_class"] == result.to_json()["per_class"]
    assert str(again) == str(result)
    assert result["bg_gap"] == result.bg_gap.value


def test_challenge_result_is_typed_and_loads_back(synth_built, tmp_path):
    from tests_helpers_api import tiny_classifier

    result = bgbench.run_challenge(synth_built, tiny_classifier(), out=tmp_path / "ch", cache=False,
                                   quiet=True)
    assert result.n_foregrounds == result["n_foregrounds"] > 0
    assert 0.0 <= result.accuracy <= 1.0 and result.complete
    again = bgbench.load_results(tmp_path / "ch")
    assert type(again).__name__ == "ChallengeResult" and again.accuracy == result.accuracy
    assert "challenge accuracy" in str(again)


def test_load_results_errors_name_the_file(tmp_path):
    with pytest.raises(BgbenchError, match="not found"):
        bgbench.load_results(tmp_path / "nope")
    bad = tmp_path / "results.json"
    bad.write_text("{not json")
    with pytest.raises(BgbenchError, match=re.escape(str(bad))):
        bgbench.load_results(bad)
    bad.write_text('{"schema": "bgbench.eval/99"}')
    with pytest.raises(BgbenchError, match="newer"):
        bgbench.load_results(bad)
