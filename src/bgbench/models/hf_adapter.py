"""``hf:REPO_OR_DIR``: transformers image-classification models (``AutoModelForImageClassification``).

A local directory (``save_pretrained`` output) or a Hub repo id (downloaded by transformers when
online). Native preprocessing comes from the image processor config: ``image_mean`` / ``image_std``,
``size`` (height/width, or shortest_edge) and ``resample``; without a processor config, ImageNet
mean/std at 224. Output space from ``config.num_labels``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from bgbench.errors import BgbenchError
from bgbench.models.base import IMAGENET_MEAN, IMAGENET_STD, Preprocessing, TorchClassifier
from bgbench.models.common import (
    choose_preprocessing,
    first_line,
    normalise_interpolation,
    output_space,
    reject,
    sha256_file,
    sha256_state_dict,
)
from bgbench.options import ModelOptions


class LogitsOnly(torch.nn.Module):
    """Calls an HF model with ``pixel_values`` and returns its ``logits`` tensor."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=x).logits


def processor_preprocessing(processor: Any) -> Preprocessing:
    """Native preprocessing from a transformers image processor (None -> ImageNet at 224)."""
    if processor is None:
        return Preprocessing(IMAGENET_MEAN, IMAGENET_STD, 224, "bilinear", name="hf-default")
    mean = tuple(float(v) for v in (getattr(processor, "image_mean", None) or IMAGENET_MEAN))
    std = tuple(float(v) for v in (getattr(processor, "image_std", None) or IMAGENET_STD))
    size = getattr(processor, "crop_size", None) if getattr(processor, "do_center_crop", False) else None
    size = size or getattr(processor, "size", None)
    side = _side(size) or 224
    resample = getattr(processor, "resample", None)
    interpolation = normalise_interpolation(resample if resample is not None else "bilinear")
    return Preprocessing(mean=mean, std=std, input_size=int(side), interpolation=interpolation,
                         name="hf-processor")


def _side(size: Any) -> int | None:
    """Square side of a processor ``size`` (dict, SizeDict, int): height, else shortest_edge, else width."""
    if isinstance(size, (int, float)):
        return int(size)
    for key in ("height", "shortest_edge", "width"):
        value = size.get(key) if isinstance(size, dict) else getattr(size, key, None)
        if value:
            return int(value)
    return None


def create(target: str, opts: ModelOptions) -> TorchClassifier:
    """Factory for ``hf:REPO_OR_DIR``."""
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    reject(opts, "hf:", "weights", "arch", "num_classes")
    if not target:
        raise BgbenchError("hf: spec needs a Hub repo id or a local directory")
    device = torch.device(opts.device)
    local = Path(target).expanduser()
    if (target.startswith((".", "/", "~")) or local.exists()) and not (local / "config.json").is_file():
        raise BgbenchError("not a transformers model directory (no config.json)", local)
    try:
        model = AutoModelForImageClassification.from_pretrained(str(local) if local.exists() else target)
    except (OSError, ValueError, KeyError) as exc:
        raise BgbenchError(f"transformers could not load image classifier {target!r} "
                           f"({first_line(exc)})") from exc
    try:
        processor = AutoImageProcessor.from_pretrained(str(local) if local.exists() else target)
    except (OSError, ValueError, KeyError):
        processor = None
    native = processor_preprocessing(processor)
    n = int(model.config.num_labels)
    prep = choose_preprocessing(opts, native, n)
    if local.exists():
        files = sorted(local.glob("*.safetensors")) or sorted(local.glob("*.bin"))
        weights = {"weights": str(local),
                   "weights_sha256": sha256_file(files[0]) if len(files) == 1 else None,
                   "params_sha256": sha256_state_dict(model)}
    else:
        weights = {"weights": f"pretrained:hf/{target}", "weights_sha256": None,
                   "params_sha256": sha256_state_dict(model)}
    info = {"adapter": "hf", **weights, "preprocess_mode": opts.preprocess, "input_size": prep.input_size,
            "output_space": output_space(n), "model_type": getattr(model.config, "model_type", None)}
    return TorchClassifier(module=LogitsOnly(model), spec=f"hf:{target}", num_outputs=n, preprocessing=prep,
                           device=device, precision=opts.precision, info=info)
