"""The result contract, for every registered result kind: each command run with ``--json`` prints its
result document and nothing else on stdout; that result ``write()``s its document to a new folder and
``load_results`` reads the same document back; ``summary()`` names the result's key figures and
``summary(tables=True)`` (what the command prints without ``--json``) shows its tables.

Real runs on tiny data (a 1-per-class synth, the session's 64-px train/val tree, a seeded tiny
classifier, a timm test network for one epoch, a local HTTP server for the download); only the demo,
whose real run takes minutes (tests/test_demo.py), is a document built here by its documented schema
and given to the command through a stub of ``run_demo``.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from bgbench.cli import main
from bgbench.errors import BgbenchError
from bgbench.results import TextTable, load_results, result_class, result_filenames
from bgbench.results.base import pct
from test_download import FILES, Server, make_tar, sha

TINY = "python:tests_helpers_api:tiny_classifier"
#: how every command is asked for its document
JSON = ["--json", "-q"]


def run_json(argv: list[Any]) -> dict[str, Any]:
    """Run the command line with ``argv``; its stdout must be one JSON document (returned)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main([str(a) for a in argv])
    assert code == 0, stderr.getvalue()[-2000:]
    return json.loads(stdout.getvalue())


def demo_document(out: Path) -> dict[str, Any]:
    """A demo.json of the documented schema (docs/results.md): two model rows of the quick plan."""
    from bgbench.demo import DEMO_SCHEMA, PLANS

    def row(name: str, original: float, mixed_rand: float, challenge: float) -> dict[str, Any]:
        return {"model": name, "original": original, "only_bg_t": 0.5, "no_fg": 0.4, "only_fg": 0.7,
                "mixed_same": 0.8, "mixed_rand": mixed_rand, "mixed_next": mixed_rand - 0.05,
                "bg_gap": 0.8 - mixed_rand, "bg_gap_ci95": [0.1, 0.3], "bg_gap_draws": 0.19,
                "bg_gap_draws_ci95": [0.12, 0.26], "mixed_rand_draws": mixed_rand,
                "challenge_accuracy": challenge}

    return {"schema": DEMO_SCHEMA, "out": str(out), "device": "cpu", "plan": PLANS["quick"].to_json(),
            "command": "bgbench demo --quick", "seconds": 61.0, "stages": {"data": 20.0, "train": 41.0},
            "train": {}, "build": {}, "grabcut_iou": None,
            "models": [row("trained_on_original", 0.9, 0.6, 0.25), row("trained_with_swap", 0.88, 0.8, 0.5)],
            "report": str(out / "report.html")}


@pytest.fixture(scope="module")
def printed(synth_trainval: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict, Path]]:
    """Every command that returns a result, run once with --json: {kind: (printed document, the
    document's file)}."""
    base = tmp_path_factory.mktemp("contract")
    data = synth_trainval
    found: dict[str, tuple[dict, Path]] = {}
    found["synth"] = (run_json(["synth", base / "synth", "--per-class", "1", "--split", "val", "--size", "48",
                                *JSON]), base / "synth" / "synth-val.json")
    found["build"] = (run_json(["build", base / "synth", base / "build", "--segmenter", "box", "--executor",
                                "serial", *JSON]), base / "build" / "build.json")
    for kind, args in (("eval", ["--variants", "original,mixed_same,mixed_rand"]), ("challenge", []),
                       ("probe", ["--kind", "scale", "--factors", "0.5,1", "--per-class", "1"]),
                       ("saliency", ["--method", "saliency", "--per-class", "1", "--figure-images", "2"])):
        doc = run_json([kind, data, "--model", TINY, "--out", base / kind, "--no-cache", *args, *JSON])
        found[kind] = (doc, base / kind / result_filenames()[kind])
    train = ["train", data, "--model", "timm:test_convnext", "--scratch", "--epochs", "1", "--input-size",
             "32", "--batch-size", "16", "--device", "cpu", "--no-cache", "--no-eval", "--out",
             base / "train", *JSON]
    found["train"] = (run_json(train), base / "train" / "train.json")
    models = base / "models.toml"
    models.write_text(f'[[model]]\nname = "tiny"\nspec = "{TINY}"\nimagenet_top1 = 40.0\n')
    sweep = ["sweep", models, data, "--variants", "original,mixed_same,mixed_rand", "--out", base / "sweep",
             "--n-boot", "50", "--no-cache", *JSON]
    found["sweep"] = (run_json(sweep), base / "sweep" / "sweep.json")
    found["report"] = (run_json(["report", base / "eval", "-o", base / "report" / "r.html", *JSON]),
                       base / "report" / "r_files" / "report.json")
    server = Server()
    server.thread.start()
    try:
        archive = make_tar(FILES)
        server.files["/in9.tar.gz"] = archive
        download = ["download", "in9", base / "in9", "--url", server.url("/in9.tar.gz"), "--sha256",
                    sha(archive), *JSON]
        found["download"] = (run_json(download), base / "in9" / ".bgbench-download.json")
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
    return found


