"""Models: one spec (or :class:`~bgbench.options.ModelOptions`) -> a :class:`~bgbench.models.base.Classifier`.

Spec forms: ``timm:NAME``, ``torchvision:NAME``, ``hf:REPO_OR_DIR``, ``onnx:FILE``, ``tflite:FILE``,
``torchscript:FILE``, ``ckpt:FILE``, ``python:MODULE:CALLABLE``, the zero-shot forms
``open_clip:ARCH/PRETRAINED`` and ``hf_clip:REPO_OR_DIR``, and model names (e.g.
``efficientnet_lite0``); :mod:`bgbench.models.registry` holds them (``list_models()``). Adapters live
in their own modules and are imported only when used; importing this package imports no torch.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bgbench.errors import BgbenchError
from bgbench.lazy import lazy_attributes
from bgbench.models.registry import list_models, register_model, register_spec_form, resolve
from bgbench.options import ModelOptions

#: spec prefixes of the zero-shot (text-prompted) forms, the only ones that take prompts/templates
ZERO_SHOT_PREFIXES: tuple[str, ...] = ("open_clip", "hf_clip")

if TYPE_CHECKING:
    from bgbench.models.base import Classifier, Preprocessing, TorchClassifier

__all__ = ["Classifier", "Preprocessing", "TorchClassifier", "create_classifier", "list_models",
           "register_model", "register_spec_form"]

# torch is imported only when these are asked for
__getattr__ = lazy_attributes(__name__, dict.fromkeys(("Classifier", "Preprocessing", "TorchClassifier"),
                                                      "bgbench.models.base"))


def create_classifier(spec_or_options: str | ModelOptions, /, **overrides: Any) -> Classifier:
    """Build the classifier that a spec or :class:`~bgbench.options.ModelOptions` names.

    ``spec_or_options`` (positional): a spec string (``efficientnet_lite0``, ``timm:resnet50``,
    ``onnx:model.onnx``, ...) or a ModelOptions. ``overrides``: ModelOptions field names
    (``device``, ``precision``, ``weights``, ``pretrained``, ``arch``, ``num_classes``,
    ``trust_pickle``, ``preprocess``, ``int8``, ``prompts``, ``templates``, also ``spec``,
    ``map_rule``, ``class_map``), a convenience for ``ModelOptions.of(spec_or_options, **overrides)``
    (a None value keeps the option as it is); any other name is a TypeError.

    The device is resolved here, once (:func:`concrete_device`): the factory is called as
    ``factory(target, options)`` with ``options.device`` a concrete ``cpu``, ``cuda`` or ``cuda:N``.
    An unknown spec raises a one-line BgbenchError listing the known forms; so do a device torch
    cannot use and ``prompts`` / ``templates`` other than the defaults for a form that is not
    zero-shot.
    """
    options = ModelOptions.of(spec_or_options, **overrides)
    spec = options.spec
    entry, target = resolve(spec)
    if entry.prefix not in ZERO_SHOT_PREFIXES:
        for name, default in (("prompts", "imagenet"), ("templates", "openai")):
            if getattr(options, name) != default:
                raise BgbenchError(f"--{name} applies only to zero-shot models "
                                   f"({', '.join(p + ':' for p in ZERO_SHOT_PREFIXES)}), not to {spec}")
    factory = entry.load()
    return factory(target, options.with_(device=concrete_device(factory, options.device)))


def concrete_device(factory: Callable[..., Any], device: str) -> str:
    """``device`` (``auto``, ``cpu``, ``cuda``, ``cuda:N``) as the concrete device ``factory`` gets,
    via :func:`bgbench.devices.resolve_device` (a one-line BgbenchError for CUDA that torch does
    not see or an unknown name).

    ``auto`` picks CUDA when torch sees it, unless the factory's module defines ``cuda_usable() ->
    bool`` and it says False (its runtime cannot use CUDA here: TFLite, onnxruntime without its CUDA
    provider); then the CPU.
    """
    from bgbench.devices import resolve_device

    usable = True
    if (device or "auto").strip().lower() == "auto":
        hook = getattr(sys.modules.get(getattr(factory, "__module__", "")), "cuda_usable", None)
        usable = hook is None or bool(hook())
    return str(resolve_device(device, cuda_usable=usable))
