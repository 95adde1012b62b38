"""Device selection shared by every command: ``auto`` picks CUDA when available, else the CPU."""

from __future__ import annotations

from bgbench.errors import BgbenchError


def resolve_device(name: str = "auto", *, cuda_usable: bool = True):
    """Return a ``torch.device`` for ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (case and spaces ignored).

    ``auto`` is ``cuda`` when torch sees CUDA and ``cuda_usable`` (False: the caller's runtime cannot
    use it here, e.g. onnxruntime without its CUDA provider), else ``cpu``. ``cuda`` / ``cuda:N`` on a
    machine without CUDA is a clear one-line error rather than a silent CPU fallback.
    """
    import torch

    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if cuda_usable and torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise BgbenchError(f"--device {name} asked for, but torch sees no CUDA device (use auto or cpu)")
        try:
            return torch.device(name)
        except RuntimeError:
            raise BgbenchError(f"unknown device {name!r} (expected auto, cpu, cuda or cuda:N)") from None
    raise BgbenchError(f"unknown device {name!r} (expected auto, cpu, cuda or cuda:N)")
