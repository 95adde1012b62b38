"""Model registry: one spec string -> a :class:`~bgbench.models.base.Classifier`.

Spec forms: ``timm:NAME``, ``torchvision:NAME``, ``hf:REPO_OR_DIR``, ``onnx:FILE``, ``tflite:FILE``,
``torchscript:FILE``, ``ckpt:FILE``, ``python:MODULE:CALLABLE``, and built-in names (e.g.
``efficientnet_lite0``). Adapters live in their own modules and are imported only when used.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from bgbench.errors import BgbenchError
from bgbench.models.base import Classifier, Preprocessing, TorchClassifier

# spec prefix -> "module:function"; each factory is called as factory(target, **options)
ADAPTERS: dict[str, str] = {}
# built-in model name -> "module:function"; called as factory(name, **options)
BUILTINS: dict[str, str] = {}

__all__ = ["ADAPTERS", "BUILTINS", "Classifier", "Preprocessing", "TorchClassifier", "create_classifier",
           "register_adapter", "register_builtin"]


def register_adapter(prefix: str, target: str) -> None:
    ADAPTERS[prefix] = target


def register_builtin(name: str, target: str) -> None:
    BUILTINS[name] = target


def _load(target: str):
    module, _, func = target.partition(":")
    return getattr(import_module(module), func)


def create_classifier(spec: Any, **options: Any) -> Classifier:
    """Build the classifier named by ``spec`` (a spec string or :class:`~bgbench.options.ModelOptions`);
    keyword ``options`` (device, precision, weights, ...) pass through, overriding a ModelOptions'."""
    from bgbench.options import ModelOptions

    if isinstance(spec, ModelOptions):
        options = {**spec.adapter_kwargs(), **options}
        spec = spec.spec
    _register_defaults()
    if spec in BUILTINS:
        return _load(BUILTINS[spec])(spec, **options)
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in ADAPTERS:
        return _load(ADAPTERS[prefix])(rest, **options)
    known = ", ".join(sorted(f"{p}:..." for p in ADAPTERS) + sorted(BUILTINS))
    raise BgbenchError(f"unknown model spec {spec!r} (known forms: {known})")


_DEFAULTS_DONE = False


def _register_defaults() -> None:
    """Register the adapters that ship with bgbench (modules are imported lazily on use)."""
    global _DEFAULTS_DONE
    if _DEFAULTS_DONE:
        return
    _DEFAULTS_DONE = True
    try:
        registry = import_module("bgbench.models.registry")
    except ModuleNotFoundError:
        return
    registry.register_all()
