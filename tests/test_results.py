"""Typed results of build, synth and download, and ``bgbench.load_results``: real small runs, read back
from their folders and files, and the one-line errors for files that are not bgbench results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bgbench
from bgbench.builder import BuildConfig, BuildResult, BuildRun, build_dataset
from bgbench.download import DownloadResult, download_in9
from bgbench.errors import BgbenchError
from bgbench.results import load_results, result_filenames
from bgbench.synth import SynthResult, synthesize
from test_download import (
    FILES,
    make_tar,
    server,  # noqa: F401 (the real HTTP server fixture)
    sha,
)

MAX_SUMMARY_LINES = 15


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A val synth (2 per class, 64 px) built with the box segmenter (serial); both results."""
    base = tmp_path_factory.mktemp("results")
    synth = synthesize(base / "synth", per_class=2, split="val", seed=2, size=64, quiet=True)
    build = build_dataset(base / "synth", base / "built", BuildConfig(split="val", segmenter="box",
                                                                      run=BuildRun("serial")), quiet=True)
    return {"base": base, "synth": synth, "build": build}


def check_views(result) -> None:
    text = str(result)
    assert text and len(text.splitlines()) <= MAX_SUMMARY_LINES
    assert repr(result).startswith(f"<{type(result).__name__}: ")
    html = result._repr_html_()
    assert "<table>" in html and "</table>" in html


def check_round_trip(result) -> None:
    doc = json.loads(json.dumps(result.to_json()))  # a JSON document, nothing else
    again = type(result).from_json(doc)
    assert again.to_json() == doc and str(again) == str(result)


# ----------------------------------------------------------------------------- build
def test_build_result_is_typed_and_holds_its_document(runs: dict) -> None:
    result, out = runs["build"], runs["base"] / "built"
    assert isinstance(result, BuildResult)
    assert result.doc["out"] == str(out.resolve()) and result.out == out.resolve()
    assert result.doc["config"]["segmenter"] == "box" and result.config == result.doc["config"]
    summary = result.doc["summary"]
    assert result.split == "val" and result.images == 18 == summary["images"]
    assert result.kept + result.dropped == 18 and result.kept == summary["kept"] > 0
    assert result.kept == sum(row["kept"] for row in result.per_class.values())
    assert result.drop_reasons == summary["drop_reasons"] and result.shortfall == {}
    assert result.doc["written"] == result.written == {"phase1": 18, "mixed": result.kept}
    assert set(result.doc) >= {"summary", "config", "out", "written"}
    first = result.summary_lines()[0]
    assert first.startswith(f"build {out.resolve()}: split val, {result.kept} kept of 18")
    check_views(result)
    check_round_trip(result)
    rows = result.table()[1]
    assert rows[0][0] == "00_dog" and rows[-1] == ["total (val)", str(result.kept), str(result.dropped)]


def test_build_json_gains_only_a_schema_field(runs: dict) -> None:
    doc = json.loads((runs["base"] / "built" / "build.json").read_text())
    assert list(doc) == ["schema", "format", "versions", "splits"]
    assert doc["schema"] == "bgbench.build/1" and doc["format"] == "bgbench-build/1"
    assert doc["splits"]["val"]["summary"] == runs["build"].doc["summary"]


def test_load_build_from_folder_and_file(runs: dict) -> None:
    out, fresh = runs["base"] / "built", runs["build"]
    from_folder, from_file = load_results(out), load_results(out / "build.json")
    for loaded in (from_folder, from_file):
        assert type(loaded) is BuildResult and loaded.source_path == out / "build.json"
        assert loaded.doc["summary"] == fresh.doc["summary"] and loaded.doc["config"] == fresh.doc["config"]
        assert loaded.out == out and loaded.split == "val" and loaded.written is None
        assert "written" not in loaded.doc
    assert from_folder.summary() == from_file.summary()
    assert from_file.summary_lines()[0] == fresh.summary_lines()[0].replace(str(out.resolve()), str(out))
    check_views(from_file)
    assert bgbench.load_results is load_results


def test_two_splits_in_one_build(tmp_path: Path) -> None:
    source, out = tmp_path / "synth", tmp_path / "built"
    synthesize(source, per_class=1, split="train", seed=5, size=64, quiet=True)
    synthesize(source, per_class=1, split="val", seed=5, size=64, quiet=True)
    val = build_dataset(source, out, BuildConfig(split="val", segmenter="box"), quiet=True)
    train = build_dataset(source, out, BuildConfig(split="train", segmenter="box"), quiet=True)
    assert train.split == "train" and train.splits == ["train", "val"]
    loaded = load_results(out)
    assert loaded.split == "val" and loaded.doc["summary"] == val.doc["summary"]
    assert loaded.for_split("train").doc["summary"] == train.doc["summary"]
    assert any(line.startswith("also built: train") for line in loaded.summary_lines())
    with pytest.raises(BgbenchError, match="split 'test' is not in this build"):
        loaded.for_split("test")
    # two synth documents in one folder: the folder is ambiguous, each file is not
    with pytest.raises(BgbenchError, match=r"several synth results .*synth-train.json, synth-val.json"):
        load_results(source)
    assert load_results(source / "synth-train.json").split == "train"


