"""``torchvision:NAME``: ``torchvision.models.get_model`` with the weights enum's transforms.

Native preprocessing takes mean/std, crop size (the model's input size) and interpolation from the
default weights' ``transforms()`` (its resize-then-crop is replaced by a plain resize of the dataset's
centre-cropped images to the crop size). Weights are the default pretrained ones (downloaded by
torchvision when online), a local file (``weights=``) or random (``pretrained=False``).
"""

from __future__ import annotations

from typing import Any

import torch

from bgbench.errors import BgbenchError
from bgbench.models import common
from bgbench.models.base import IMAGENET_MEAN, IMAGENET_STD, Preprocessing, TorchClassifier
from bgbench.options import ModelOptions


def torchvision_preprocessing(weights_enum: Any) -> tuple[Preprocessing, dict[str, Any]]:
    """Native preprocessing from a weights enum member (ImageNet defaults at 224 when None)."""
    if weights_enum is None:
        return Preprocessing(IMAGENET_MEAN, IMAGENET_STD, 224, "bilinear", name="torchvision-default"), {}
    t = weights_enum.transforms()
    crop = getattr(t, "crop_size", [224])
    resize = getattr(t, "resize_size", None)
    size = int(crop[0] if isinstance(crop, (list, tuple)) else crop)
    prep = Preprocessing(mean=tuple(float(v) for v in t.mean), std=tuple(float(v) for v in t.std),
                         input_size=size, interpolation=common.normalise_interpolation(t.interpolation),
                         name="torchvision")
    return prep, {"torchvision_resize_size_not_applied": resize}


def create(name: str, opts: ModelOptions) -> TorchClassifier:
    """Factory for ``torchvision:NAME`` (options as in :func:`bgbench.models.create_classifier`)."""
    import torchvision

    common.reject(opts, "torchvision:", "arch")
    device = torch.device(opts.device)
    if name not in torchvision.models.list_models():
        raise BgbenchError(f"unknown torchvision model {name!r} "
                           "(see torchvision.models.list_models())")
    try:
        default = torchvision.models.get_model_weights(name).DEFAULT
    except (ValueError, KeyError, AttributeError):
        default = None
    pretrained = common.wants_pretrained(opts)
    if pretrained and default is None:
        raise BgbenchError(f"torchvision model {name!r} has no pretrained weights; pass pretrained=False "
                           "or weights=FILE")
    module = common.make_module("torchvision", name, torchvision.models.get_model, opts,
                         weights=default if pretrained else None)
    info = common.load_weights(module, opts, f"torchvision/{default}" if pretrained else None)
    native, extra = torchvision_preprocessing(default)
    n = (common.probe_num_outputs(module, native.input_size or 224) if opts.num_classes is None
         else int(opts.num_classes))
    prep = common.choose_preprocessing(opts, native, n)
    info = {"adapter": "torchvision", **info, "preprocess_mode": opts.preprocess,
            "input_size": prep.input_size, "output_space": common.output_space(n), **extra}
    return TorchClassifier(module=module, spec=f"torchvision:{name}", num_outputs=n, preprocessing=prep,
                           device=device, precision=opts.precision, info=info)
