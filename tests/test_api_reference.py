"""The Python API reference (docs/reference, Sphinx autodoc) builds offline without a warning and
documents every public name, so documented types cannot drift from the code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import bgbench

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "reference"


@pytest.mark.slow
def test_api_reference_builds_and_covers_every_public_name(tmp_path):
    pytest.importorskip("sphinx", reason="sphinx comes with the test extra")
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(REFERENCE),
               str(tmp_path / "html")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    page = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    anchors = set(re.findall(r'id="(bgbench\.[\w.]+)"', page))
    short = {a.rsplit(".", 1)[-1] for a in anchors}
    missing = [name for name in bgbench.__all__ if name != "__version__" and name not in short]
    assert not missing, f"public names without a reference entry: {missing}"
