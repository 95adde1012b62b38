"""The classifier interface every model adapter returns.

A :class:`Classifier` takes images as float32 tensors of shape (N, 3, H, W) with values in [0, 1]
(RGB, on ``classifier.device``) and returns logits of shape (N, num_outputs). It owns its
preprocessing (resize to its input size, normalisation) so that callers (eval, challenge) only ever
deal with [0, 1] images, exactly the space in which the released challenge composites.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class Preprocessing:
    """How [0,1] images become model input.

    ``input_size`` None keeps the images' own size (the released script: 224-px images as they are);
    otherwise images whose size differs are resized (no crop: dataset images are already centre
    crops) to ``input_size`` x ``input_size`` with ``interpolation`` (bilinear|bicubic|nearest,
    antialiased when shrinking). Then ``(x - mean) / std`` per channel.
    """

    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    input_size: int | None = None
    interpolation: str = "bilinear"
    name: str = "custom"
    clamp: bool = True

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "mean": list(self.mean), "std": list(self.std),
                "input_size": self.input_size, "interpolation": self.interpolation,
                "resize_rule": "dataset image (already a centre crop) resized to input_size, no crop"}


def resize_square(x: torch.Tensor, size: int, interpolation: str) -> torch.Tensor:
    """Resize (N, C, H, W) float images to (N, C, size, size); identity when already that size."""
    if x.shape[-2:] == (size, size):
        return x
    if interpolation == "nearest":
        return F.interpolate(x, size=(size, size), mode="nearest")
    return F.interpolate(x, size=(size, size), mode=interpolation, align_corners=False, antialias=True)


class Classifier:
    """Base adapter. Subclasses implement :meth:`forward_preprocessed` or override :meth:`__call__`."""

    spec: str
    num_outputs: int
    device: torch.device
    preprocessing: Preprocessing
    info: dict[str, Any]

    def __call__(self, x01: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What produced the predictions: spec, weights hash, preprocessing, device, precision."""
        return {"spec": self.spec, "num_outputs": self.num_outputs, "device": str(self.device),
                "preprocessing": self.preprocessing.describe(), **self.info}


@dataclass
class TorchClassifier(Classifier):
    """An ``nn.Module`` run under inference mode, channels-last, optional autocast."""

    module: torch.nn.Module
    spec: str
    num_outputs: int
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    precision: str = "fp32"
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(PRECISIONS)}")
        self.module = self.module.eval().to(self.device).to(memory_format=torch.channels_last)
        shape = (1, 3, 1, 1)
        self._mean = torch.tensor(self.preprocessing.mean, device=self.device).view(shape)
        self._std = torch.tensor(self.preprocessing.std, device=self.device).view(shape)
        self.info = {"precision": self.precision, **self.info}

    def preprocess(self, x01: torch.Tensor) -> torch.Tensor:
        """[0,1] images (N,3,H,W) on the device -> normalised model input, channels-last."""
        x = x01.to(self.device, non_blocking=True).float()
        if self.preprocessing.clamp:
            x = x.clamp(0.0, 1.0)
        if self.preprocessing.input_size is not None:
            x = resize_square(x, self.preprocessing.input_size, self.preprocessing.interpolation)
        x = (x - self._mean) / self._std
        return x.contiguous(memory_format=torch.channels_last)

    def autocast(self):
        """The context every forward pass of this classifier runs in: ``torch.autocast`` to its
        precision on its device, nothing for fp32."""
        dtype = PRECISIONS[self.precision]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    @torch.inference_mode()
    def __call__(self, x01: torch.Tensor) -> torch.Tensor:
        x = self.preprocess(x01)
        with self.autocast():
            out = self.module(x)
        if isinstance(out, (tuple, list)):
            out = out[0]
        if hasattr(out, "logits"):
            out = out.logits
        return out.float()
