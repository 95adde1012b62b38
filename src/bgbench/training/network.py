"""The network to train: a loaded torch model with a new head, or a timm architecture from scratch
(``--model timm:NAME --scratch``, i.e. ``pretrained=False``).

:func:`make_network` returns a :class:`Network` whose ``module`` ends in a ``num_classes``-way
linear layer and whose ``classifier`` (a :class:`~bgbench.models.base.TorchClassifier` around the
same module) holds the preprocessing the model expects. :func:`features` and :func:`head` give the
pre-logit features and the last layer, for last-layer retraining.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from bgbench.config import ModelArg
from bgbench.errors import BgbenchError
from bgbench.models.common import reset_head
from bgbench.options import ModelOptions


@dataclass
class Network:
    """``module``: the torch model (``num_classes`` outputs); ``classifier``: it wrapped with its
    preprocessing; ``arch``: the timm architecture name that rebuilds it (None when not timm);
    ``source``: what it started from (spec, weights hash, or "scratch")."""

    module: nn.Module
    classifier: Any
    arch: str | None
    source: dict[str, Any]


#: spec forms whose spec rebuilds the (untrained) architecture, so a checkpoint can name it as its arch
REBUILDABLE = ("python:", "torchvision:")


def _timm_arch(module: nn.Module) -> str | None:
    cfg = getattr(module, "pretrained_cfg", None) or getattr(module, "default_cfg", None) or {}
    return cfg.get("architecture") if hasattr(module, "reset_classifier") else None


#: spec prefixes ``--scratch`` (``pretrained=False``) can train from random weights
SCRATCH_PREFIXES = ("timm:", "torchvision:")
#: autocast precisions of full training (fp16 would need loss scaling, which the loop does not do)
TRAIN_PRECISIONS = ("fp32", "bf16")


def training_options(model: ModelArg = None, *, head_only: bool = False) -> ModelOptions:
    """The :class:`ModelOptions` of a training run (``model``: a spec, ModelOptions or None: the
    default model), refusing in one line what training cannot honour: a ready classifier (training
    builds its own network from the options), ``arch`` without a ``ckpt:`` spec (the old from-scratch
    form), ``pretrained=False`` (from scratch) with a spec other than ``timm:``/``torchvision:`` or
    with ``weights``, and fp16 for full training."""
    if model is not None and not isinstance(model, (str, ModelOptions)):
        raise BgbenchError("train needs a model spec or ModelOptions (it builds and trains its own "
                           f"network), not a ready {type(model).__name__}")
    opts = ModelOptions.of(model)
    if opts.arch is not None and not opts.spec.startswith("ckpt:"):
        name = opts.arch.removeprefix("timm:")
        raise BgbenchError(f"--arch names the architecture of a ckpt: file; to train {name} from scratch "
                           f"give --model timm:{name} --scratch (Python: train(data, "
                           f"ModelOptions('timm:{name}', pretrained=False), ...))")
    if opts.pretrained is False and not opts.spec.startswith(SCRATCH_PREFIXES):
        raise BgbenchError("--scratch (pretrained=False) trains a timm:NAME or torchvision:NAME architecture "
                           f"from random weights, not {opts.spec}")
    if opts.pretrained is False and opts.weights is not None:
        raise BgbenchError("--scratch starts from random weights and --weights names a file: give one")
    if not head_only and opts.precision not in TRAIN_PRECISIONS:
        raise BgbenchError(f"training runs at --precision {' or '.join(TRAIN_PRECISIONS)}, not "
                           f"{opts.precision} ({opts.precision} training would need loss scaling; "
                           "--head-only accepts it for the frozen backbone's features)")
    return opts


def _scratch_timm(opts: ModelOptions, num_classes: int, device: torch.device) -> Network:
    """timm's ``opts.spec`` architecture with random weights and a ``num_classes``-way head, wrapped
    with ``opts``' preprocessing and precision (the caller seeds torch)."""
    import timm

    from bgbench.models.timm_adapter import wrap_timm_module

    name = opts.spec.removeprefix("timm:")
    if not timm.is_model(name):
        raise BgbenchError(f"unknown timm architecture {name!r} (--model timm:NAME --scratch)")
    module = timm.create_model(name, pretrained=False, num_classes=num_classes)
    clf = wrap_timm_module(module, opts.spec, opts, device, {"weights": "random init"}, adapter="train")
    return Network(module, clf, name, {"arch": name, "pretrained": False})


def make_network(options: ModelOptions, num_classes: int, device: torch.device, seed: int = 0) -> Network:
    """A trainable network: the model ``options`` name with its head replaced by a fresh
    ``num_classes``-way layer (seeded), or with ``options.pretrained`` False and a ``timm:NAME`` spec,
    that architecture from random weights (seeded). Its classifier runs at ``options``' precision and
    preprocessing. Only torch models can be trained."""
    from bgbench.models import create_classifier
    from bgbench.models.base import TorchClassifier

    torch.manual_seed(seed)
    if options.pretrained is False and options.spec.startswith("timm:"):
        return _scratch_timm(options, num_classes, device)
    opts = options
    clf = create_classifier(opts.with_(device=str(device)))
    if not isinstance(clf, TorchClassifier):
        raise BgbenchError(
            f"{opts.spec} is not a torch model (ONNX/TFLite graphs have no gradients); "
            "training needs a timm, torchvision, built-in or checkpoint model (or timm:NAME --scratch)"
        )
    module = clf.module
    source = {"spec": opts.spec, "weights_sha256": clf.info.get("weights_sha256"),
              "pretrained": opts.pretrained is not False}
    # what rebuilds the architecture for ckpt: (model.json's arch): timm's name, else the spec itself
    # for specs that build a fresh module (python:MOD:FN, torchvision:NAME)
    arch_name = _timm_arch(module) or (opts.spec if opts.spec.startswith(REBUILDABLE) else None)
    torch.manual_seed(seed)
    reset_head(module, num_classes)
    module.to(device)
    clf.num_outputs = num_classes
    clf.info = {**clf.info, "output_space": "in9" if num_classes == 9 else "custom"}
    return Network(module, clf, arch_name, source)


def features(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Pre-logit features (N, D) of normalised input ``x`` (timm models: forward_features +
    forward_head(pre_logits=True); others: the input of the last linear layer)."""
    if hasattr(module, "forward_features") and hasattr(module, "forward_head"):
        return module.forward_head(module.forward_features(x), pre_logits=True)
    captured: list[torch.Tensor] = []
    layer = head(module)
    handle = layer.register_forward_hook(lambda _m, inputs, _o: captured.append(inputs[0]))
    try:
        module(x)
    finally:
        handle.remove()
    return captured[0].flatten(1)


def head(module: nn.Module) -> nn.Linear:
    """The model's last linear layer (what last-layer retraining trains)."""
    if hasattr(module, "get_classifier"):
        layer = module.get_classifier()
        if isinstance(layer, nn.Linear):
            return layer
    layers = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise BgbenchError("the model has no linear last layer to retrain")
    return layers[-1]
