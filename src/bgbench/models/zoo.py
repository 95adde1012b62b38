"""The model zoo: the registry's models and spec forms, the real-data models, and user entries.

The registered entries come from :mod:`bgbench.models.registry`, the real-data models from
``bgbench/resources/zoo_realdata.json``. ``load_zoo()`` returns :class:`ZooEntry` records that
``bgbench models`` prints and that sweeps and reports read. Users add their own in code
(``@register_model``, :mod:`bgbench.models.registry`) or in a TOML file (``~/.config/bgbench/zoo.toml``,
or ``$XDG_CONFIG_HOME/bgbench/zoo.toml``, or an explicit path)::

    [[model]]
    name = "my-resnet"              # optional; defaults to the spec
    spec = "timm:resnet50"          # required
    published_top1 = 80.4           # optional, ImageNet top-1 in percent
    preprocessing = "native"        # optional: native | released | imagenet | inception | in9
    input_size = 224                # optional
    output_space = "imagenet-1k"    # optional: imagenet-1k | in9 | custom
    notes = "my fine-tune"          # optional
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from bgbench.errors import BgbenchError
from bgbench.models.registry import ModelEntry, data_table, model_entries, runtime_available
from bgbench.options import PREPROCESS_MODES

OUTPUT_SPACES = ("imagenet-1k", "in9", "custom")


@dataclass(frozen=True)
class ZooEntry:
    """One model the zoo knows. ``published_top1`` is ImageNet top-1 in percent (None when unknown)."""

    name: str
    spec: str
    kind: str  # builtin | spec-form | realdata | user
    input_size: int | str | None = None
    preprocessing: str = "native"
    output_space: str = "imagenet-1k"
    published_top1: float | None = None
    available: bool = True
    notes: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def create(self, **overrides: Any):
        """``create_classifier(self.spec, **self.options, **overrides)`` (not for spec-form entries)."""
        from bgbench.models import create_classifier

        if self.kind == "spec-form":
            raise BgbenchError(f"{self.spec} is a spec form, not a model: fill in its NAME/FILE")
        return create_classifier(self.spec, **{**self.options, **overrides})


def registered_entry(entry: ModelEntry) -> ZooEntry:
    """The zoo's view of a registry entry (a spec form is listed by its prefix)."""
    return ZooEntry(name=entry.prefix or entry.name, spec=entry.name, kind=entry.kind,
                    input_size=entry.input_size, preprocessing=entry.preprocessing,
                    output_space=entry.output_space, published_top1=entry.published_top1,
                    notes=entry.notes,
                    available=runtime_available(entry.name))


def builtin_entries() -> list[ZooEntry]:
    """The built-in models (``efficientnet_lite0/1/2``), sorted by name."""
    return sorted((registered_entry(e) for e in model_entries("builtin")), key=lambda e: e.name)


def spec_form_entries() -> list[ZooEntry]:
    """Every registered spec form (``timm:NAME``, ...), in registration order."""
    return [registered_entry(e) for e in model_entries("spec-form")]


def default_realdata() -> Path | None:
    """``$BGBENCH_REALDATA`` when set, else ``../shared/realdata`` seen from the current folder when
    it exists (the project's checkout layout, as the tests and the real-data study use), else None."""
    env = os.environ.get("BGBENCH_REALDATA")
    if env:
        return Path(env).expanduser()
    sibling = Path.cwd().parent / "shared" / "realdata"
    return sibling.resolve() if (sibling / "models").is_dir() else None


def realdata_entries(root: str | Path | None = None) -> list[ZooEntry]:
    """The real TFLite/ONNX models of the real-data folder; specs are absolute when ``root`` is known."""
    base = Path(root).expanduser() if root is not None else default_realdata()
    out = []
    for rec in data_table("zoo_realdata.json")["models"]:
        kind = rec["file"].split("/", 1)[0]
        path = (base / "models" / rec["file"]) if base is not None else Path("realdata/models") / rec["file"]
        prep = ("bilinear, mean = std = 0.5 (TFLite)" if kind == "tflite"
                else "bilinear, ImageNet mean/std")
        approx = " (approximate)" if rec.get("published_top1_approximate") else ""
        out.append(ZooEntry(
            name=rec["name"], spec=f"{kind}:{path}", kind="realdata", input_size=rec["input_size"],
            preprocessing=prep, output_space="imagenet-1k", published_top1=rec["published_top1"],
            available=base is not None and path.is_file() and runtime_available(f"{kind}:"),
            notes=f"{rec['arch']}{approx}"))
    return out


def default_zoo_file() -> Path:
    """``$XDG_CONFIG_HOME/bgbench/zoo.toml`` (``~/.config/bgbench/zoo.toml``)."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "bgbench" / "zoo.toml"


def load_toml(path: Path, what: str = "zoo file") -> dict[str, Any]:
    """The table of the TOML file ``path``; a one-line BgbenchError naming it (``what`` it is)
    when it cannot be read, is not UTF-8 or is not TOML. Shared by the zoo and the sweep's models file."""
    from bgbench.textio import read_toml

    return read_toml(path, what)


