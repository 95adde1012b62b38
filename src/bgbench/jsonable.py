"""Plain-JSON conversion and the version record every result carries."""

from __future__ import annotations

import platform
import sys
from typing import Any

import numpy as np

from bgbench import __version__


def jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars/arrays, tuples and unknown objects turned into plain JSON values."""
    if isinstance(obj, dict):
        return {str(k): jsonable(val) for k, val in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(x) for x in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)


def versions() -> dict[str, str]:
    """bgbench, torch, numpy and Python versions and the platform (torch imported here)."""
    import torch

    return {"bgbench": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": sys.version.split()[0], "platform": platform.platform()}
