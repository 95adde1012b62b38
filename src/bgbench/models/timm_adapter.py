"""``timm:NAME``: any timm model, preprocessing from ``timm.data.resolve_data_config``.

Native preprocessing takes timm's mean/std, input size and interpolation. timm's ``crop_pct`` is not
applied: the dataset images are already 224-px centre crops, so they are resized to the model's input
size with no further crop (recorded in ``describe()`` as ``timm_crop_pct_not_applied``).
"""

from __future__ import annotations

from typing import Any

import torch

from bgbench.errors import BgbenchError
from bgbench.models.base import Preprocessing, TorchClassifier
from bgbench.models.common import (
    ModelOptions,
    choose_preprocessing,
    load_weights,
    make_module,
    normalise_interpolation,
    output_space,
    probe_num_outputs,
    reject,
    wants_pretrained,
)


def timm_preprocessing(model: torch.nn.Module) -> tuple[Preprocessing, dict[str, Any]]:
    """Native preprocessing of a timm model and the raw data config it came from."""
    import timm.data

    cfg = timm.data.resolve_data_config({}, model=model)
    size = int(max(cfg["input_size"][1:]))
    prep = Preprocessing(mean=tuple(float(v) for v in cfg["mean"]), std=tuple(float(v) for v in cfg["std"]),
                         input_size=size, interpolation=normalise_interpolation(cfg.get("interpolation")),
                         name="timm")
    return prep, cfg


def create_timm_module(name: str, opts: ModelOptions) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Create ``name`` with timm, then load ``opts.weights`` or pretrained weights.

    Returns (module, weights info for ``describe()``).
    """
    import timm

    if not name:
        raise BgbenchError("timm: spec needs a model name, e.g. timm:resnet50")
    if not timm.is_model(name):
        close = timm.list_models(f"*{name.split('.')[0][:12]}*")[:5]
        hint = f" (similar: {', '.join(close)})" if close else ""
        raise BgbenchError(f"unknown timm model {name!r}{hint}")
    pretrained = wants_pretrained(opts)
    module = make_module("timm", name, timm.create_model, opts, pretrained=pretrained)
    tag = None
    if pretrained:
        cfg = getattr(module, "pretrained_cfg", {}) or {}
        tag = cfg.get("hf_hub_id") or f"{cfg.get('architecture', name)}.{cfg.get('tag', '')}"
    return module, load_weights(module, opts, tag)


def create(name: str, opts: ModelOptions) -> TorchClassifier:
    """Factory for ``timm:NAME`` (see :func:`bgbench.models.create_classifier` for options)."""
    reject(opts, "timm:", "arch")
    device = torch.device(opts.device)
    module, info = create_timm_module(name, opts)
    return wrap_timm_module(module, f"timm:{name}", opts, device, info, adapter="timm")


def num_outputs_of(module: torch.nn.Module) -> int:
    """Number of logits a timm/torch classifier produces (``num_classes``, else a probe forward)."""
    n = getattr(module, "num_classes", None)
    return n if isinstance(n, int) and n > 0 else probe_num_outputs(module)


def wrap_timm_module(module: torch.nn.Module, spec: str, opts: ModelOptions, device: torch.device,
                     info: dict[str, Any], adapter: str,
                     native: Preprocessing | None = None) -> TorchClassifier:
    """Wrap a timm module as a TorchClassifier with native (timm) or requested preprocessing."""
    timm_native, cfg = timm_preprocessing(module)
    native = native or timm_native
    n = num_outputs_of(module)
    prep = choose_preprocessing(opts, native, n)
    info = {"adapter": adapter, **info, "preprocess_mode": opts.preprocess,
            "input_size": prep.input_size, "output_space": output_space(n),
            "timm_crop_pct_not_applied": cfg.get("crop_pct")}
    return TorchClassifier(module=module, spec=spec, num_outputs=n, preprocessing=prep, device=device,
                           precision=opts.precision, info=info)
