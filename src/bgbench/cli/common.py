"""Option groups shared by the commands: one decorator adds a group's options to a command.

``@model_options`` gives a command every model option (``--model``, ``--weights``, ``--arch``,
``--num-classes``, ``--trust-pickle``, ``--device``, ``--precision``, ``--preprocess``, ``--int8``,
``--prompts``, ``--templates``, ``--map``, ``--class-map``) with the same names, defaults and help
everywhere, and passes them to the command as one :class:`~bgbench.options.ModelOptions` in its
``model`` parameter.
``@cache_options`` adds ``--no-cache`` / ``--cache-dir`` and passes ``cache: CacheChoice``;
``@output_options(document)`` adds ``--json`` / ``--quiet`` and passes ``output: Output``, which
:func:`emit` takes. A new command gets each whole group in one line, and names the groups it receives
last in its signature, keyword-only and without a default (the decorators always give them)::

    @app.command("saliency")
    @output_options("saliency.json")
    @model_options
    def saliency(data: Path = typer.Argument(...), *, model: ModelOptions, output: Output) -> None: ...
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import typer

from bgbench.config import Bound, CacheChoice, ImageSubset
from bgbench.options import PRECISION_NAMES, PREPROCESS_MODES, PROMPT_SETS, TEMPLATE_SETS, ModelOptions


@dataclass(frozen=True)
class OptionSpec:
    """One CLI option: the Python ``name``, its flags, type and help (default from ``default``)."""

    name: str
    flags: tuple[str, ...]
    type: Any
    help: str
    default: Any = None
    metavar: str | None = None
    #: the smallest and largest value allowed (None: unbounded; ``*_open``: the limit itself is not),
    #: checked as the options are parsed
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False


def bounded(flag: str, low: float | None = None, high: float | None = None, *, low_open: bool = False,
            high_open: bool = False) -> Callable[[Any], Any]:
    """A typer option callback refusing a number outside [``low``, ``high``] (``low_open`` /
    ``high_open``: the limit itself too) in one line, while the options are parsed (so before any
    work): ``--draws 0`` -> ``error: --draws must be at least 1, got 0``, exit 2. The limits are the
    ones the library's config states for the same setting (:func:`bgbench.config.number`), compared
    by the same :meth:`bgbench.config.Bound.missed`."""
    bound = Bound(low, high, whole=False, low_open=low_open, high_open=high_open)

    def check(value: Any) -> Any:
        from bgbench.errors import BgbenchError

        if value is None or isinstance(value, bool):
            return value
        missed = bound.missed(value)
        if missed is None:
            return value
        raise BgbenchError(f"{flag} must be {missed}, got {value:g}")

    return check


def _model_help() -> str:
    from bgbench.models.registry import model_spec_help

    return model_spec_help()


def _model_defaults() -> dict[str, Any]:
    return {f.name: f.default for f in fields(ModelOptions)}


def model_option_specs(model_help: str | None = None, default_model: str | None = None) -> list[OptionSpec]:
    """The model option group (one :class:`OptionSpec` per :class:`ModelOptions` field but
    ``pretrained``, which stays a Python-only choice)."""
    d = _model_defaults()
    return [
        OptionSpec("spec", ("--model", "-m"), str, model_help or _model_help(), default_model or d["spec"]),
        OptionSpec("weights", ("--weights",), Path, "Local weights file (state dict or safetensors)."),
        OptionSpec("arch", ("--arch",), str,
                   "The architecture of a ckpt: file (timm name or torchvision:NAME); ckpt: specs only."),
        OptionSpec("num_classes", ("--num-classes",), int, "Output classes for ckpt: specs.", low=1),
        OptionSpec("trust_pickle", ("--trust-pickle",), bool,
                   "Allow checkpoints that need pickle (only files you trust).", False),
        OptionSpec("device", ("--device",), str, "auto, cpu, cuda or cuda:N.", d["device"]),
        OptionSpec("precision", ("--precision",), str,
                   f"Autocast precision of every forward pass, on the CPU and a GPU alike: "
                   f"{', '.join(PRECISION_NAMES)} (fp32 exact, the others autocast).", d["precision"]),
        OptionSpec("preprocess", ("--preprocess",), str,
                   "native (the model's own), released (the released script's), or a normalisation "
                   f"preset ({', '.join(PREPROCESS_MODES[2:])}) at the model's input size.", d["preprocess"]),
        OptionSpec("int8", ("--int8",), str,
                   "Quantized ONNX graphs: reference (the operators' exact arithmetic, the same on "
                   "every CPU) or native (onnxruntime's own kernels).", d["int8"]),
        OptionSpec("prompts", ("--prompts",), str,
                   f"Zero-shot models (open_clip:, hf_clip:): {' or '.join(PROMPT_SETS)} (the 1000 ImageNet "
                   "class names, then the label map; or the nine super-classes directly).", d["prompts"]),
        OptionSpec("templates", ("--templates",), str,
                   f"Zero-shot prompt templates shipped by open_clip: {' or '.join(TEMPLATE_SETS)} "
                   "(80 OpenAI ImageNet templates, or its 7 simple ones).", d["templates"]),
        OptionSpec("map_rule", ("--map",), str,
                   "1000-class outputs -> classes: released (top-1, outside the nine = wrong), "
                   "restricted (top-1 over the nine's classes), sum (softmax mass per class).",
                   d["map_rule"]),
        OptionSpec("class_map", ("--class-map",), Path,
                   'JSON {"output index": class index} for custom class sets.'),
    ]




def _parameter(spec: OptionSpec) -> inspect.Parameter:
    optional = spec.default is None and spec.type is not bool
    annotation = typing.Optional[spec.type] if optional else spec.type  # noqa: UP045 (a runtime type)
    extra: dict[str, Any] = {"metavar": spec.metavar} if spec.metavar else {}
    if spec.low is not None or spec.high is not None:
        extra["callback"] = bounded(spec.flags[0], spec.low, spec.high, low_open=spec.low_open,
                                    high_open=spec.high_open)
    option = typer.Option(spec.default, *spec.flags, help=spec.help, **extra)
    return inspect.Parameter(spec.name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation)


def inject_options(specs: list[OptionSpec], target: str,
                   build: Callable[[dict[str, Any]], Any]) -> Callable[[Callable], Callable]:
    """A decorator adding ``specs`` as CLI options to a command; the command's ``target``
    parameter receives ``build({name: value})`` instead of the individual values."""

    def decorate(fn: Callable) -> Callable:
        signature = inspect.signature(fn)
        hints = typing.get_type_hints(fn)
        kept = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in signature.parameters.values()
                if p.name != target]
        added = [_parameter(s) for s in specs]
        names = [s.name for s in specs]

        @functools.wraps(fn)
        def command(**kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in names}
            return fn(**kwargs, **{target: build(values)})

        command.__signature__ = signature.replace(parameters=kept + added)  # type: ignore[attr-defined]
        command.__annotations__ = {**{p.name: p.annotation for p in kept + added},
                                   "return": hints.get("return", None)}
        return command

    return decorate


def model_options(fn: Callable | None = None, *, model_help: str | None = None,
                  default_model: str | None = None) -> Any:
    """Add the model option group to a command; it receives ``model: ModelOptions``.

    ``model_help`` / ``default_model`` replace the ``--model`` help and default (e.g. the demo's
    ``none``); a command that needs another default for one option keeps its own copy of nothing else.
    """
    decorate = inject_options(model_option_specs(model_help, default_model), "model",
                              lambda values: ModelOptions(**values))
    return decorate(fn) if fn is not None else decorate


def multi_model_options(fn: Callable | None = None, *, model_help: str | None = None,
                        default_model: str | None = None) -> Any:
    """Like :func:`model_options`, but ``--model`` may be given several times (e.g. two models side by
    side); the command receives ``models: list[ModelOptions]``, one per ``--model`` in order, all sharing
    the group's other options (default: the one default model)."""
    specs = model_option_specs(model_help, default_model)
    first = specs[0]
    help_text = f"{first.help} Repeat to compare models (default: {first.default})."
    specs[0] = OptionSpec(first.name, first.flags, list[str], help_text, metavar="SPEC")
    fallback = first.default

    def build(values: dict[str, Any]) -> list[ModelOptions]:
        return [ModelOptions(**{**values, "spec": spec}) for spec in (values["spec"] or [fallback])]

    decorate = inject_options(specs, "models", build)
    return decorate(fn) if fn is not None else decorate