def test_every_registered_kind_is_covered(printed: dict) -> None:
    assert set(printed) | {"demo"} == set(result_filenames())


@pytest.mark.parametrize("kind", sorted(set(result_filenames()) - {"demo"}))
def test_json_is_the_document_the_command_wrote(printed: dict, kind: str) -> None:
    doc, path = printed[kind]
    cls = result_class(kind)
    assert doc["schema"] == cls.SCHEMA == f"bgbench.{kind}/1"
    on_disk = json.loads(path.read_text())
    assert {k: v for k, v in doc.items() if k not in cls.RUN_KEYS} == on_disk
    assert type(load_results(path)) is cls


def key_figures(kind: str, result: Any) -> list[str]:
    """Texts the summary of ``result`` must contain: its headline numbers, formatted as shown."""
    if kind == "synth":
        return [f"{result.images} images", f"habitat match {result.habitat_match_rate:.3f}"]
    if kind == "build":
        return [f"{result.kept} kept of {result.images}"]
    if kind == "eval":
        return [pct(result.accuracy[v]) for v in ("original", "mixed_rand")] + [
            f"{100 * result.bg_gap.value:+.1f} points"]
    if kind == "challenge":
        return [f"{result.n_fooled}/{result.n_foregrounds} foregrounds fooled", pct(result.accuracy)]
    if kind == "train":
        return [f"final loss {result.history[-1]['loss']:.3f}", result.checkpoint]
    if kind == "saliency":
        return [f"focus {result.focus():.2f}"]
    if kind == "probe":
        return [f"scale=0.5 {pct(result.accuracy('scale=0.5'), 0)}"]
    if kind == "sweep":
        return [f"original {pct(result.row('tiny')['accuracy']['original'])}"]
    if kind == "report":
        return [f"{len(result.sections)} sections", str(result.html)]
    if kind == "download":
        return [result.sha256, "verified"]
    return [f"{row['model']:<32} original {pct(row['original']):>6}" for row in result.rows]


def results(printed: dict, tmp_path: Path) -> dict[str, Any]:
    """The typed result of every kind: read from the files the commands wrote; the demo's built here."""
    found = {kind: load_results(path) for kind, (_, path) in printed.items()}
    found["demo"] = result_class("demo").from_json(demo_document(tmp_path / "demo"))
    return found


@pytest.mark.parametrize("kind", sorted(result_filenames()))
def test_write_load_and_summary(printed: dict, tmp_path: Path, kind: str) -> None:
    result = results(printed, tmp_path)[kind]
    path = result.write(tmp_path / "copy")
    assert path == tmp_path / "copy" / result.filename() and result.source_path == path
    again = load_results(path)
    assert type(again) is type(result)
    assert json.dumps(again.file_document()) == json.dumps(result.file_document())
    text = result.summary()
    assert text == str(result) and text.strip()
    for figure in key_figures(kind, result):
        assert figure in text, (kind, figure, text)
    shown = result.summary(tables=True, width=120)
    tables = [b for b in result.terminal() if isinstance(b, TextTable)]
    for table in tables:
        assert all(cell in shown for cell in table.header[:2]) and table.lines()
    if kind in ("build", "eval", "challenge", "demo"):  # their command prints tables
        assert tables


def test_tables_of_eval_and_challenge_are_their_numbers(printed: dict) -> None:
    ev, _ = printed["eval"]
    shown = load_results(printed["eval"][1]).summary(tables=True)
    for variant, value in ev["accuracy"].items():
        low, high = ev["accuracy_ci95"][variant]
        assert f"{100 * value:.1f}" in shown and f"{100 * low:.1f}-{100 * high:.1f}" in shown
    ch, _ = printed["challenge"]
    shown = load_results(printed["challenge"][1]).summary(tables=True)
    assert shown.splitlines()[0] == f"{ch['n_fooled']}/{ch['n_foregrounds']} vulnerable"
    assert "fooled per class" in shown


