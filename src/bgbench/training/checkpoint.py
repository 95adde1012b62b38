"""The trained model on disk: ``DIR/model.safetensors`` and its JSON sidecar ``DIR/model.json``.

The sidecar (schema bgbench.model/1) records what ``ckpt:DIR/model.safetensors`` needs to rebuild
the model with no other option (``arch``, ``num_classes``, ``preprocessing``) and what produced it
(``classes``, ``variant``, ``mode``, ``recipe``, ``seed``, ``data_fingerprint``, ``source``,
final ``metrics``, versions).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

MODEL_SCHEMA = "bgbench.model/1"
WEIGHTS_NAME = "model.safetensors"
SIDECAR_NAME = "model.json"


def sidecar_path(weights: str | Path) -> Path:
    """``DIR/model.json`` beside ``DIR/model.safetensors`` (``<stem>.json`` in general)."""
    return Path(weights).with_suffix(".json")


def save_checkpoint(out: Path, module: torch.nn.Module, record: dict[str, Any]) -> Path:
    """Write ``out/model.safetensors`` (the state dict) and ``out/model.json`` (``record`` plus the
    schema and the weights' sha256), atomically; returns the weights path."""
    from safetensors.torch import save as save_tensors

    from bgbench import __version__
    from bgbench.atomic import atomic_write_bytes, atomic_write_json

    weights = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    blob = save_tensors(weights)
    path = Path(out) / WEIGHTS_NAME
    atomic_write_bytes(path, blob)
    atomic_write_json(
        sidecar_path(path),
        {
            "schema": MODEL_SCHEMA,
            **record,
            "weights": WEIGHTS_NAME,
            "weights_sha256": hashlib.sha256(blob).hexdigest(),
            "bgbench_version": __version__,
        },
    )
    return path
