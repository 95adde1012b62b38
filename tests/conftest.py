"""Shared fixtures: where the real data lives, small generated datasets built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("BGBENCH_PROGRESS", "0")

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("BGBENCH_REALDATA", REPO.parent / "shared" / "realdata"))


def pytest_configure(config: pytest.Config) -> None:
    try:
        import torch

        torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else 2)
    except ImportError:
        pass


@pytest.fixture(scope="session")
def realdata() -> Path:
    """``../shared/realdata`` (or $BGBENCH_REALDATA); skips the test with the reason when absent."""
    if not (REALDATA / "MANIFEST.md").exists():
        pytest.skip(f"real data not found at {REALDATA} (set BGBENCH_REALDATA to its folder)")
    return REALDATA


@pytest.fixture(scope="session")
def synth_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny built tree (owned by the build engineer): ``bgbench synth`` val (3 per class, 128 px)
    built with ``--segmenter mask`` (serial). Returns OUT; treat it as read-only."""
    from bgbench.builder import BuildConfig, BuildRun, build_dataset
    from bgbench.synth import synthesize

    base = tmp_path_factory.mktemp("synth_built")
    synthesize(base / "synth", per_class=3, split="val", seed=0, size=128, quiet=True)
    out = base / "built"
    build_dataset(base / "synth", out, BuildConfig(split="val", segmenter="mask",
                                                   run=BuildRun("serial")), quiet=True)
    return out


@pytest.fixture(scope="session")
def realdata_built(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """IN-9 variants built from the real photos (``realdata/imagenet-samples``): at most 5 photos per
    class, ``--segmenter box`` (quick), serial. Built once per session; treat it as read-only."""
    from bgbench.builder import BuildConfig, BuildRun, build_dataset

    out = tmp_path_factory.mktemp("realdata_built") / "built"
    build_dataset(realdata / "imagenet-samples", out, BuildConfig(split="val", per_class=5, segmenter="box",
                                                                  run=BuildRun("serial")), quiet=True)
    return out


@pytest.fixture(scope="session")
def synth_trainval(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny built tree with a train split (6 per class) and a val split (3 per class), 64 px,
    built from the true masks (serial). Returns OUT; treat it as read-only."""
    from bgbench.builder import BuildConfig, BuildRun, build_dataset
    from bgbench.synth import synthesize

    base = tmp_path_factory.mktemp("synth_trainval")
    for split, n in (("train", 6), ("val", 3)):
        synthesize(base / "synth", per_class=n, split=split, seed=0, size=64, quiet=True)
        build_dataset(base / "synth", base / "built", BuildConfig(split=split, segmenter="mask", size=56,
                                                                  resize=64,
                                                                  run=BuildRun("serial")), quiet=True)
    return base / "built"
