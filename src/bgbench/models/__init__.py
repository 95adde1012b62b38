"""Models: one spec (or :class:`~bgbench.options.ModelOptions`) -> a :class:`~bgbench.models.base.Classifier`.

Spec forms: ``timm:NAME``, ``torchvision:NAME``, ``hf:REPO_OR_DIR``, ``onnx:FILE``, ``tflite:FILE``,
``torchscript:FILE``, ``ckpt:FILE``, ``python:MODULE:CALLABLE``, the zero-shot forms
``open_clip:ARCH/PRETRAINED`` and ``hf_clip:REPO_OR_DIR``, and model names (e.g.
``efficientnet_lite0``); :mod:`bgbench.models.registry` holds them (``list_models()``). Adapters live
in their own modules and are imported only when used; importing this package imports no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bgbench.errors import BgbenchError
from bgbench.lazy import lazy_attributes
from bgbench.models.registry import list_models, register_model, register_spec_form, resolve

#: spec prefixes of the zero-shot (text-prompted) forms, the only ones that take prompts/templates
ZERO_SHOT_PREFIXES: tuple[str, ...] = ("open_clip", "hf_clip")

if TYPE_CHECKING:
    from bgbench.models.base import Classifier, Preprocessing, TorchClassifier
    from bgbench.options import ModelOptions  # not imported at run time: bgbench.options imports this package

__all__ = ["Classifier", "Preprocessing", "TorchClassifier", "create_classifier", "list_models",
           "register_model", "register_spec_form"]

# torch is imported only when these are asked for
__getattr__ = lazy_attributes(__name__, dict.fromkeys(("Classifier", "Preprocessing", "TorchClassifier"),
                                                      "bgbench.models.base"))


def create_classifier(spec: str | ModelOptions, /, **options: Any) -> Classifier:
    """Build the classifier that ``spec`` names.

    ``spec`` (positional): a spec string (``efficientnet_lite0``, ``timm:resnet50``,
    ``onnx:model.onnx``, ...) or a :class:`~bgbench.options.ModelOptions`, whose
    :meth:`~bgbench.options.ModelOptions.adapter_kwargs` become the options.

    ``options``: the adapter options (``device``, ``precision``, ``weights``, ``pretrained``,
    ``arch``, ``num_classes``, ``trust_pickle``, ``preprocess``, ``int8``, and for the zero-shot
    forms ``prompts`` and ``templates``), overriding those of a ModelOptions; ``map_rule``,
    ``class_map`` and ``spec`` are accepted and ignored (the label map is built elsewhere); any
    other name is a TypeError. An unknown spec raises a one-line BgbenchError listing the known
    forms; ``prompts`` / ``templates`` other than the defaults for a form that is not zero-shot
    raise one too.
    """
    if not isinstance(spec, str):
        if not hasattr(spec, "adapter_kwargs"):
            raise BgbenchError(f"model must be a spec string or ModelOptions, got {type(spec).__name__}")
        options = {**spec.adapter_kwargs(), **options}
        spec = spec.spec
    entry, target = resolve(spec)
    if entry.prefix not in ZERO_SHOT_PREFIXES:
        for name, default in (("prompts", "imagenet"), ("templates", "openai")):
            if options.get(name, default) != default:
                raise BgbenchError(f"--{name} applies only to zero-shot models "
                                   f"({', '.join(p + ':' for p in ZERO_SHOT_PREFIXES)}), not to {spec}")
    return entry.load()(target, **options)
