"""Attribution maps with Captum for any torch classifier bgbench loads, in the IN-9 label space.

The model input. A classifier takes [0, 1] images and applies its own preprocessing: a resize to its
input size (when it has one) and ``(x - mean) / std``. Attribution is taken with respect to the
[0, 1] image *after* that resize, the grid the network sees (:func:`to_model_grid`, the classifier's
own :func:`~bgbench.models.base.resize_square` with its interpolation). Masks go through the same
function with the same interpolation (:func:`masks_to_model_grid`; a soft mask in [0, 1] where
resampling blends edges), so maps and masks share one pixel grid. The clamp to [0, 1] of the
classifier's preprocessing is left out: it is the identity on real images, and SmoothGrad's noisy
copies would otherwise get zero gradient wherever the noise leaves [0, 1].

The attributed score (:class:`ClassScores`): one differentiable score per class of the data.

- A model with one output per class (``direct``): its logits.
- A 1000-class model under the ``released`` or ``restricted`` rule, or any table mapping outputs to
  classes: the log-sum-exp of the class's member logits. Both rules predict the class whose best
  member logit is highest; log-sum-exp is the smooth version of that maximum (within log(#members)
  of it), so its gradient follows the members that drive the decision.
- Under the ``sum`` rule (softmax mass per class): the log of the class's probability mass,
  ``logsumexp(member logits) - logsumexp(all logits)``, which orders classes exactly as the rule does.

The attributed class is the image's true class (the question is "where is the evidence for the right
answer"); the run records the model's actual prediction (through the shared predictor) beside it.

Methods (Captum): ``saliency`` (absolute input gradient), ``smoothgrad`` (``NoiseTunnel`` over
absolute gradients, Gaussian noise of ``stdev`` on the [0, 1] scale), ``ig`` (integrated gradients from
a black image, ``internal_batch_size`` = the batch size) and ``gradcam`` (``LayerGradCam`` on the last
``Conv2d`` or a named layer, ReLU applied, upsampled bilinearly with ``LayerAttribution.interpolate``).
Per pixel the map is the sum over channels of the absolute attribution. Computed in fp32.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from bgbench.errors import BgbenchError
from bgbench.explain.config import METHODS, SaliencyConfig
from bgbench.models.base import resize_square

#: a finite stand-in for log(0) in the member mask (an infinite one gives NaN gradients)
_NOT_MEMBER = -1.0e4


@contextlib.contextmanager
def seeded(device: torch.device, seed: int) -> Iterator[None]:
    """Torch's global generator (and the device's, on CUDA) seeded with ``seed`` inside the block and
    restored after it (Captum draws SmoothGrad's noise from it)."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def require_torch(classifier: Any) -> Any:
    """``classifier`` when it is a :class:`~bgbench.models.base.TorchClassifier`; else a one-line
    BgbenchError (ONNX, TFLite and other graphs have no gradients)."""
    from bgbench.models.base import TorchClassifier

    if isinstance(classifier, TorchClassifier):
        return classifier
    spec = getattr(classifier, "spec", type(classifier).__name__)
    raise BgbenchError(
        f"saliency needs gradients, which {spec} ({type(classifier).__name__}) does not give: "
        f"the methods {', '.join(METHODS)} need a torch model (built-in, timm:, torchvision:, "
        "hf:, torchscript:, ckpt: or python:); bgbench probe works with any model"
    )


def member_matrix(label_map: Any, num_classes: int) -> np.ndarray | None:
    """bool (num_classes, num_outputs): output j belongs to class k; None for a direct map."""
    if label_map.table is None:
        return None
    table = np.asarray(label_map.table)
    return np.stack([table == k for k in range(num_classes)])


class ClassScores(torch.nn.Module):
    """[0, 1] images on the model's grid, float (N, 3, S, S) -> float (N, K) class scores (see the
    module docstring): the classifier's normalisation, its network, then the label-space score."""

    def __init__(
        self,
        network: torch.nn.Module,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        members: np.ndarray | None,
        rule: str,
    ) -> None:
        super().__init__()
        self.network = network
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        offsets = None if members is None else torch.where(torch.as_tensor(members), 0.0, _NOT_MEMBER)
        self.register_buffer("offsets", offsets)
        self.rule = rule

    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        x = ((x01 - self.mean) / self.std).contiguous(memory_format=torch.channels_last)  # as the classifier
        out = self.network(x)
        if isinstance(out, (tuple, list)):
            out = out[0]
        if hasattr(out, "logits"):
            out = out.logits
        logits = out.float()
        if self.offsets is None:
            return logits
        scores = torch.logsumexp(logits.unsqueeze(1) + self.offsets.unsqueeze(0), dim=2)
        if self.rule == "sum":
            scores = scores - torch.logsumexp(logits, dim=1, keepdim=True)
        return scores

    @staticmethod
    def describe(rule: str, direct: bool) -> str:
        if direct:
            return "logit of the class (one output per class)"
        if rule == "sum":
            return "log of the class's softmax mass: logsumexp(member logits) - logsumexp(all logits)"
        return f"logsumexp of the class's member logits (smooth max; the {rule} rule takes the max)"


def class_scores(predictor: Any) -> ClassScores:
    """The :class:`ClassScores` of a predictor's torch classifier and label map (same device)."""
    clf = require_torch(predictor.classifier)
    prep = clf.preprocessing
    members = member_matrix(predictor.label_map, len(predictor.class_names))
    scorer = ClassScores(clf.module, prep.mean, prep.std, members, predictor.label_map.rule)
    return scorer.to(clf.device).eval()


def model_grid_size(classifier: Any, size: tuple[int, int]) -> tuple[int, int]:
    """(height, width) of the grid the network sees for images of ``size``."""
    side = classifier.preprocessing.input_size
    return tuple(size) if side is None else (int(side), int(side))  # type: ignore[return-value]


def to_model_grid(classifier: Any, images01: torch.Tensor) -> torch.Tensor:
    """float (N, 3, H, W) [0, 1] -> (N, 3, S, S) on the classifier's device, resized exactly as its
    preprocessing does (identity without an input size or at that size)."""
    prep = classifier.preprocessing
    x = images01.to(classifier.device).float()
    return x if prep.input_size is None else resize_square(x, prep.input_size, prep.interpolation)


def masks_to_model_grid(classifier: Any, masks: np.ndarray) -> np.ndarray:
    """uint8/bool/float (N, H, W) masks -> float32 (N, S, S) in [0, 1] by the same resize as the
    images (:func:`to_model_grid`; resampling overshoot clipped)."""
    m = torch.as_tensor(np.asarray(masks, dtype=np.float32))[:, None]  # one channel: resizes per channel
    out = to_model_grid(classifier, m)[:, 0].clamp(0.0, 1.0)
    return out.cpu().numpy()


def find_layer(network: torch.nn.Module, name: str | None = None) -> torch.nn.Module:
    """The module called ``name`` in ``network`` (dotted, as ``named_modules`` gives it), or the last
    ``Conv2d`` when ``name`` is None; BgbenchError when there is none."""
    modules = dict(network.named_modules())
    if name is not None:
        if name not in modules:
            raise BgbenchError(
                f"the model has no layer {name!r} for Grad-CAM (e.g. {', '.join(list(modules)[-3:])})"
            )
        return modules[name]
    convs = [m for m in modules.values() if isinstance(m, torch.nn.Conv2d)]
    if not convs:
        raise BgbenchError(
            "gradcam needs a Conv2d layer and the model has none (TorchScript graphs hide "
            "theirs); name one with --layer or use saliency, smoothgrad or ig"
        )
    return convs[-1]


def layer_name(network: torch.nn.Module, layer: torch.nn.Module) -> str:
    """The dotted name of ``layer`` inside ``network``."""
    return next(name for name, module in network.named_modules() if module is layer)


def attribute(
    scorer: ClassScores,
    x: torch.Tensor,
    target: torch.Tensor,
    config: SaliencyConfig,
    layer: torch.nn.Module | None = None,
) -> np.ndarray:
    """float32 (N, S, S) non-negative map per image for class ``target`` (int64 (N,)) of ``x``
    (float (N, 3, S, S) [0, 1] on the scorer's device): the channel sum of absolute attributions
    (Grad-CAM: its ReLU'd map upsampled to S x S)."""
    from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, NoiseTunnel, Saliency

    x = x.detach().clone().requires_grad_(True)
    n = int(x.shape[0])
    with torch.enable_grad():
        if config.method == "saliency":
            maps = Saliency(scorer).attribute(x, target=target, abs=True)
        elif config.method == "smoothgrad":
            maps = NoiseTunnel(Saliency(scorer)).attribute(
                x,
                nt_type="smoothgrad",
                nt_samples=config.samples,
                stdevs=config.stdev,
                target=target,
                nt_samples_batch_size=max(1, config.batch_size // n),
                abs=True,
            )
        elif config.method == "ig":
            maps = IntegratedGradients(scorer).attribute(
                x, baselines=0.0, target=target, n_steps=config.steps, internal_batch_size=config.batch_size
            )
        else:
            cam = LayerGradCam(scorer, layer if layer is not None else find_layer(scorer.network))
            coarse = cam.attribute(x, target=target, relu_attributions=True)
            maps = LayerAttribution.interpolate(coarse, tuple(x.shape[-2:]), interpolate_mode="bilinear")
    return maps.detach().abs().sum(dim=1).float().cpu().numpy()
