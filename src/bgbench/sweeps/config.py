"""A sweep's settings (:class:`SweepConfig`) and its models: a TOML file (or a Python list) of
``{spec, name, imagenet_top1?, ...}``.

A models file holds one ``[[model]]`` table per model::

    [[model]]
    spec = "efficientnet_lite0"        # required: any model spec (bgbench.list_models())
    name = "lite0"                     # optional: table row and folder name (default: from the spec)
    imagenet_top1 = 75.1               # optional: published ImageNet top-1 in percent (for the trend)
    challenge = false                  # optional: run the challenge for this model or not
                                       # (default: the sweep's --challenge)
    notes = "MobileNetV2, int8"        # optional, free text
    map_rule = "restricted"            # optional ModelOptions fields (weights, pretrained, arch,
    preprocess = "imagenet"            # num_classes, trust_pickle, device, precision, preprocess,
                                       # int8, map_rule, class_map) override the sweep's options

Relative paths (``weights``, ``class_map`` and the FILE of ``onnx:``/``tflite:``/``torchscript:``/
``ckpt:`` specs) are read relative to the models file. Every problem is a one-line
:class:`~bgbench.errors.BgbenchError` naming the file and the entry.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bgbench.config import CacheChoice, check_numbers, number
from bgbench.errors import BgbenchError
from bgbench.eval.config import EvalConfig, variant_names
from bgbench.options import ModelOptions

#: keys of a model entry besides the ModelOptions fields
ENTRY_KEYS: tuple[str, ...] = ("name", "spec", "imagenet_top1", "challenge", "notes")
OPTION_KEYS: tuple[str, ...] = tuple(n for n in ModelOptions.names() if n != "spec")
_BOOL_OPTIONS = ("pretrained", "trust_pickle")
_INT_OPTIONS = ("num_classes",)
_PATH_OPTIONS = ("weights", "class_map")
_FILE_SPECS = ("onnx:", "tflite:", "torchscript:", "ckpt:")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


#: how a sweep runs its models
SWEEP_EXECUTORS: tuple[str, ...] = ("serial", "ray")


@dataclass(frozen=True)
class SweepConfig:
    """How :func:`bgbench.sweep` runs every model (checked on creation; a bad value is a one-line
    :class:`~bgbench.errors.BgbenchError`).

    - ``challenge``: also run the challenge for every model (a model's own ``challenge = true/false``
      wins).
    - ``challenge_shard``: (i, n) with 0 <= i < n: challenge only the foregrounds with index % n == i
      (a 1-in-n subsample; the table pools the complete shards); ``"i/n"`` is accepted. None: all.
    - ``executor``: ``serial`` or ``ray`` (each model a Ray task with one GPU when the cluster has
      GPUs); ``workers``: how many models run at once (at least 1; None: all cores; serial runs one).
    - ``variants``, ``split``, ``batch_size``, ``cache``: every model's evaluation, as in
      :class:`~bgbench.eval.EvalConfig` (the challenge reads the same split and cache). A sweep always
      resumes and scores no ``--draws`` composites.
    - ``n_boot`` (at least 1), ``seed``: the ImageNet-top-1 trend's bootstrap resamples and seed.
    - ``options``: the :class:`~bgbench.options.ModelOptions` fields every model shares (device,
      precision, map_rule, ...; the spec is ignored); a model's own fields in the models file win.
      None: the defaults.
    """

    challenge: bool = False
    challenge_shard: tuple[int, int] | None = None
    executor: str = "serial"
    workers: int | None = number(None, low=1)
    variants: tuple[str, ...] | None = None
    split: str = "val"
    batch_size: int = number(64, low=1)
    cache: CacheChoice = field(default_factory=CacheChoice)
    n_boot: int = number(10000, low=1)
    seed: int = number(0)
    options: ModelOptions | None = None

    def __post_init__(self) -> None:
        from bgbench.executors import check_executor

        if self.executor not in SWEEP_EXECUTORS:
            raise BgbenchError(f"unknown --executor {self.executor!r} (expected serial or ray)")
        check_numbers(self)
        check_executor(self.executor, self.workers)
        if self.challenge_shard is not None:
            from bgbench.challenge.shard import parse_shard  # (imports torch: only when there is one)

            object.__setattr__(self, "challenge_shard", parse_shard(self.challenge_shard))
        object.__setattr__(self, "variants", variant_names(self.variants))
        self.eval_config()  # split, batch size and cache checked as an evaluation's
        if not isinstance(self.challenge, bool):
            raise BgbenchError(f"challenge must be true or false, got {self.challenge!r}")
        if self.options is not None and not isinstance(self.options, ModelOptions):
            raise BgbenchError(f"options must be a ModelOptions (or None), got {type(self.options).__name__}")

    def eval_config(self) -> EvalConfig:
        """Every model's :class:`~bgbench.eval.EvalConfig` (resuming, no draws)."""
        return EvalConfig(variants=self.variants, split=self.split, batch_size=self.batch_size,
                          cache=self.cache, resume=True)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form (the shard as [i, n], the shared options as their fields)."""
        evaluation = self.eval_config().to_json()
        return {"challenge": self.challenge,
                "challenge_shard": None if self.challenge_shard is None else list(self.challenge_shard),
                "executor": self.executor, "workers": self.workers, "variants": evaluation["variants"],
                "split": self.split, "batch_size": self.batch_size, "cache": evaluation["cache"],
                "n_boot": self.n_boot, "seed": self.seed,
                "options": None if self.options is None else self.options.to_json()}


@dataclass(frozen=True)
class SweepModel:
    """One model of a sweep: its ``name`` (row and folder ``OUT/<name>``), ``spec``, published
    ``imagenet_top1`` (percent, or None), ``challenge`` (None: the sweep's choice), ``notes``, and
    ``overrides``: the ModelOptions fields this entry sets (they win over the sweep's options)."""

    name: str
    spec: str
    imagenet_top1: float | None = None
    challenge: bool | None = None
    notes: str = ""
    overrides: dict[str, Any] = field(default_factory=dict)

    def options(self, base: ModelOptions | None = None) -> ModelOptions:
        """The sweep's shared options ``base`` with this model's spec and overrides."""
        return (base or ModelOptions()).with_(spec=self.spec, **self.overrides)

    def files(self) -> list[Path]:
        """The local files this model needs: the FILE of a file spec, ``weights``, ``class_map``."""
        out = [Path(self.spec.split(":", 1)[1])] if self.spec.startswith(_FILE_SPECS) else []
        return out + [Path(str(self.overrides[k])) for k in _PATH_OPTIONS if self.overrides.get(k)]

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"name": self.name, "spec": self.spec, "imagenet_top1": self.imagenet_top1}
        if self.challenge is not None:
            doc["challenge"] = self.challenge
        if self.notes:
            doc["notes"] = self.notes
        doc.update({k: str(v) if isinstance(v, Path) else v for k, v in self.overrides.items()})
        return doc


def default_name(spec: str) -> str:
    """A file-name safe name for ``spec``: ``tflite:/m/a.tflite`` -> ``a``, ``timm:resnet50`` ->
    ``resnet50``."""
    target = spec.split(":", 1)[1] if ":" in spec else spec
    stem = Path(target).stem if spec.startswith(_FILE_SPECS) else target
    slug = re.sub(r"[^A-Za-z0-9._+-]+", "_", stem).strip("_.")
    return slug or "model"


def _check_type(where: str, key: str, value: Any, path: Path | None) -> None:
    if key in _BOOL_OPTIONS or key == "challenge":
        ok, want = isinstance(value, bool), "true or false"
    elif key in _INT_OPTIONS:
        ok, want = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif key == "imagenet_top1":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 100
        want = "a percentage in [0, 100]"
    else:
        ok, want = isinstance(value, (str, Path)) and str(value) != "", "a non-empty string"
    if not ok:
        raise BgbenchError(f"{where}: {key} must be {want}, got {value!r}", path)


def _resolve(value: str, base: Path | None) -> str:
    p = Path(value).expanduser()
    return str(p if p.is_absolute() or base is None else (base / p))


def _resolved_spec(spec: str, base: Path | None) -> str:
    for prefix in _FILE_SPECS:
        if spec.startswith(prefix):
            return prefix + _resolve(spec[len(prefix):], base)
    return spec


def parse_entry(entry: Any, where: str, path: Path | None = None) -> SweepModel:
    """One ``{spec, name?, imagenet_top1?, challenge?, notes?, <ModelOptions field>...}`` entry
    (``where``: how messages name it; ``path``: the models file, whose folder relative paths
    start from)."""
    if isinstance(entry, ModelOptions):
        defaults = ModelOptions()
        entry = {"spec": entry.spec, **{k: getattr(entry, k) for k in OPTION_KEYS
                                        if getattr(entry, k) != getattr(defaults, k)}}
    if not isinstance(entry, dict):
        raise BgbenchError(f"{where} is not a table of keys (spec = ..., name = ...)", path)
    unknown = sorted(set(entry) - set(ENTRY_KEYS) - set(OPTION_KEYS))
    if unknown:
        raise BgbenchError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: "
                           f"{', '.join(ENTRY_KEYS + OPTION_KEYS)})", path)
    spec = entry.get("spec")
    if not isinstance(spec, str) or not spec:
        raise BgbenchError(f"{where} needs a spec, e.g. spec = \"efficientnet_lite0\"", path)
    where = f"{where} ({spec})"
    for key, value in entry.items():
        if key != "spec" and value is not None:
            _check_type(where, key, value, path)
    base = path.absolute().parent if path is not None else None
    overrides = {k: entry[k] for k in OPTION_KEYS if entry.get(k) is not None}
    overrides.update({k: _resolve(str(overrides[k]), base) for k in _PATH_OPTIONS if k in overrides})
    spec = _resolved_spec(spec, base)
    name = str(entry.get("name") or default_name(spec))
    if not _NAME.fullmatch(name) or name in (".", ".."):
        raise BgbenchError(f"{where}: name {name!r} cannot be a folder name (letters, digits, . _ + -)", path)
    try:
        if path is not None:  # a models file names models to run (a Python list may only collect results)
            from bgbench.models.registry import resolve

            resolve(spec)
        ModelOptions(spec=spec, **overrides)
    except BgbenchError as exc:
        raise BgbenchError(f"{where}: {exc}", path) from None
    top1 = entry.get("imagenet_top1")
    return SweepModel(name=name, spec=spec, imagenet_top1=None if top1 is None else float(top1),
                      challenge=entry.get("challenge"), notes=str(entry.get("notes") or ""),
                      overrides=overrides)