def test_documents_are_recognised_by_schema_not_by_file_name(runs: dict, tmp_path: Path) -> None:
    """A document's ``schema`` picks its class whatever the file is called; one without a schema is
    refused in one line even under a registered name (build.json, synth-<split>.json, the download
    marker)."""
    doc = json.loads((runs["base"] / "built" / "build.json").read_text())
    (tmp_path / "renamed.json").write_text(json.dumps(doc))
    assert isinstance(load_results(tmp_path / "renamed.json"), BuildResult)
    for name, folder in (("build.json", "built"), ("synth-val.json", "synth")):
        doc = json.loads((runs["base"] / folder / name).read_text())
        del doc["schema"]
        (tmp_path / folder).mkdir()
        (tmp_path / folder / name).write_text(json.dumps(doc))
        for target in (tmp_path / folder, tmp_path / folder / name):
            with pytest.raises(BgbenchError, match="no 'schema' field naming a bgbench result kind") as info:
                load_results(target)
            assert str(info.value).startswith(f"{tmp_path / folder / name}: ") and "\n" not in str(info.value)
    marker = tmp_path / "in9" / ".bgbench-download.json"
    marker.parent.mkdir()
    marker.write_text(json.dumps({"url": "https://example.org/a.tar", "sha256": "0" * 64, "verified": False}))
    with pytest.raises(BgbenchError, match="no 'schema' field"):
        load_results(marker.parent)


# ----------------------------------------------------------------------------- synth
def test_synth_result_round_trips(runs: dict) -> None:
    result, source = runs["synth"], runs["base"] / "synth"
    assert isinstance(result, SynthResult)
    assert result.doc["images"] == result.images == 18 == result.doc["rendered"] == result.rendered
    assert result.reused == 0 and result.stale_images == 0 and result.split == "val"
    assert result.out == source and result.bg_correlation == pytest.approx(0.9)
    records = [json.loads(line) for line in (source / "synth-val.jsonl").read_text().splitlines()]
    matches = sum(r["habitat"] == r["label"] for r in records)
    assert result.habitat_match_rate == pytest.approx(matches / len(records)) and len(result.classes) == 9
    doc = json.loads((source / "synth-val.json").read_text())
    assert doc["schema"] == "bgbench.synth/1" and "rendered" not in doc
    check_views(result)
    check_round_trip(result)
    for loaded in (load_results(source), load_results(source / "synth-val.json")):
        assert type(loaded) is SynthResult and loaded.source_path == source / "synth-val.json"
        assert loaded.doc["config"] == result.doc["config"]
        assert loaded.images == 18 and loaded.rendered is None
        assert loaded.summary_lines()[:2] == result.summary_lines()[:2]
        check_views(loaded)


# ----------------------------------------------------------------------------- download
def test_download_result_round_trips(server, tmp_path: Path) -> None:  # noqa: F811 (fixture)
    archive = make_tar(FILES)
    server.files["/data.tar.gz"] = archive
    dest = tmp_path / "in9"
    result = download_in9(dest, url=server.url("/data.tar.gz"), sha256=sha(archive), quiet=True)
    assert isinstance(result, DownloadResult) and result.doc["verified"] and result.verified
    assert result.sha256 == sha(archive) == result.doc["sha256"] and result.reused is False
    assert result.path == dest and result.doc["path"] == str(dest)
    marker = json.loads((dest / ".bgbench-download.json").read_text())
    assert marker["schema"] == "bgbench.download/1" and "path" not in marker and "reused" not in marker
    check_views(result)
    check_round_trip(result)
    for loaded in (load_results(dest), load_results(dest / ".bgbench-download.json")):
        assert type(loaded) is DownloadResult and loaded.path == dest and loaded.reused is None
        assert loaded.sha256 == result.sha256 and loaded.url == server.url("/data.tar.gz")
        assert loaded.summary_lines()[:3] == result.summary_lines()[:3]
    again = download_in9(dest, url=server.url("/data.tar.gz"), sha256=sha(archive), quiet=True)
    assert isinstance(again, DownloadResult) and again.reused and again.doc["reused"]
    assert "already present" in str(again)


# ----------------------------------------------------------------------------- errors
BAD_DOCUMENTS = {
    "not JSON": ("eval.json", "{not json", "not valid JSON"),
    "JSON list": ("build.json", "[1, 2]", "the JSON is not an object"),
    "unknown kind": ("x.json", '{"schema": "bgbench.nope/1"}', "unknown result kind 'nope'"),
    "newer major": ("build.json", '{"schema": "bgbench.build/2", "splits": {}}',
                    r"schema bgbench.build/2 is newer than this bgbench reads \(bgbench.build/1\)"),
    "foreign file": ("data.json", '{"a": 1}', "no 'schema' field naming a bgbench result kind"),
    "build without splits": ("build.json", '{"schema": "bgbench.build/1"}', "not a bgbench build result"),
    "synth without config": ("synth-val.json", '{"schema": "bgbench.synth/1"}', "not a bgbench synth result"),
    "download without url": (".bgbench-download.json", '{"schema": "bgbench.download/1"}',
                             "not a bgbench download record"),
}


@pytest.mark.parametrize("case", list(BAD_DOCUMENTS))
def test_bad_result_file_is_one_line_naming_the_file(case: str, tmp_path: Path) -> None:
    name, text, message = BAD_DOCUMENTS[case]
    path = tmp_path / name
    path.write_text(text)
    for target in (path, tmp_path) if name in result_filenames().values() else (path,):
        with pytest.raises(BgbenchError, match=message) as info:
            load_results(target)
        assert "\n" not in str(info.value) and str(info.value).startswith(f"{path}: ")


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(BgbenchError, match="result file or folder not found") as info:
        load_results(tmp_path / "nowhere" / "eval.json")
    assert str(info.value).startswith(f"{tmp_path / 'nowhere' / 'eval.json'}: ")
    with pytest.raises(BgbenchError, match="no bgbench result in this folder") as info:
        load_results(tmp_path)
    assert str(info.value).startswith(f"{tmp_path}: ") and "\n" not in str(info.value)
