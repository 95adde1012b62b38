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