def _unique(models: list[SweepModel], path: Path | None) -> list[SweepModel]:
    if not models:
        raise BgbenchError("no models (add [[model]] tables with a spec each)", path)
    seen: dict[str, int] = {}
    for i, m in enumerate(models, 1):
        if m.name in seen:
            raise BgbenchError(f"model #{i} ({m.spec}): name {m.name!r} is already used by model "
                               f"#{seen[m.name]} (names must be unique: give one a name = ...)", path)
        seen[m.name] = i
    return models


def read_models_toml(path: str | Path) -> list[SweepModel]:
    """The models of a sweep's TOML file (``[[model]]`` tables), in file order."""
    from bgbench.models.zoo import load_toml, model_tables

    p = Path(path).expanduser()
    if not p.is_file():
        raise BgbenchError("models file not found" if not p.exists() else "models file is not a file", p)
    tables = model_tables(load_toml(p, "models file"), p)
    return _unique([parse_entry(t, f"model #{i}", p) for i, t in enumerate(tables, 1)], p)


def sweep_models(models: Any) -> list[SweepModel]:
    """``models`` as SweepModels: a TOML path, or a list of dicts / ModelOptions / spec strings /
    SweepModels."""
    if isinstance(models, (str, Path)):
        return read_models_toml(models)
    if not isinstance(models, (list, tuple)):
        raise BgbenchError(f"models must be a TOML file or a list, got {type(models).__name__}")
    out = [m if isinstance(m, SweepModel) else parse_entry({"spec": m} if isinstance(m, str) else m,
                                                           f"models[{i}]")
           for i, m in enumerate(models)]
    return _unique(out, None)


