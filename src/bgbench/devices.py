"""Device selection shared by every command: ``auto`` picks CUDA when available, else the CPU."""

from __future__ import annotations

from bgbench.errors import BgbenchError


def resolve_device(name: str = "auto"):
    """Return a ``torch.device`` for ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.

    ``cuda`` on a machine without CUDA is a clear error rather than a silent CPU fallback.
    """
    import torch

    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise BgbenchError(f"--device {name} asked for, but torch sees no CUDA device (use auto or cpu)")
        return torch.device(name)
    raise BgbenchError(f"unknown device {name!r} (expected auto, cpu, cuda or cuda:N)")
