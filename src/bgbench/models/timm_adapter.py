"""``timm:NAME``: any timm model, preprocessing from ``timm.data.resolve_data_config``.

Native preprocessing takes timm's mean/std, input size and interpolation. timm's ``crop_pct`` is not
applied: the dataset images are already 224-px centre crops, so they are resized to the model's input
size with no further crop (recorded in ``describe()`` as ``timm_crop_pct_not_applied``).
"""

from __future__ import annotations

from typing import Any

import torch

from bgbench.devices import resolve_device
from bgbench.errors import BgbenchError
from bgbench.models.base import Preprocessing, TorchClassifier
from bgbench.models.common import (
    ModelOptions,
    choose_preprocessing,
    load_into,
    load_state_dict_file,
    normalise_interpolation,
    output_space,
    parse_options,
    reject,
    sha256_state_dict,
    weights_info,
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
    pretrained = opts.pretrained if opts.pretrained is not None else opts.weights is None
    if opts.weights is not None:
        pretrained = False
    kwargs: dict[str, Any] = {}
    if opts.num_classes is not None:
        kwargs["num_classes"] = int(opts.num_classes)
    try:
        module = timm.create_model(name, pretrained=pretrained, **kwargs)
    except (OSError, RuntimeError, ValueError) as exc:  # download failures, missing hub files
        raise BgbenchError(f"timm could not create {name!r} with pretrained weights "
                           f"({str(exc).splitlines()[0][:160]}); offline? pass weights=FILE (--weights) "
                           "or pretrained=False") from exc
    if opts.weights is not None:
        state, path = load_state_dict_file(opts.weights, opts.trust_pickle)
        load_into(module, state, path)
        info = weights_info(path)
    elif pretrained:
        cfg = getattr(module, "pretrained_cfg", {}) or {}
        tag = cfg.get("hf_hub_id") or f"{cfg.get('architecture', name)}.{cfg.get('tag', '')}"
        info = {"weights": f"pretrained:{tag}", "weights_sha256": None,
                "params_sha256": sha256_state_dict(module)}
    else:
        info = {"weights": "random-init", "weights_sha256": None}
    return module, info


def create(name: str, **options: Any) -> TorchClassifier:
    """Factory for ``timm:NAME`` (see :func:`bgbench.models.create_classifier` for options)."""
    opts = parse_options(options)
    reject(opts, "timm:", "arch")
    device = resolve_device(opts.device)
    module, info = create_timm_module(name, opts)
    return wrap_timm_module(module, f"timm:{name}", opts, device, info, adapter="timm")


def num_outputs_of(module: torch.nn.Module) -> int:
    """Number of logits a timm/torch classifier produces (``num_classes``, else a probe forward)."""
    n = getattr(module, "num_classes", None)
    if isinstance(n, int) and n > 0:
        return n
    with torch.inference_mode():
        return int(module.eval()(torch.zeros(1, 3, 224, 224)).reshape(1, -1).shape[1])


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