def models_toml(models: list[SweepModel], comment: str = "") -> str:
    """The TOML text of a models file holding ``models`` (what :func:`read_models_toml` reads back)."""
    lines = [f"# {line}" if line else "#" for line in comment.splitlines()]
    for m in models:
        lines += ["", "[[model]]"]
        for key, value in m.to_json().items():
            if value is not None:
                lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines).lstrip("\n") + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value))  # a TOML basic string: JSON's escapes are TOML's


def zoo_models(entries: list[Any]) -> list[SweepModel]:
    """Sweep models of zoo entries (:mod:`bgbench.models.zoo`): every runnable entry (no spec form,
    no missing file), with its published top-1 and options."""
    return [SweepModel(name=e.name, spec=e.spec, imagenet_top1=e.published_top1, notes=e.notes,
                       overrides=dict(e.options))
            for e in entries if e.kind != "spec-form" and e.available]


def write_zoo_toml(path: str | Path, entries: list[Any]) -> list[SweepModel]:
    """Write the runnable zoo ``entries`` (:func:`zoo_models`) as a models file at ``path``
    (atomically; what ``bgbench models --toml FILE`` does); returns the models written."""
    from bgbench.atomic import atomic_write_text

    models = zoo_models(entries)
    atomic_write_text(path, models_toml(models, comment="bgbench sweep models file (written by `bgbench "
                                                        "models --toml`); run: bgbench sweep FILE DATA"))
    return models


__all__ = ["ENTRY_KEYS", "OPTION_KEYS", "SWEEP_EXECUTORS", "SweepConfig", "SweepModel", "default_name",
           "models_toml", "parse_entry", "read_models_toml", "sweep_models", "write_zoo_toml", "zoo_models"]
