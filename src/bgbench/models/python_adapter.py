"""``python:MODULE:CALLABLE``: anything else, built by user code.

``MODULE`` is a dotted module name (importable from ``sys.path``) or a path to a ``.py`` file;
``CALLABLE`` is called with no arguments and returns an ``nn.Module`` (wrapped with ImageNet mean/std,
images at their size; a timm module keeps timm's config) or a ready :class:`Classifier` (used as is;
one without a ``spec`` gets ``options.spec``, so that ``describe()`` names it).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from bgbench.errors import BgbenchError
from bgbench.models.base import Classifier, TorchClassifier
from bgbench.models.common import reject, sha256_file, sha256_state_dict
from bgbench.models.torchscript_adapter import wrap_plain_module
from bgbench.options import ModelOptions


def split_target(target: str) -> tuple[str, str]:
    """``MODULE:CALLABLE`` -> (module, callable); the module part may itself hold ':' (a Windows path)."""
    module, sep, func = target.rpartition(":")
    if not sep or not module or not func:
        raise BgbenchError(f"python: spec needs MODULE:CALLABLE, got {target!r}")
    return module, func


def import_target(module_name: str) -> ModuleType:
    """Import a dotted module or a ``.py`` file; one-line BgbenchError when that fails."""
    if module_name.endswith(".py") or "/" in module_name or "\\" in module_name:
        path = Path(module_name).expanduser()
        if not path.is_file():
            raise BgbenchError("python module file not found", path)
        name = f"bgbench_user_{abs(hash(str(path.resolve())))}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise BgbenchError("cannot import this file as a Python module", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # user code: report whatever it raised in one line
            sys.modules.pop(name, None)
            raise BgbenchError(f"importing failed: {type(exc).__name__}: {exc}", path) from exc
        return module
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise BgbenchError(f"cannot import module {module_name!r} ({exc})") from exc


def call_target(target: str) -> tuple[Any, ModuleType]:
    """Import ``MODULE:CALLABLE``, call it with no arguments; (what it returned, the module)."""
    module_name, func_name = split_target(target)
    module = import_target(module_name)
    factory = getattr(module, func_name, None)
    if not callable(factory):
        raise BgbenchError(f"{module_name} has no callable {func_name!r}")
    return factory(), module


def create(target: str, opts: ModelOptions) -> Classifier:
    """Factory for ``python:MODULE:CALLABLE``."""
    reject(opts, "python:", "weights", "arch", "num_classes", "pretrained")
    device = torch.device(opts.device)
    made, module = call_target(target)
    if isinstance(made, Classifier):
        if not getattr(made, "spec", None):
            made.spec = opts.spec
        return made
    if not isinstance(made, torch.nn.Module):
        raise BgbenchError(f"{target}() returned {type(made).__name__}, "
                           "expected a torch.nn.Module or a bgbench Classifier")
    source = Path(module.__file__) if getattr(module, "__file__", None) else None
    info: dict[str, Any] = {"weights": f"python:{target}", "weights_sha256": None,
                            "params_sha256": sha256_state_dict(made),
                            "source_sha256": sha256_file(source) if source and source.is_file() else None}
    spec = f"python:{target}"
    if getattr(made, "pretrained_cfg", None):
        from bgbench.models.timm_adapter import wrap_timm_module

        return wrap_timm_module(made, spec, opts, device, info, adapter="python")
    clf: TorchClassifier = wrap_plain_module(made, spec, opts, device, info, "python")
    return clf