def test_demo_command_prints_its_document_or_its_table(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's command line, given a finished run (a stub of run_demo): --json prints the document
    and nothing else on stdout, without it the table of models."""
    import bgbench.demo

    doc = demo_document(tmp_path / "demo")
    monkeypatch.setattr(bgbench.demo, "run_demo", lambda *a, **k: bgbench.demo.DemoResult(doc))
    assert run_json(["demo", tmp_path / "demo", *JSON]) == doc
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(["demo", str(tmp_path / "demo"), "-q"]) == 0
    assert "trained with swap" in stdout.getvalue() and "BG-Gap, 2 draws" in stdout.getvalue()


# -- the entry-point contract: run(data, model, config, *, out=None, quiet=False), no keyword bags --

#: entry point -> (its config class, the names of its leading positional parameters)
ENTRY_POINTS = {
    "evaluate": ("EvalConfig", ("data", "model", "config")),
    "run_challenge": ("ChallengeConfig", ("data", "model", "config")),
    "train": ("TrainConfig", ("data", "model", "config")),
    "saliency": ("SaliencyConfig", ("data", "model", "config")),
    "probe": ("ProbeConfig", ("data", "model", "config")),
    "sweep": ("SweepConfig", ("models", "data", "config")),
    "build_dataset": ("BuildConfig", ("source", "out", "config")),
}


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_entry_point_takes_data_model_config_and_no_keyword_bag(name):
    import dataclasses
    import inspect

    import bgbench

    config_name, leading = ENTRY_POINTS[name]
    params = inspect.signature(getattr(bgbench, name)).parameters
    kinds = {p.kind for p in params.values()}
    assert inspect.Parameter.VAR_KEYWORD not in kinds and inspect.Parameter.VAR_POSITIONAL not in kinds
    positional = [n for n, p in params.items() if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    assert tuple(positional) == leading
    keyword_only = {n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert keyword_only <= {"out", "quiet"}, keyword_only
    assert config_name in str(params["config"].annotation)
    config = getattr(bgbench, config_name)
    assert dataclasses.is_dataclass(config) and config.__dataclass_params__.frozen
    undocumented = [f.name for f in dataclasses.fields(config) if f.name not in (config.__doc__ or "")]
    assert not undocumented, f"{config_name} docstring does not describe {undocumented}"


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_a_former_keyword_setting_is_a_type_error(name):
    """Settings go in the config: an entry point called with one as a keyword (``batch_size=8``,
    ``device="cpu"``) refuses it at once instead of swallowing it."""
    import bgbench

    with pytest.raises(TypeError, match="device"):
        getattr(bgbench, name)("x", "y", device="cpu")


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_a_config_of_another_type_is_one_line_before_any_work(name, tmp_path):
    """A dict (or any other object) where the config goes is refused in one line that names the
    config class the entry point wants, before the data or the model is touched."""
    import bgbench

    config_name = ENTRY_POINTS[name][0]
    article = "an" if config_name[0] in "AEIOU" else "a"
    pattern = f"config must be {article} {config_name}" if name != "probe" else "probe needs a ProbeConfig"
    with pytest.raises(BgbenchError, match=pattern + r".*got dict$"):
        if name == "build_dataset":  # (source, out, config)
            bgbench.build_dataset("no-such-source", tmp_path / "out", {"batch_size": 8})
        else:
            getattr(bgbench, name)("no-such-data", "no-such-model", {"batch_size": 8}, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _configs() -> list[Any]:
    """One instance of every settings dataclass an entry point takes (nested ones included)."""
    from bgbench import BuildConfig, BuildRun, ChallengeConfig, EvalConfig, SweepConfig, TrainConfig
    from bgbench.config import ImageSubset
    from bgbench.demo import DemoPlan
    from bgbench.explain.config import ProbeConfig, SaliencyConfig
    from bgbench.training.config import EvalPlan, Swap
    from bgbench.training.recipe import Recipe

    return [EvalConfig(), ChallengeConfig(), TrainConfig(), Swap(), EvalPlan(), Recipe(), SaliencyConfig(),
            ProbeConfig("position"), SweepConfig(), BuildConfig(), BuildRun(), ImageSubset(), DemoPlan()]


def _outside(bound: Any) -> list[Any]:
    """Values just outside ``bound`` (and a bool, and None where it is not optional)."""
    values: list[Any] = [True]
    if bound.low is not None:
        values.append(bound.low if bound.low_open else bound.low - 1)
    if bound.high is not None:
        values.append(bound.high if bound.high_open else bound.high + 1)
    if bound.whole:
        values.append((bound.low if bound.low is not None else 0) + 1.5)
    if not bound.optional:
        values.append(None)
    return values


@pytest.mark.parametrize("config", _configs(), ids=lambda c: type(c).__name__)
def test_every_number_of_every_config_has_one_bound_and_one_message(config: Any) -> None:
    """Each int or float field of a config is made with ``bgbench.config.number`` (so it has a stated
    bound), and a value just outside that bound is refused in one line naming ``Config.field``."""
    import dataclasses

    from bgbench.config import bounds

    numeric = {f.name for f in dataclasses.fields(config)
               if ("int" in str(f.type) or "float" in str(f.type)) and "tuple" not in str(f.type)}
    declared = bounds(config)
    assert numeric and set(declared) == numeric
    for name, bound in declared.items():
        assert bound.allows(getattr(config, name))
        for value in _outside(bound):
            with pytest.raises(BgbenchError) as info:
                dataclasses.replace(config, **{name: value})
            text = str(info.value)
            assert text.startswith(f"{type(config).__name__}.{name} must be {bound.wording()}, got ")
            assert "\n" not in text
