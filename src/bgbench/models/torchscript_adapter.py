"""``torchscript:FILE``: a module saved with ``torch.jit.save`` (loaded with ``torch.jit.load``).

The file carries no preprocessing, so native preprocessing is ImageNet mean/std with images kept at
their size (``preprocess="inception"`` / ``"in9"`` pick other normalisations). The number of outputs
comes from one probe forward pass.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from bgbench.errors import BgbenchError
from bgbench.models.base import IMAGENET_MEAN, IMAGENET_STD, Preprocessing, TorchClassifier
from bgbench.models.common import (
    ModelOptions,
    choose_preprocessing,
    existing_file,
    first_sentence,
    output_space,
    probe_num_outputs,
    reject,
    weights_info,
)


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


def create(target: str, opts: ModelOptions) -> TorchClassifier:
    """Factory for ``torchscript:FILE``."""
    reject(opts, "torchscript:", "weights", "arch", "num_classes", "pretrained")
    path = existing_file(target, "TorchScript file")
    device = torch.device(opts.device)
    try:
        with warnings.catch_warnings():  # torch's deprecation notice is not the user's problem
            warnings.simplefilter("ignore", FutureWarning)
            module = torch.jit.load(str(path), map_location=device)
    except (RuntimeError, ValueError, EOFError) as exc:
        raise BgbenchError(f"not a TorchScript file torch.jit.load can read ({first_sentence(exc)})",
                           path) from None
    return wrap_plain_module(module, f"torchscript:{target}", opts, device, weights_info(path), "torchscript")
