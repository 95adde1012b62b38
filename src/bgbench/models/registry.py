"""The model registry: every model name and spec form bgbench can create, with its metadata.

Two kinds of entries, bgbench's own declared in the package data ``shipped_models.json``, yours
registered by a decorator on the factory:

- a **model** (``efficientnet_lite0``, or your own with ``@register_model``):
  ``create_classifier(name)`` calls ``factory(name, options)``.
- a **spec form** (``timm:NAME``, ``onnx:FILE``, ...; yours with ``@register_spec_form(prefix, ...)``):
  ``create_classifier("timm:resnet50")`` calls ``factory("resnet50", options)``.

``options`` is the whole :class:`~bgbench.options.ModelOptions` (``options.spec`` the full spec), its
``device`` already concrete (``cpu``, ``cuda``, ``cuda:N``: ``auto`` is resolved before the call; a
factory's module may define ``cuda_usable() -> bool`` to keep ``auto`` on the CPU when its runtime
cannot use CUDA, see :func:`bgbench.models.concrete_device`).

:func:`list_models`, :func:`is_model`, :func:`model_entry`, ``bgbench models`` and the CLI help read
it. Listing must stay cheap, so it imports neither torch nor any adapter: bgbench's own entries are
the package data ``shipped_models.json``, each naming its factory as ``"module:function"``; a module
is imported only when a model of its form is created. Your own decorators simply run when your
module is imported.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from importlib import import_module, resources
from importlib.util import find_spec
from typing import Any

from bgbench.errors import BgbenchError

KINDS: tuple[str, ...] = ("builtin", "spec-form", "user")

@dataclass(frozen=True)
class ModelEntry:
    """One registered model or spec form.

    ``name`` is what :func:`list_models` lists: a model name (``efficientnet_lite0``) or a spec
    form's pattern (``timm:NAME``). ``factory`` is ``"module:function"``. ``input_size`` and
    ``preprocessing`` describe the native preprocessing (a size in pixels, or words such as
    ``"from timm config"`` for a spec form); ``published_top1`` is the published ImageNet
    top-1 in percent (None when unknown).
    """

    name: str
    kind: str
    factory: str
    input_size: int | str | None = None
    preprocessing: str = "native"
    output_space: str = "imagenet-1k"
    published_top1: float | None = None
    notes: str = ""

    @property
    def prefix(self) -> str | None:
        """The spec prefix of a spec form (``timm`` for ``timm:NAME``); None for a model."""
        return self.name.split(":", 1)[0] if self.kind == "spec-form" else None

    def load(self) -> Callable[..., Any]:
        """The factory function (its module is imported on the first call)."""
        if self.factory in _FACTORIES:
            return _FACTORIES[self.factory]
        module, _, qualname = self.factory.partition(":")
        found: Any = import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
        return found


_ENTRIES: dict[str, ModelEntry] = {}  # name -> entry, in registration order
_PREFIXES: dict[str, str] = {}  # spec-form prefix -> entry name
_FACTORIES: dict[str, Callable[..., Any]] = {}  # "module:function" -> the function, once it ran
_SHIPPED_READ = False


# --- declaring entries ---------------------------------------------------------------------------------

def _model(factory: str, name: str | None = None, *, input_size: int | str | None = None,
           preprocessing: str = "native", output_space: str = "imagenet-1k",
           published_top1: float | None = None,
           notes: str = "") -> list[ModelEntry]:
    name = name or factory.rpartition(":")[2].rpartition(".")[2]
    if ":" in name or not name:
        raise BgbenchError(f"model name {name!r} must be non-empty and hold no ':' (that marks a spec form)")
    return [ModelEntry(name, "user", factory, input_size, preprocessing, output_space,
                       None if published_top1 is None else float(published_top1), notes)]


def _spec_form(factory: str, prefix: str, *, placeholder: str = "NAME", input_size: int | str | None = None,
               preprocessing: str = "", notes: str = "", output_space: str = "from the model"
               ) -> list[ModelEntry]:
    if not prefix.isidentifier():
        raise BgbenchError(f"spec prefix {prefix!r} must be a plain name such as 'timm'")
    return [ModelEntry(f"{prefix}:{placeholder}", "spec-form", factory, input_size, preprocessing,
                       output_space, notes=notes)]


def _builtin_table(factory: str, table: str, *, preprocessing: str, notes: str) -> list[ModelEntry]:
    """One built-in per record of ``bgbench/resources/<table>``; ``preprocessing`` and ``notes`` are
    ``str.format`` templates over the record's fields."""
    return [ModelEntry(name, "builtin", factory, int(rec["input_size"]), preprocessing.format(**rec),
                       "imagenet-1k", rec.get("published_top1"),
                       notes.format(**rec))
            for name, rec in sorted(data_table(table).items())]


