"""Progress bars (tqdm on stderr), switched off by ``BGBENCH_PROGRESS=0`` or ``quiet=True``."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from tqdm.auto import tqdm


def progress_enabled(quiet: bool = False) -> bool:
    return not quiet and os.environ.get("BGBENCH_PROGRESS", "1") != "0"


def progress(iterable: Iterable[Any] | None = None, *, total: int | None = None, desc: str = "",
             unit: str = "img", quiet: bool = False, initial: int = 0) -> tqdm:
    """A tqdm bar with bgbench's defaults; use as an iterator wrapper or call ``.update(n)``."""
    return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, dynamic_ncols=True,
                disable=not progress_enabled(quiet), leave=False, smoothing=0.1)