CACHE_SPECS = [
    OptionSpec("no_cache", ("--no-cache",), bool, "Decode images in memory; no cache files.", False),
    OptionSpec("cache_dir", ("--cache-dir",), Path,
               "Decoded-image cache ($BGBENCH_CACHE or ~/.cache/bgbench)."),
]


def cache_options(fn: Callable) -> Callable:
    """Add ``--no-cache`` / ``--cache-dir``; the command receives ``cache: CacheChoice``."""
    return inject_options(CACHE_SPECS, "cache",
                          lambda v: CacheChoice(cache=not v["no_cache"], cache_dir=v["cache_dir"]))(fn)


def per_class_help(chosen: str, default_text: str = "all") -> str:
    """The one ``--per-class`` help: at most N images per class, how the N are ``chosen``, the default."""
    return f"At most N images per class: {chosen} (default: {default_text})."


def per_class_option(chosen: str, default: int | None = None, default_text: str = "all") -> Any:
    """The ``--per-class N`` option (at least 1) of a command whose N images per class are ``chosen``
    as the help says."""
    return typer.Option(default, "--per-class", callback=bounded("--per-class", 1), metavar="N",
                        show_default=False, help=per_class_help(chosen, default_text))


#: what a worker is under each executor (the ``--workers`` help)
_WORKERS_AS = {"process": "worker processes with --executor process",
               "ray": "Ray workers with --executor ray"}
