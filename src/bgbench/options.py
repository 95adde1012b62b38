"""Which model, and how to run it: the one options object every entry point takes.

:class:`ModelOptions` is shared by eval, the challenge, the sweep and the demo (and by every later
command); the CLI builds it from one option group (:mod:`bgbench.cli.common`), so a command gets all
model options, with the same names and help, in one line. Adapter factories receive the whole
ModelOptions (``factory(target, options)``, see :func:`bgbench.models.create_classifier`); the label
map reads ``map_rule`` and ``class_map``.

This module imports neither torch nor any adapter: building options is cheap.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, ClassVar

from bgbench.errors import BgbenchError

#: the model ``bgbench eval``, ``challenge`` and ``demo`` use when none is named
DEFAULT_MODEL = "efficientnet_lite0"
MAP_RULES: tuple[str, ...] = ("released", "restricted", "sum")
PRECISION_NAMES: tuple[str, ...] = ("fp32", "bf16", "fp16")
#: ``preprocess=`` values: ``native`` (the adapter's own config), ``released`` (the released script),
#: or a named normalisation preset applied at the adapter's native input size.
PREPROCESS_MODES: tuple[str, ...] = ("native", "released", "imagenet", "inception", "in9")
INT8_MODES: tuple[str, ...] = ("reference", "native")
#: ``prompts=`` of zero-shot (CLIP-style) models: the 1000 ImageNet class names (then the label map,
#: as for any ImageNet model) or the nine IN-9 super-classes prompted directly (a 9-way model)
PROMPT_SETS: tuple[str, ...] = ("imagenet", "in9")
#: ``templates=`` of zero-shot models: open_clip's 80 OpenAI ImageNet templates or its 7 simple ones
TEMPLATE_SETS: tuple[str, ...] = ("openai", "simple")


@dataclass(frozen=True)
class ModelOptions:
    """The model to load and how to run it (see docs/models.md and docs/api.md).

    - ``spec``: built-in name (``efficientnet_lite0``), ``timm:NAME``, ``torchvision:NAME``,
      ``hf:REPO``, ``onnx:FILE``, ``tflite:FILE``, ``torchscript:FILE``, ``ckpt:FILE``,
      ``python:MODULE:CALLABLE``, zero-shot ``open_clip:ARCH/PRETRAINED`` / ``hf_clip:REPO_OR_DIR``
      (``bgbench.list_models()`` lists them).
    - ``weights``: a local weights file (state dict or safetensors); ``pretrained``: ask the adapter
      for (or against) its pretrained weights (``False``: random weights, what ``bgbench train
      --scratch`` sets); ``arch`` / ``num_classes``: the architecture of a ``ckpt:`` file (nothing
      else); ``trust_pickle``: allow checkpoints that need pickle.
    - ``device``: ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (``create_classifier`` resolves ``auto``
      before the adapter sees it); ``precision``: ``fp32`` (exact), ``bf16``,
      ``fp16`` (autocast of every forward pass on the device, training's included); ``preprocess``:
      one of :data:`PREPROCESS_MODES`; ``int8``: arithmetic of quantized ONNX graphs (``reference``
      or ``native``).
    - ``prompts`` (:data:`PROMPT_SETS`) and ``templates`` (:data:`TEMPLATE_SETS`): the class prompts
      of zero-shot models (``open_clip:``, ``hf_clip:``); other models refuse a non-default value.
    - ``map_rule`` (``released``, ``restricted``, ``sum``) and ``class_map`` (a JSON mapping file)
      turn the model's outputs into the dataset's classes.
    """

    spec: str = DEFAULT_MODEL
    weights: str | Path | None = None
    pretrained: bool | None = None
    arch: str | None = None
    num_classes: int | None = None
    trust_pickle: bool = False
    device: str = "auto"
    precision: str = "fp32"
    preprocess: str = "native"
    int8: str = "reference"
    prompts: str = "imagenet"
    templates: str = "openai"
    map_rule: str = "released"
    class_map: str | Path | None = None

    #: the fields the label map reads (the others choose and load the model)
    LABEL_FIELDS: ClassVar[tuple[str, ...]] = ("map_rule", "class_map")

    def __post_init__(self) -> None:
        if not isinstance(self.spec, str) or not self.spec:
            raise BgbenchError(f"model spec must be a non-empty string, got {self.spec!r}")
        checks = (("precision", "precision", PRECISION_NAMES),
                  ("preprocess", "preprocessing", PREPROCESS_MODES),
                  ("int8", "int8 arithmetic", INT8_MODES), ("map_rule", "--map rule", MAP_RULES),
                  ("prompts", "--prompts set", PROMPT_SETS), ("templates", "--templates set", TEMPLATE_SETS))
        for name, what, allowed in checks:
            value = getattr(self, name)
            if value not in allowed:
                raise BgbenchError(f"unknown {what} {value!r} (expected one of {', '.join(allowed)})")
        if self.num_classes is not None and int(self.num_classes) < 1:
            raise BgbenchError(f"--num-classes must be positive, got {self.num_classes}")
        from bgbench.models.registry import require_runtime

        require_runtime(self.spec)  # a missing onnxruntime/LiteRT/transformers is named before any work

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Every field name (the keywords :meth:`of` accepts)."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def of(cls, model: Any = None, **overrides: Any) -> ModelOptions:
        """Options from a spec string, a ModelOptions, or None (the default model), with keyword
        ``overrides`` (field names only; an unknown name is a TypeError, a ``None`` value keeps the
        default). A ready :class:`~bgbench.models.base.Classifier` is not options: callers handle
        it before (its own spec is recorded)."""
        unknown = set(overrides) - set(cls.names())
        if unknown:
            raise TypeError(f"unknown model option(s): {', '.join(sorted(unknown))} "
                            f"(known: {', '.join(cls.names())})")
        changes = {k: v for k, v in overrides.items() if v is not None}
        if model is None:
            base = cls()
        elif isinstance(model, ModelOptions):
            base = model
        elif isinstance(model, str):
            base = cls(spec=model)
        else:
            raise BgbenchError(f"model must be a spec string or ModelOptions, got {type(model).__name__}")
        return replace(base, **changes) if changes else base

    def with_(self, **changes: Any) -> ModelOptions:
        """A copy with some fields changed (``dataclasses.replace``, validated again)."""
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form (paths as strings)."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


def short_name(spec: str, limit: int = 30) -> str:
    """A model spec shortened for a figure (``ckpt:/a/runs/original/model.safetensors`` -> ckpt:original)."""
    if spec.startswith("ckpt:") and spec.endswith("model.safetensors"):
        spec = "ckpt:" + Path(spec[5:]).parent.name
    return spec if len(spec) <= limit else "..." + spec[-(limit - 3) :]
