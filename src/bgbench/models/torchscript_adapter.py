"""``torchscript:FILE``: a module saved with ``torch.jit.save`` (loaded with ``torch.jit.load``).

The file carries no preprocessing, so native preprocessing is ImageNet mean/std with images kept at
their size (``preprocess="inception"`` / ``"in9"`` pick other normalisations). The number of outputs
comes from one probe forward pass.
"""

from __future__ import annotations

from typing import Any

import torch

from bgbench.devices import resolve_device
from bgbench.errors import BgbenchError
from bgbench.models.base import IMAGENET_MEAN, IMAGENET_STD, Preprocessing, TorchClassifier
from bgbench.models.common import (
    ModelOptions,
    choose_preprocessing,
    existing_file,
    output_space,
    parse_options,
    reject,
    weights_info,
)


def probe_num_outputs(module: torch.nn.Module, size: int = 224) -> int:
    """Outputs per image of ``module`` on one zero image of ``size`` (tuples/HF outputs unwrapped)."""
    with torch.inference_mode():
        out = module.eval()(torch.zeros(1, 3, size, size, device=_module_device(module)))
    if isinstance(out, (tuple, list)):
        out = out[0]
    if hasattr(out, "logits"):
        out = out.logits
    if not isinstance(out, torch.Tensor) or out.ndim < 2 or out.shape[0] != 1:
        raise BgbenchError(f"model output is not (N, classes) logits (got {type(out).__name__} "
                           f"{tuple(getattr(out, 'shape', ()))})")
    return int(out.reshape(1, -1).shape[1])


def _module_device(module: torch.nn.Module) -> torch.device:
    for tensor in list(module.parameters()) + list(module.buffers()):
        return tensor.device
    return torch.device("cpu")


def wrap_plain_module(module: torch.nn.Module, spec: str, opts: ModelOptions, device: torch.device,
                      info: dict[str, Any], adapter: str) -> TorchClassifier:
    """TorchClassifier for a module with no preprocessing metadata (ImageNet mean/std, size kept)."""
    native = Preprocessing(IMAGENET_MEAN, IMAGENET_STD, input_size=None, name="imagenet")
    module = module.to(device)
    n = probe_num_outputs(module)
    prep = choose_preprocessing(opts, native, n)
    info = {"adapter": adapter, **info, "preprocess_mode": opts.preprocess, "input_size": prep.input_size,
            "output_space": output_space(n)}
    return TorchClassifier(module=module, spec=spec, num_outputs=n, preprocessing=prep, device=device,
                           precision=opts.precision, info=info)


def create(target: str, **options: Any) -> TorchClassifier:
    """Factory for ``torchscript:FILE``."""
    opts = parse_options(options)
    reject(opts, "torchscript:", "weights", "arch", "num_classes", "pretrained")
    path = existing_file(target, "TorchScript file")
    device = resolve_device(opts.device)
    try:
        module = torch.jit.load(str(path), map_location=device)
    except (RuntimeError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise BgbenchError(f"not a TorchScript file torch.jit.load can read ({reason})", path) from exc
    return wrap_plain_module(module, f"torchscript:{target}", opts, device, weights_info(path), "torchscript")
