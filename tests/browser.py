"""Headless Chromium driven by its command line: a report's console messages, its images as the
browser decoded them, and a screenshot. No JavaScript is added to the report itself: a harness page
loads it in an iframe and logs what it finds (``--allow-file-access-from-files`` lets the harness
read the file:// frame)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CONSOLE = re.compile(r":CONSOLE(?:\(\d+\))?:?\d*\] \"(?P<message>.*)\", source: (?P<source>\S*)")
HARNESS = re.compile(r"^HARNESS images=(\d+) broken=(\d+) scripts=(\d+)$")

HARNESS_PAGE = """<!DOCTYPE html><html><body>
<iframe id="page" src="{url}" style="width:1200px;height:900px"></iframe>
<script>
document.getElementById("page").addEventListener("load", function () {{
  var doc = this.contentDocument;
  if (!doc) {{ console.log("HARNESS-NO-ACCESS"); return; }}
  var images = Array.prototype.slice.call(doc.images);
  var broken = images.filter(function (img) {{ return !img.complete || img.naturalWidth === 0; }});
  console.log("HARNESS images=" + images.length + " broken=" + broken.length
              + " scripts=" + doc.scripts.length);
}});
</script></body></html>
"""


def find_chromium() -> str | None:
    """The Chromium (or Chrome) executable: $BGBENCH_CHROMIUM, else the first of NAMES on PATH."""
    named = os.environ.get("BGBENCH_CHROMIUM")
    if named:
        return named
    return next((found for found in map(shutil.which, NAMES) if found), None)


def _run(chromium: str, work: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={work / 'profile'}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


@dataclass
class PageCheck:
    """What the browser saw: the page's own console messages, and the harness's counts."""

    console: list[str]
    images: int
    broken: int
    scripts: int


def check_page(chromium: str, page: Path, work: Path) -> PageCheck:
    """Load ``page`` through the harness; every console message whose source is the page counts."""
    work.mkdir(parents=True, exist_ok=True)
    harness = work / "harness.html"
    harness.write_text(HARNESS_PAGE.format(url=page.resolve().as_uri()))
    done = _run(
        chromium,
        work,
        "--allow-file-access-from-files",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=10000",
        "--dump-dom",
        harness.as_uri(),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    console, counts = [], None
    for match in CONSOLE.finditer(done.stderr):
        message, source = match["message"], match["source"]
        found = HARNESS.match(message)
        if found and source == harness.as_uri():
            counts = tuple(int(g) for g in found.groups())
        elif source != harness.as_uri():
            console.append(f"{message} ({source})")
    assert counts is not None, (
        "the harness did not report (no file access to the frame?):\n" + done.stderr[-2000:]
    )
    return PageCheck(console, *counts)


def screenshot(chromium: str, page: Path, png: Path, size: tuple[int, int] = (1280, 1600)) -> np.ndarray:
    """A screenshot of ``page`` at ``size`` (width, height) as uint8 (H, W, 3)."""
    from PIL import Image

    png.parent.mkdir(parents=True, exist_ok=True)
    done = _run(
        chromium,
        png.parent,
        f"--screenshot={png}",
        f"--window-size={size[0]},{size[1]}",
        "--hide-scrollbars",
        page.resolve().as_uri(),
    )
    assert done.returncode == 0 and png.is_file(), done.stderr[-2000:]
    with Image.open(png) as image:
        return np.asarray(image.convert("RGB"))


def looks_blank(pixels: np.ndarray) -> bool:
    """True for a screenshot with (almost) nothing on it: little variance or few distinct colours."""
    colours = len(np.unique(pixels.reshape(-1, 3)[::7], axis=0))
    return float(pixels.std()) < 8.0 or colours < 16
