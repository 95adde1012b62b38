"""``load_results(path)``: any bgbench output file or folder -> its typed :class:`Result`.

Each command registers its result class with :func:`register_result` (schema kind -> class,
imported lazily, and the file name it writes, or a glob such as ``synth-*.json``), so the report and
the sweep never guess at files: a folder is searched for the registered names, a file is read and its
``schema`` field picks the class, whatever the file is called. A folder holding a file under the name
an earlier bgbench wrote (:data:`RENAMED`, e.g. eval's ``results.json``) but not today's is a
one-line error saying to rename it.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

from bgbench.errors import BgbenchError
from bgbench.results.base import Result, reading, schema_kind, schema_major
from bgbench.textio import read_json


class _Kind:
    __slots__ = ("filename", "major", "target")

    def __init__(self, target: str, filename: str, major: int) -> None:
        self.target, self.filename, self.major = target, filename, major


#: schema kind ("eval") -> where its class lives, what file it writes, the newest major version read
_KINDS: dict[str, _Kind] = {}


def register_result(kind: str, target: str, filename: str, major: int = 1) -> None:
    """Register a result kind: ``target`` is ``"module:Class"`` (imported on first load),
    ``filename`` the document's name in an output folder (a glob pattern such as ``synth-*.json``
    when the name varies), ``major`` the newest schema version read."""
    _KINDS[kind] = _Kind(target, filename, major)


# the commands that ship with bgbench (later commands register themselves the same way)
register_result("sweep", "bgbench.sweeps.result:SweepResult", "sweep.json")
register_result("challenge", "bgbench.challenge.result:ChallengeResult", "challenge.json")
register_result("eval", "bgbench.eval.result:EvalResult", "eval.json")
register_result("build", "bgbench.builder.result:BuildResult", "build.json")
register_result("synth", "bgbench.synth.result:SynthResult", "synth-*.json")
register_result("download", "bgbench.download:DownloadResult", ".bgbench-download.json")
register_result("demo", "bgbench.demo:DemoResult", "demo.json")
register_result("train", "bgbench.training.result:TrainResult", "train.json")
register_result("report", "bgbench.reporting.result:ReportResult", "report.json")
register_result("saliency", "bgbench.explain.result:SaliencyResult", "saliency.json")
register_result("probe", "bgbench.explain.result:ProbeResult", "probe.json")


#: file names an earlier bgbench wrote -> today's name (read by schema, never by name)
RENAMED: dict[str, str] = {"results.json": "eval.json"}


def check_renamed(folder: Path) -> None:
    """BgbenchError when ``folder`` holds a bgbench document under an earlier bgbench's name
    (:data:`RENAMED`) without today's, e.g. an eval's ``results.json`` without ``eval.json``. A file
    of that name that is not such a document (another tool's ``results.json``) is left alone."""
    for old, new in RENAMED.items():
        path = folder / old
        if not path.is_file() or (folder / new).exists():
            continue
        try:
            doc = read_json(path, "result file")
        except BgbenchError:  # not a readable JSON document: not ours
            continue
        schema = doc.get("schema") if isinstance(doc, dict) else None
        kind = schema_kind(schema) if isinstance(schema, str) and schema.startswith("bgbench.") else None
        if kind is not None and kind in _KINDS and _KINDS[kind].filename == new:
            raise BgbenchError(f"{old} is an earlier bgbench's {kind} output; rename it to {new}", path)


def result_filenames() -> dict[str, str]:
    """Schema kind -> the file name (or glob) its command writes (in lookup order for folders)."""
    return {kind: k.filename for kind, k in _KINDS.items()}


def result_class(kind: str) -> type[Result]:
    """The class registered for a schema kind (``eval``, ``challenge``, ...)."""
    if kind not in _KINDS:
        raise KeyError(kind)
    module, _, name = _KINDS[kind].target.partition(":")
    return getattr(import_module(module), name)


def _find_file(folder: Path) -> Path:
    """The first registered kind's file in ``folder``; several files of one pattern are ambiguous."""
    for kind, entry in _KINDS.items():
        found = sorted(p for p in folder.glob(entry.filename) if p.is_file())
        if len(found) > 1:
            names = ", ".join(p.name for p in found)
            raise BgbenchError(f"several {kind} results in this folder ({names}); load one file", folder)
        if found:
            return found[0]
    check_renamed(folder)
    names = ", ".join(sorted({k.filename for k in _KINDS.values()}))
    raise BgbenchError(f"no bgbench result in this folder (looked for {names})", folder)


def read_document(path: str | Path) -> tuple[dict[str, Any], Path]:
    """The JSON document at ``path`` (a file, or a folder holding one registered file).

    Every problem (missing, a directory without a result, a symlink loop, not UTF-8, not JSON, NaN,
    nested too deeply, not an object) is a one-line BgbenchError naming the file."""
    p = Path(path)
    try:
        is_dir = p.is_dir()
        exists = is_dir or p.exists()
    except OSError as exc:  # a symlink loop, a name too long
        raise BgbenchError(f"cannot read result ({exc.strerror or exc})", p) from None
    if is_dir:
        p = _find_file(p)
    elif not exists:
        loop = p.is_symlink()
        raise BgbenchError("result file is a dangling symlink or a symlink loop" if loop
                           else "result file or folder not found", p)
    doc = read_json(p, "result file")
    if not isinstance(doc, dict):
        raise BgbenchError("not a bgbench result (the JSON is not an object)", p)
    return doc, p


def _kind_of(doc: dict[str, Any], path: Path) -> str:
    schema = doc.get("schema")
    if isinstance(schema, str) and schema.startswith("bgbench."):
        return schema_kind(schema)
    raise BgbenchError("not a bgbench result (no 'schema' field naming a bgbench result kind)", path)


def load_results(path: str | Path) -> Result:
    """Read any bgbench result (file or output folder) into its typed :class:`Result`.

    Raises a one-line BgbenchError naming the file for a missing, unreadable or foreign file, an
    unknown schema kind, or a schema version newer than this bgbench reads."""
    doc, p = read_document(path)
    kind = _kind_of(doc, p)
    if kind not in _KINDS:
        raise BgbenchError(f"unknown result kind {kind!r} (known: {', '.join(sorted(_KINDS))})", p)
    major = schema_major(str(doc.get("schema", "")))
    if major is not None and major > _KINDS[kind].major:
        raise BgbenchError(f"schema {doc['schema']} is newer than this bgbench reads "
                           f"(bgbench.{kind}/{_KINDS[kind].major}); upgrade bgbench", p)
    with reading(f"{kind} result", p):  # a missing key or a mistyped field: one line naming the file
        result = result_class(kind).from_json(doc, p)
        result.source_path = p
    return result