#: what each executor does (the ``--executor`` help)
_EXECUTOR_AS = {"serial": "one at a time in this process",
                "process": "--workers local worker processes",
                "ray": "--workers Ray workers, on the cluster $RAY_ADDRESS names, else on a local Ray"}


def workers_option(tasks: str, default_text: str, default: int | None = None,
                   executors: Sequence[str] | None = ("serial", "process", "ray"), note: str = "") -> Any:
    """The one ``--workers N`` option: how many ``tasks`` (images, shards, models) run at once, i.e. the
    executor's worker count (worker processes with the process executor, Ray workers with ray; one
    with serial). ``executors``: the command's ``--executor`` choices (None: it has none and always
    uses processes); ``note``: what N also decides there; ``default_text``: the command's default."""
    if executors is None:
        means = "worker processes" + note
    else:
        means = ", ".join(_WORKERS_AS[k] for k in executors if k in _WORKERS_AS) + note
        means += "; one with --executor serial" if "serial" in executors else ""
    return typer.Option(default, "--workers", callback=bounded("--workers", 1), metavar="N",
                        show_default=False,
                        help=f"How many {tasks} run at once: {means} (default: {default_text}).")


def executor_option(default: str, executors: Sequence[str], tasks: str) -> Any:
    """The one ``--executor`` option: how the command's ``tasks`` run, among ``executors``."""
    kinds = "; ".join(f"{k}: {_EXECUTOR_AS[k]}" for k in executors)
    return typer.Option(default, "--executor", show_default=False,
                        help=f"How the {tasks} run: {kinds} (default: {default}).")


SUBSET_SPECS = [
    OptionSpec("images", ("--images",), int, "Use N images drawn at random (seeded by --seed).", low=1),
    OptionSpec("per_class", ("--per-class",), int,
               per_class_help("the first N of each class, in file order"), low=1, metavar="N"),
    OptionSpec("seed", ("--seed",), int, "Seed of --images (and of any random draw of the command).", 0),
]


def subset_options(fn: Callable) -> Callable:
    """Add ``--images`` / ``--per-class`` / ``--seed``; the command receives ``subset: ImageSubset``."""
    return inject_options(SUBSET_SPECS, "subset", lambda v: ImageSubset(**v))(fn)


def split_option(default: str | None, what: str) -> Any:
    """The one ``--split`` option: the split folder (``val``, ``train``, ...) the command ``what``
    (its help, e.g. "Split folder to evaluate.")."""
    return typer.Option(default, "--split", help=what)


def batch_size_option(default: int | None, what: str, default_text: str = "") -> Any:
    """The one ``--batch-size/-b N`` option (at least 1): how many ``what`` (images, composites) go
    through the model per forward pass; ``default_text`` states a default that ``default`` (None)
    cannot, such as one that depends on the device."""
    tail = f" (default {default_text})" if default_text else ""
    return typer.Option(default, "--batch-size", "-b", callback=bounded("--batch-size", 1), metavar="N",
                        help=f"{what} per forward pass{tail}.")


@dataclass(frozen=True)
class Output:
    """How a command reports: ``json`` (``--json``) prints the result document instead of the summary;
    ``quiet`` (``--quiet/-q``) shows no progress bars."""

    json: bool = False
    quiet: bool = False


def output_options(document: str) -> Callable[[Callable], Callable]:
    """Add ``--json`` and ``--quiet/-q`` to a command that returns a result (``document``: the file
    name of its result document, for the help); the command receives ``output: Output``."""
    specs = [OptionSpec("as_json", ("--json",), bool, f"Print the result document ({document}) as JSON on "
                        "stdout instead of the summary (nothing else goes to stdout).", False),
             OptionSpec("quiet", ("--quiet", "-q"), bool, "No progress bars.", False)]
    return inject_options(specs, "output", lambda v: Output(json=v["as_json"], quiet=v["quiet"]))