_MAKERS: dict[str, Callable[..., list[ModelEntry]]] = {
    "register_model": _model, "register_spec_form": _spec_form}


def _add(entry: ModelEntry) -> None:
    """Register ``entry``; the same name (or spec prefix) again is allowed only from the same
    factory (a module run again), and then replaces the old entry."""
    same_prefix = _PREFIXES.get(entry.prefix) if entry.prefix is not None else None
    for name in {entry.name, same_prefix} - {None}:
        old = _ENTRIES.get(name)
        if old is not None and old.factory != entry.factory:
            raise BgbenchError(f"{entry.name} is already registered by {old.factory} "
                               f"(cannot register it again from {entry.factory})")
    if same_prefix is not None and same_prefix != entry.name:
        del _ENTRIES[same_prefix]
    if entry.prefix is not None:
        _PREFIXES[entry.prefix] = entry.name
    _ENTRIES[entry.name] = entry


def _decorator(maker: str, *args: Any, **meta: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        _read_shipped()  # bgbench's own entries first, so the listing order does not depend on imports
        ref = f"{fn.__module__}:{fn.__qualname__}"
        for entry in _MAKERS[maker](ref, *args, **meta):
            _add(entry)
        _FACTORIES[ref] = fn
        return fn

    return decorate


def register_model(fn: Callable[..., Any] | str | None = None, /, **meta: Any) -> Any:
    """Register a model factory, called as ``factory(name, options) -> Classifier`` (``options``: the
    :class:`~bgbench.options.ModelOptions`, its device concrete; see the module's docstring).

    Bare (``@register_model``: the name is the function's) or with a name (positional or
    ``name=``) and metadata (``@register_model("my_net", input_size=224, preprocessing="ImageNet mean/std",
    published_top1=80.4, output_space="imagenet-1k", notes="...")``).
    """
    if callable(fn):
        return _decorator("register_model", None, **meta)(fn)
    return _decorator("register_model", fn if fn is not None else meta.pop("name", None), **meta)


def register_spec_form(prefix: str, **meta: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a spec form ``PREFIX:PLACEHOLDER``, called as ``factory(target, options)`` (``target``
    the text after ``PREFIX:``, ``options`` the :class:`~bgbench.options.ModelOptions`).

    Keywords: ``placeholder`` (``NAME``, ``FILE``, ...), ``input_size``, ``preprocessing``,
    ``notes`` and ``output_space`` (words for the listing).
    """
    return _decorator("register_spec_form", prefix, **meta)


def unregister_model(name: str) -> None:
    """Remove the entry ``name`` (a model name or a spec form such as ``myprefix:FILE``), e.g. a
    model registered for a test or in a notebook; unknown names are a BgbenchError."""
    _read_shipped()
    entry = _ENTRIES.pop(name, None)
    if entry is None:
        raise BgbenchError(f"no registered model {name!r} (see list_models())")
    if entry.prefix is not None:
        del _PREFIXES[entry.prefix]


@cache
def data_table(name: str) -> dict[str, Any]:
    """A JSON file of the package data (``bgbench/resources/<name>``), parsed once."""
    return json.loads(resources.files("bgbench.resources").joinpath(name).read_text(encoding="utf-8"))


# --- bgbench's own entries ------------------------------------------------------------------------------

def _read_shipped() -> None:
    """Register bgbench's own entries, the package data ``shipped_models.json`` (once; no adapter is
    imported)."""
    global _SHIPPED_READ
    if _SHIPPED_READ:
        return
    _SHIPPED_READ = True
    shipped = data_table("shipped_models.json")
    builtin = shipped["builtin"]
    for entry in _builtin_table(builtin["factory"], builtin["table"], preprocessing=builtin["preprocessing"],
                                notes=builtin["notes"]):
        _add(entry)
    for form in shipped["spec_forms"]:
        for entry in _spec_form(form["factory"], form["prefix"], placeholder=form["placeholder"],
                                input_size=form["input_size"], preprocessing=form["preprocessing"],
                                notes=form["notes"], output_space=form["output_space"]):
            _add(entry)


# --- looking entries up ---------------------------------------------------------------------------------

def model_entries(kind: str | None = None) -> list[ModelEntry]:
    """Every entry (of ``kind``: builtin, spec-form or user), in registration order."""
    if kind is not None and kind not in KINDS:
        raise BgbenchError(f"unknown model kind {kind!r} (expected one of {', '.join(KINDS)})")
    _read_shipped()
    return [e for e in _ENTRIES.values() if kind is None or e.kind == kind]


def list_models(pattern: str | None = None, kind: str | None = None) -> list[str]:
    """Sorted names of the registered models and spec forms (``efficientnet_lite0``, ``timm:NAME``),
    those matching the shell-style ``pattern`` (``"efficientnet*"``) and of ``kind`` when given."""
    names = sorted(e.name for e in model_entries(kind))
    return names if pattern is None else [n for n in names if fnmatchcase(n, pattern)]


def is_model(name: str) -> bool:
    """Whether ``name`` is one that :func:`list_models` lists."""
    _read_shipped()
    return name in _ENTRIES


def resolve(spec: str) -> tuple[ModelEntry, str]:
    """The entry that creates ``spec`` and what its factory receives (the name, or the text after
    ``PREFIX:``). Unknown specs raise a one-line BgbenchError listing the known forms."""
    _read_shipped()
    entry = _ENTRIES.get(spec)
    if entry is not None and entry.kind != "spec-form":
        return entry, spec
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in _PREFIXES:
        return _ENTRIES[_PREFIXES[prefix]], rest
    known = ", ".join(sorted(f"{p}:..." for p in _PREFIXES)
                      + sorted(e.name for e in _ENTRIES.values() if e.kind != "spec-form"))
    raise BgbenchError(f"unknown model spec {spec!r} (known forms: {known})")


def model_entry(name: str) -> ModelEntry:
    """The entry of a listed name (``efficientnet_lite0``, ``timm:NAME``) or of any spec
    (``timm:resnet50`` gives the ``timm:NAME`` entry)."""
    _read_shipped()
    return _ENTRIES[name] if name in _ENTRIES else resolve(name)[0]


#: spec prefix -> (the module its runtime provides, the bgbench extra that installs it)
OPTIONAL_RUNTIMES: dict[str, tuple[str, str]] = {
    "onnx": ("onnxruntime", "onnx"), "tflite": ("ai_edge_litert", "tflite"), "hf": ("transformers", "hf")}


def missing_runtime(spec: str) -> tuple[str, str] | None:
    """(module, extra) when ``spec`` needs an optional runtime that cannot be imported, else None.

    Only looks the module up (``importlib.util.find_spec``), so it is cheap and imports nothing; a
    module blocked with ``sys.modules[name] = None`` counts as missing."""
    needed = OPTIONAL_RUNTIMES.get(spec.partition(":")[0]) if ":" in spec else None
    if needed is None:
        return None
    try:
        found = find_spec(needed[0]) is not None
    except (ImportError, ValueError):
        found = False
    return None if found else needed


def require_runtime(spec: str) -> None:
    """A one-line BgbenchError naming the extra to install when ``spec``'s runtime is missing."""
    missing = missing_runtime(spec)
    if missing is not None:
        module, extra = missing
        raise BgbenchError(f"model {spec!r} needs {module}, which is not installed: "
                           f"pip install 'bgbench[{extra}]'")


def runtime_available(spec: str) -> bool:
    """Whether every optional runtime ``spec`` needs is installed (``bgbench models`` shows it)."""
    return missing_runtime(spec) is None


def model_spec_help() -> str:
    """One-line help for a ``--model`` option: the registered model names and spec forms."""
    models = ", ".join(e.name for e in model_entries() if e.kind != "spec-form")
    forms = ", ".join(e.name for e in model_entries("spec-form"))
    return f"Model spec: a model name ({models}) or a spec form: {forms} (`bgbench models` lists them)."
