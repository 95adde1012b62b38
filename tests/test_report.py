"""bgbench report: sections for what the results hold, a self-contained page (every image inline and
decodable, no external link, no script), the Markdown twin with its figure files, one-line errors
before any output, the CLI, and ``bgbench.report`` (the function; the package is ``bgbench.reporting``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import bgbench
from bgbench.cli import main
from bgbench.errors import BgbenchError
from reporthelpers import PageParser, decode_data_uri, pipeline_results, schema_documents


@pytest.fixture(scope="module")
def made(synth_trainval, tmp_path_factory) -> dict[str, Path]:
    """Pipeline outputs on the tiny train/val build, the schema fixtures, and one report of all of them."""
    base = tmp_path_factory.mktemp("report")
    folders = {**pipeline_results(synth_trainval, base / "runs"), **schema_documents(base / "docs")}
    out = base / "out" / "report.html"
    result = bgbench.report([base / "runs", base / "docs"], out, title="test report", quiet=True)
    return {**folders, "base": base, "out": out, "result": result}


def test_every_section_present_and_page_is_self_contained(made):
    html = made["out"].read_text()
    page = PageParser()
    page.feed(html)
    assert page.ids == [
        "summary",
        "dataset",
        "accuracy",
        "bg-gap",
        "groups",
        "progress",
        "challenge",
        "training",
        "saliency",
        "probe",
        "provenance",
    ]
    assert made["result"].sections == page.ids
    assert page.scripts == 0 and "<script" not in html.lower()
    assert "http://" not in html and "https://" not in html
    assert all(link.startswith("#") for link in page.links), page.links
    assert len(page.sources) >= 12 and all(src.startswith("data:image/") for src in page.sources)
    for src in page.sources:
        image = decode_data_uri(src)
        assert min(image.size) > 10 and max(image.size) <= 1400
    assert made["result"].html_bytes == len(html.encode()) < 3_000_000
    for text in (
        "cnn",
        "tiny",
        "integrated_gradients",
        "1.860 [1.500, 2.200]",
        "r2c2",
        "scale=0.75",
        "center bias 0.120",
    ):
        assert text in html, text


def test_numbers_and_provenance_come_from_the_documents(made):
    html = made["out"].read_text()
    doc = json.loads((made["sweep"] / "cnn" / "eval.json").read_text())
    original = doc["accuracy"]["original"]
    assert f"{100 * original:.1f}%" in html
    assert f"{100 * doc['draws']['bg_gap']['value']:+.1f}" in html  # the --draws BG-Gap
    assert doc["command"] and doc["command"] in html  # results record their command line
    assert (doc["model_info"].get("params_sha256") or doc["model_info"]["weights_sha256"])[:12] in html
    challenge = json.loads((made["challenge"] / "challenge.json").read_text())
    assert challenge["run"]["command"] and f"{challenge['n_fooled']}/{challenge['n_foregrounds']}" in html
    train = json.loads((made["train"] / "train.json").read_text())
    assert train["command"] and train["bgbench_version"] == bgbench.__version__
    assert "Spearman" in html  # the sweep's trend over the two models with a top-1


def test_markdown_twin_links_figure_files(made):
    md = made["out"].with_suffix(".md").read_text()
    linked = re.findall(r"\]\((report_files/[^)]+)\)", md)
    assert any(p.endswith(".svg") for p in linked) and any(p.endswith(".png") for p in linked)
    for relative in linked:
        assert (made["out"].parent / relative).is_file(), relative
    assert "## Key figures" in md and "| model |" in md
    again = bgbench.load_results(made["out"].parent / "report_files")
    assert again.kind == "report" and again.html == made["out"]


def test_bad_inputs_are_one_line_errors_before_any_output(tmp_path, made, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "r" / "report.html"
    with pytest.raises(BgbenchError, match=re.escape(str(empty)) + ".*no bgbench result"):
        bgbench.report([empty], out)
    corrupt = tmp_path / "bad" / "eval.json"
    corrupt.parent.mkdir()
    corrupt.write_text('{"schema": "bgbench.eval/1", ')
    with pytest.raises(BgbenchError, match=re.escape(str(corrupt)) + ".*not valid JSON"):
        bgbench.report([made["sweep"], corrupt.parent], out)  # a good input first: still nothing written
    assert main(["report", str(corrupt), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and str(corrupt) in err and "\n" not in err
    with pytest.raises(BgbenchError, match="must end in .html"):
        bgbench.report([made["sweep"]], tmp_path / "report.pdf")
    assert not (tmp_path / "r").exists()


def test_cli_report_of_one_folder(made, capsys):
    out = made["base"] / "cli" / "one.html"
    assert main(["report", str(made["sweep"] / "tiny"), "-o", str(out), "-q"]) == 0
    assert "sections" in capsys.readouterr().out
    assert out.is_file() and out.with_suffix(".md").is_file() and (out.parent / "one_files").is_dir()
    page = PageParser()
    page.feed(out.read_text())
    assert page.ids == ["summary", "dataset", "accuracy", "bg-gap", "groups", "provenance"]
    assert "bgbench report" in out.read_text()  # the report's own command line, in its provenance


def test_bgbench_report_is_the_function_after_importing_the_package(made, tmp_path):
    import bgbench.reporting as package  # the package has its own name: bgbench.report stays the function

    assert bgbench.report is package.report
    result = bgbench.report(
        [made["sweep"] / "tiny" / "eval.json"], tmp_path / "x.html", quiet=True, command="bgbench demo"
    )
    assert isinstance(result, bgbench.ReportResult) and "bgbench demo" in (tmp_path / "x.html").read_text()


def test_probe_cells_parse_positions_and_settings():
    from bgbench.reporting.sections_runs import probe_cells

    grid = probe_cells(
        {
            "kind": "position",
            "cells": [{"setting": "r0c1", "accuracy": 0.5}, {"setting": "r1c0", "accuracy": 0.25}],
        }
    )
    assert grid == {"layout": "grid", "values": [[None, 0.5], [0.25, None]]}
    curve = probe_cells(
        {
            "kind": "noise",
            "cells": [
                {"setting": "bg_noise=0.2", "accuracy": 0.4, "ci": [0.3, 0.5]},
                {"setting": "bg_noise=0.1", "accuracy": 0.6},
            ],
        }
    )
    assert [p["x"] for p in curve["points"]] == [0.1, 0.2] and curve["xlabel"] == "bg_noise"


# ----------------------------------------------------------------------------- in a real browser
@pytest.fixture(scope="module")
def chromium() -> str:
    from browser import find_chromium

    found = find_chromium()
    if found is None:
        pytest.skip(
            "no Chromium found (apt-get install chromium, or set BGBENCH_CHROMIUM); .ci/run installs it"
        )
    return found


@pytest.mark.slow
def test_browser_check_catches_a_broken_page(chromium, tmp_path):
    """The checks below can fail: console errors, an uncaught exception, a missing and a corrupt image,
    and a blank page are all caught."""
    from browser import check_page, looks_blank, screenshot

    broken = tmp_path / "broken.html"
    broken.write_text(
        '<!DOCTYPE html><html><body><p>x</p><img src="missing.png">'
        '<img src="data:image/png;base64,iVBORw0KGgoAAAAbroken">'
        '<script>console.error("deliberate"); throw new Error("boom");</script></body></html>'
    )
    seen = check_page(chromium, broken, tmp_path / "b")
    assert any("deliberate" in m for m in seen.console) and any("boom" in m for m in seen.console)
    assert (seen.images, seen.broken, seen.scripts) == (2, 2, 1)
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    assert looks_blank(screenshot(chromium, blank, tmp_path / "blank.png", (400, 300)))


@pytest.mark.slow
def test_report_opens_in_chromium_without_errors_and_is_not_blank(chromium, made, tmp_path):
    from browser import check_page, looks_blank, screenshot

    seen = check_page(chromium, made["out"], tmp_path / "check")
    assert seen.console == [] and seen.scripts == 0
    assert seen.images >= 12 and seen.broken == 0
    pixels = screenshot(chromium, made["out"], tmp_path / "report.png")
    assert pixels.shape[:2] == (1600, 1280) and not looks_blank(pixels)