def emit(result: Any, output: Output, wrote: Sequence[str | Path] = ()) -> None:
    """Print a command's :class:`~bgbench.results.Result`, the one way every command does.

    Without ``output.json``: its command-line view (``result.terminal()``: lines and tables, the text
    of ``result.summary(tables=True)``) on stdout. With it: its document (``result.to_json()``) as
    indented JSON, and nothing else, on stdout. ``wrote``: the files written, named in one line on
    stderr (``wrote A, B and C``)."""
    import json
    import sys

    if output.json:
        typer.echo(json.dumps(result.to_json(), indent=2))
    else:
        from rich.console import Console

        from bgbench.results.text import print_blocks

        print_blocks(result.terminal(), Console(highlight=False))
    if wrote:
        names = [str(w) for w in wrote]
        listing = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        print(f"wrote {listing}", file=sys.stderr)


DEFAULT_OUT_ROOT = Path("bgbench-results")


OWNER_FILE = ".bgbench-owner.json"
"""Written into a default output folder: which command and model it belongs to."""


def _owner(spec: str) -> str:
    """``spec`` with the file it names made absolute (``ckpt:runs/A/m.pt`` -> ``ckpt:/abs/runs/A/m.pt``)."""
    prefix, sep, target = spec.partition(":")
    if sep and ("/" in target or Path(target).suffix):
        return f"{prefix}:{Path(target).expanduser().absolute()}"
    return str(Path(spec).absolute()) if "/" in spec else spec


def default_out(command: str, spec: str, *suffixes: str, owner: str | None = None) -> Path:
    """``bgbench-results/<command>-<model spec made file-name safe>[-<hash>][-<suffix>...]``, claimed for
    this command and model.

    A spec naming a file by a path (``ckpt:runs/A/model.safetensors``) gets 8 hex digits of the
    file's absolute path in the name, so models of the same file name in different folders never
    share a folder. The folder records its owner (``OWNER_FILE``); one that belongs to another
    command or model, or holds results without an owner record, is refused in one line (pass
    ``--out``) rather than overwritten. ``owner``: what identifies the model (default: ``spec`` with
    its file made absolute)."""
    import hashlib
    import re

    owner = owner or _owner(spec)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(spec).name if "/" in spec else spec).strip("_")
    tag = hashlib.sha256(owner.encode()).hexdigest()[:8] if "/" in spec else ""
    parts = [f"{command}-{slug or 'model'}", *[s for s in (tag, *suffixes) if s]]
    target = DEFAULT_OUT_ROOT / "-".join(parts)
    claim_folder(target, command, owner)
    return target


def claim_folder(folder: Path, command: str, owner: str) -> None:
    """Record that ``folder`` holds ``command``'s output for ``owner``; BgbenchError (before any work)
    when it already belongs to another command or model, or holds files without an owner record."""
    from bgbench.atomic import atomic_write_json
    from bgbench.errors import BgbenchError
    from bgbench.textio import read_json

    mine = {"command": command, "model": owner}
    record = folder / OWNER_FILE
    new_root = not folder.parent.exists()
    if record.exists():
        found = read_json(record, "output folder record")
        if found != mine:
            theirs = found if isinstance(found, dict) else {}
            raise BgbenchError(f"default output folder already holds {theirs.get('command', '?')} "
                               f"results of {theirs.get('model', '?')!s:.80}; not overwriting it "
                               "(pass --out)",
                               folder)
        return
    if folder.is_dir() and any(folder.iterdir()):
        raise BgbenchError("default output folder already holds results of another run; not overwriting "
                           "it (pass --out, or delete the folder)", folder)
    atomic_write_json(record, mine)
    _FRESH_CLAIMS.append((folder, new_root))


#: folders this process claimed that did not exist before (and whether their parent was new too)
_FRESH_CLAIMS: list[tuple[Path, bool]] = []


def release_unused_claims() -> None:
    """Remove the folders this process claimed but left holding nothing but the owner record (a
    command refused after choosing its default output folder leaves nothing behind)."""
    while _FRESH_CLAIMS:
        folder, new_root = _FRESH_CLAIMS.pop()
        try:
            if [p.name for p in folder.iterdir()] == [OWNER_FILE]:
                (folder / OWNER_FILE).unlink()
                folder.rmdir()
                if new_root and not any(folder.parent.iterdir()):
                    folder.parent.rmdir()
        except OSError:
            pass
