"""Resumable training state: written atomically at the end of every epoch, read back safely.

``DIR/state/model-eN.safetensors`` holds the weights after epoch N (safetensors),
``DIR/state/state-eN.pt`` the optimiser state, the step and the
history (tensors and plain numbers only, so it loads with ``torch.load(weights_only=True)``);
``DIR/state/key.json``, written last, names the newest complete epoch and the run key
(:func:`bgbench.resume.run_key` of data, model, recipe, seed; the data order and augmentation draws
follow from the seed and the epoch), so a kill at any moment leaves a consistent pair and another
run never resumes from it.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

STATE_DIR = "state"


def save_state(
    out: Path,
    key: str,
    module: torch.nn.Module,
    optimizer,
    step: int,
    epoch: int,
    history: list[dict[str, Any]],
) -> None:
    """Write the state of a finished epoch (each file atomically, the key last), then drop older epochs."""
    from safetensors.torch import save as save_tensors

    from bgbench.atomic import atomic_write_bytes
    from bgbench.resume import write_state

    folder = Path(out) / STATE_DIR
    weights = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    atomic_write_bytes(folder / f"model-e{epoch}.safetensors", save_tensors(weights))
    buffer = io.BytesIO()
    torch.save(
        {
            "optimizer": optimizer.state_dict(),
            "step": step,
            "epoch": epoch,
            "history": history,
        },
        buffer,
    )
    atomic_write_bytes(folder / f"state-e{epoch}.pt", buffer.getvalue())
    write_state(folder / "key.json", {"key": key, "epoch": epoch, "step": step})
    for old in list(folder.glob("model-e*.safetensors")) + list(folder.glob("state-e*.pt")):
        if old.stem.rsplit("-e", 1)[-1] != str(epoch):
            old.unlink(missing_ok=True)


def load_state(
    out: Path, key: str, module: torch.nn.Module, optimizer
) -> tuple[int, int, list[dict[str, Any]]] | None:
    """Restore module and optimizer from ``out/state`` when its key matches; returns
    (step, epoch, history) or None (nothing saved, another run's state, or damaged files)."""
    from safetensors.torch import load_file

    from bgbench.resume import read_state

    folder = Path(out) / STATE_DIR
    saved = read_state(folder / "key.json")
    if saved is None or saved.get("key") != key:
        return None
    try:
        epoch = int(saved["epoch"])
        weights = load_file(str(folder / f"model-e{epoch}.safetensors"))
        state = torch.load(folder / f"state-e{epoch}.pt", map_location="cpu", weights_only=True)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError):
        return None
    if int(state["epoch"]) != epoch:
        return None
    module.load_state_dict(weights, strict=True)
    optimizer.load_state_dict(state["optimizer"])
    return int(state["step"]), int(state["epoch"]), list(state["history"])
