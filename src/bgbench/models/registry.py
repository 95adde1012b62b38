"""Registers every adapter and built-in model with :mod:`bgbench.models` (modules load lazily on use)."""

from __future__ import annotations

from bgbench.models import register_adapter, register_builtin

#: spec prefix -> "module:factory"; each factory is called as ``factory(target, **options)``
SPEC_FORMS: dict[str, str] = {
    "timm": "bgbench.models.timm_adapter:create",
    "torchvision": "bgbench.models.torchvision_adapter:create",
    "hf": "bgbench.models.hf_adapter:create",
    "onnx": "bgbench.models.onnx_adapter:create",
    "tflite": "bgbench.models.tflite_adapter:create",
    "torchscript": "bgbench.models.torchscript_adapter:create",
    "ckpt": "bgbench.models.checkpoint:create",
    "python": "bgbench.models.python_adapter:create",
}


def register_all() -> None:
    """Register the spec prefixes and the built-in names (efficientnet_lite0/1/2)."""
    from bgbench.models.builtin import builtin_names

    for prefix, target in SPEC_FORMS.items():
        register_adapter(prefix, target)
    for name in builtin_names():
        register_builtin(name, "bgbench.models.builtin:create")


def model_spec_help() -> str:
    """Help text of the CLI's ``--model`` option: the built-in names and the spec forms."""
    from bgbench.models.builtin import builtin_names

    target = {"python": "MOD:FN", "timm": "NAME", "torchvision": "NAME", "hf": "REPO"}
    forms = ", ".join(f"{p}:{target.get(p, 'FILE')}" for p in SPEC_FORMS)
    return f"Model spec: a built-in name ({', '.join(builtin_names())}) or {forms}."