def model_tables(data: dict[str, Any], path: Path) -> list[Any]:
    """The ``[[model]]`` (or ``[[models]]``) tables of a parsed zoo or models file, in file order.

    BgbenchError naming ``path`` for unknown top-level keys or a ``model`` that is not an array of
    tables (``model = 5``); the entries themselves are checked by the caller."""
    unknown = sorted(set(data) - {"model", "models"})
    if unknown:
        raise BgbenchError(f"unknown top-level key(s) {', '.join(unknown)} (expected [[model]] tables)", path)
    tables: list[Any] = []
    for key in ("model", "models"):
        value = data.get(key, [])
        if not isinstance(value, list):
            raise BgbenchError(f"{key} should be [[{key}]] tables, not {value!r:.40}", path)
        tables += value
    return tables


#: keys of a user zoo entry and the types their values may have
_USER_KEYS: dict[str, tuple[type, ...]] = {
    "name": (str,), "spec": (str,), "published_top1": (int, float), "preprocessing": (str,),
    "input_size": (int, str), "output_space": (str,), "notes": (str,),
    "arch": (str,), "num_classes": (int,), "weights": (str,),
}


def _check_user_table(table: Any, where: str, p: Path) -> str:
    """The spec of one user zoo table; BgbenchError naming ``p`` and ``where`` for an unknown key or
    a value of the wrong type or range."""
    if not isinstance(table, dict):
        raise BgbenchError(f"{where} is not a table", p)
    extra = set(table) - set(_USER_KEYS)
    if extra:
        raise BgbenchError(f"{where}: unknown key(s) {sorted(extra)} (allowed: {sorted(_USER_KEYS)})", p)
    spec = table.get("spec")
    if not isinstance(spec, str) or not spec:
        raise BgbenchError(f"{where} needs a spec string, e.g. spec = \"timm:resnet50\"", p)
    for key, value in table.items():
        kinds = _USER_KEYS[key]
        if isinstance(value, bool) or not isinstance(value, kinds):
            names = " or ".join({int: "integer", float: "number"}.get(k, "string") for k in kinds)
            raise BgbenchError(f"{where} ({spec}): {key} should be a {names}, not {value!r:.40}", p)
    if "published_top1" in table and not 0 <= table["published_top1"] <= 100:
        raise BgbenchError(f"{where} ({spec}): published_top1 must be a percentage in [0, 100]", p)
    if table.get("preprocessing", "native") not in PREPROCESS_MODES:
        modes = ", ".join(PREPROCESS_MODES)
        raise BgbenchError(f"{where} ({spec}): preprocessing must be one of {modes}", p)
    if table.get("output_space", "imagenet-1k") not in OUTPUT_SPACES:
        raise BgbenchError(f"{where} ({spec}): output_space must be one of {', '.join(OUTPUT_SPACES)}", p)
    return spec


def user_entries(path: str | Path) -> list[ZooEntry]:
    """Entries of a user zoo TOML file (``[[model]]`` tables); one-line errors name the file and entry."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise BgbenchError("zoo file not found" if not p.exists() else "zoo file is not a regular file", p)
    out = []
    for i, table in enumerate(model_tables(load_toml(p), p), 1):
        spec = _check_user_table(table, f"model #{i}", p)
        prep = table.get("preprocessing", "native")
        options = {k: table[k] for k in ("arch", "num_classes", "weights") if k in table}
        if prep != "native":
            options["preprocess"] = prep
        top1 = table.get("published_top1")
        out.append(ZooEntry(name=table.get("name", spec), spec=spec, kind="user",
                            input_size=table.get("input_size"), preprocessing=prep,
                            output_space=table.get("output_space", "imagenet-1k"),
                            published_top1=None if top1 is None else float(top1),
                            notes=table.get("notes", ""), options=options,
                            available=runtime_available(spec)))
    return out


def load_zoo(path: str | Path | None = None, realdata: str | Path | None = None) -> list[ZooEntry]:
    """All zoo entries: built-ins, spec forms, real-data models, then user entries (models your
    code registered with ``@register_model``, then those of the zoo file).

    ``path``: a user zoo TOML file (must exist); None reads the default file when it exists.
    ``realdata``: the real-data folder (default ``$BGBENCH_REALDATA``) to resolve those models' paths.
    """
    entries = builtin_entries() + spec_form_entries() + realdata_entries(realdata)
    entries += [registered_entry(e) for e in model_entries("user")]
    if path is not None:
        entries += user_entries(path)
    elif default_zoo_file().is_file():
        entries += user_entries(default_zoo_file())
    return entries


def matching(entries: list[ZooEntry], pattern: str | None) -> list[ZooEntry]:
    """The entries whose name or spec matches the shell-style ``pattern`` (all when None)."""
    if pattern is None:
        return entries
    return [e for e in entries if fnmatchcase(e.name, pattern) or fnmatchcase(e.spec, pattern)]


def format_table(entries: list[ZooEntry]) -> str:
    """A fixed-width text table of the entries (the CLI prints it; ``--json`` gives the records)."""
    header = ("name", "kind", "spec", "input", "output", "top-1", "preprocessing")
    rows = [header]
    for e in entries:
        top1 = "-" if e.published_top1 is None else f"{e.published_top1:.1f}"
        spec = e.spec if len(e.spec) <= 60 else "..." + e.spec[-57:]
        size = "-" if e.input_size is None else str(e.input_size)
        kind = e.kind + ("" if e.available else " (missing)")
        rows.append((e.name, kind, spec, size, e.output_space, top1, e.preprocessing))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    lines = []
    for k, row in enumerate(rows):
        cells = [cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join(cells) + "  " + row[-1])
        if k == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * len(header[-1]))
    return "\n".join(line.rstrip() for line in lines)
