"""Executable docs: every shell command and Python block of README.md and docs/*.md runs as written.

Each page runs in its own folder, top to bottom (see tests/docblocks.py for what runs and the
``# needs:`` markers). Pages other than the README find there what the README's tour makes: ``src``,
synthetic scenes, and ``data``, their small build with train and val splits; and
``../shared/realdata`` when the real data is here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from docblocks import Step, output_problem, page_steps, shape

REPO = Path(__file__).resolve().parents[1]
PAGES = ["README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md"))]


@pytest.fixture(scope="session")
def realdata_path() -> Path:
    """Where the real data would be (it may be absent: steps marked ``# needs: realdata`` then skip)."""
    from conftest import REALDATA

    return REALDATA


def available_needs(realdata: Path) -> set[str]:
    """What this machine offers of the ``# needs:`` markers (never the network in tests)."""
    have = set()
    if realdata.is_dir():
        have.add("realdata")
    try:
        import torch

        if torch.cuda.is_available():
            have.add("gpu")
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return have


@pytest.fixture(scope="session")
def docs_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small tree the docs call ``data``: 4 train and 3 val synthetic scenes per class, 128 px."""
    from bgbench.builder import BuildConfig, BuildRun, build_dataset
    from bgbench.synth import synthesize

    base = tmp_path_factory.mktemp("docs-data")
    for split, n in (("train", 4), ("val", 3)):
        synthesize(base / "scenes", per_class=n, split=split, seed=0, size=128, quiet=True)
        build_dataset(base / "scenes", base / "data", BuildConfig(split=split, segmenter="mask",
                                                                  run=BuildRun("serial")), quiet=True)
    return base / "data"


def prepare(page: str, root: Path, tree: Path, realdata: Path) -> Path:
    """``root/work`` for one page: ``src`` (synthetic scenes) and ``data`` (their build), as the README's
    tour makes them (but not for the README itself), and ``root/shared/realdata`` so that
    ``../shared/realdata`` reads as in the project's checkout."""
    work = root / "work"
    work.mkdir(parents=True)
    if page != "README.md":
        shutil.copytree(tree, work / "data")
        shutil.copytree(tree.parent / "scenes", work / "src")
    (work / "benchmarks").symlink_to(REPO / "benchmarks")  # `python benchmarks/...` as from the checkout
    if realdata.is_dir():
        (root / "shared").mkdir()
        (root / "shared" / "realdata").symlink_to(realdata)
    return work


def run_step(step: Step, work: Path, env: dict[str, str]) -> None:
    if step.kind == "file":
        (work / step.target).write_text(step.text, encoding="utf-8")
        return
    command = (["bash", "-euo", "pipefail", "-c", step.text] if step.kind == "shell"
               else [sys.executable, "-c", step.text])
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=900)
    report = f"--- stderr ---\n{done.stderr[-3000:]}\n--- stdout ---\n{done.stdout[-1500:]}"
    assert done.returncode == 0, f"{step.where} failed (exit {done.returncode}):\n{step.text}\n{report}"
    if step.expected is not None:
        problem = output_problem(step.expected, done.stdout + "\n" + done.stderr)
        assert problem is None, f"{step.where}: the page quotes other output: {problem}\n{report}"


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_page_runs_as_written(page: str, docs_tree: Path, realdata_path: Path, tmp_path: Path) -> None:
    steps = page_steps(REPO / page, REPO)
    have = available_needs(realdata_path)
    work = prepare(page, tmp_path, docs_tree, realdata_path)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               BGBENCH_CACHE=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
    env.pop("BGBENCH_REALDATA", None)  # pages name ../shared/realdata where they use it
    skipped = []
    for step in steps:
        if step.kind == "shell" and step.text.startswith("python3 -m venv"):
            continue  # the README's set-up: .ci/run runs the test command, tests/test_demo.py the demo
        missing = sorted(set(step.needs) - have)
        if missing:
            skipped.append(f"{step.where} ({', '.join(missing)})")
            continue
        run_step(step, work, env)
    if skipped:
        print(f"{page}: skipped {len(skipped)} step(s) marked '# needs:': {'; '.join(skipped)}")
    if steps and len(skipped) == len(steps):
        pytest.skip(f"every step of {page} needs something this machine lacks: {'; '.join(skipped)}")


def test_blocks_are_collected_and_markers_known() -> None:
    """The collector sees the README's set-up commands and knows every marker the pages use."""
    steps = [s for page in PAGES for s in page_steps(REPO / page, REPO)]
    readme = [s.text for s in steps if s.page == "README.md"]
    assert any("bgbench demo" in t for t in readme) and any("pytest" in t for t in readme)
    assert all(s.kind in {"shell", "python", "file"} for s in steps)


def test_quoted_output_is_compared_in_shape(tmp_path: Path) -> None:
    """An output block attaches to the command before it; numbers may differ, words and order may not."""
    page = tmp_path / "page.md"
    page.write_text("```bash\necho skip\nprintf 'acc 95.0%% [91, 97]\\nBG-Gap +12.5\\n'\n```\n\n"
                    "```text output\nacc 88.1% [80, 93]\n...\nBG-Gap -3.0\n```\n", encoding="utf-8")
    steps = page_steps(page, tmp_path)
    assert [s.expected is not None for s in steps] == [False, True]
    run_step(steps[1], tmp_path, dict(os.environ))  # same shape, other figures: passes
    assert shape("  original   95.0% [91, 97]") == "original #% [#, #]"
    assert shape("┏━━━━━┳━━┓") == shape("┏━━┳━━━━━━┓") == "┏━┳━┓"  # borders of any column width
    assert output_problem("acc 1% [2, 3]", "acc 95.0% [91, 97]") is None
    assert "acc" in output_problem("BG-Gap +1\nacc 1%", "acc 95.0%\nBG-Gap +12.5")  # order matters
    assert output_problem("accuracy 1%", "acc 95.0%") is not None  # a renamed label fails
    steps[1].expected = "acc #% [#]"
    with pytest.raises(AssertionError, match="quotes other output"):
        run_step(steps[1], tmp_path, dict(os.environ))
