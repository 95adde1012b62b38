"""Reading user-supplied text files (JSON, TOML, plain lists) so that bad bytes are one clear error.

Every reader here turns what can go wrong with a file someone else made (missing, unreadable, not
UTF-8, malformed, nested 100,000 deep, NaN or Infinity where numbers belong, a number too long to
parse) into a :class:`~bgbench.errors.BgbenchError` that names the file. Nothing here knows what the
document means: callers check the structure they expect (see :func:`require`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bgbench.errors import BgbenchError

MAX_TEXT_BYTES = 512 * 1024 * 1024
"""Largest text file read whole (bytes); anything bigger is refused rather than loaded into memory."""


def read_text(path: str | Path, what: str = "file") -> str:
    """The whole file decoded as UTF-8 (a leading BOM is dropped).

    Raises BgbenchError naming ``path`` when it is missing, not a regular file, larger than
    :data:`MAX_TEXT_BYTES`, unreadable, or not valid UTF-8 (with the byte offset of the first bad byte).
    """
    p = Path(path)
    try:
        if not p.is_file():
            raise BgbenchError(_not_a_file(p, what), p)
        if p.stat().st_size > MAX_TEXT_BYTES:
            raise BgbenchError(f"{what} is larger than {MAX_TEXT_BYTES // 2**20} MiB", p)
        data = p.read_bytes()
    except OSError as exc:
        raise BgbenchError(f"cannot read {what}: {exc.strerror or exc}", p) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BgbenchError(f"{what} is not UTF-8 text (bad byte at offset {exc.start})", p) from None


def _not_a_file(p: Path, what: str) -> str:
    """Why ``p`` (not a regular file) cannot be read: missing, a dangling link or loop, or a folder."""
    if p.is_symlink() and not p.exists():
        return f"{what} is a dangling symlink or a symlink loop"
    return f"{what} not found" if not p.exists() else f"{what} is not a regular file"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):  # 1e999: too large for a float, read as Infinity
        raise ValueError(f"{text[:20]} is too large (it would read as Infinity, which is not a JSON number)")
    return value


def parse_json(text: str, source: str | Path, what: str = "JSON file") -> Any:
    """``json.loads`` of ``text``; each failure (syntax, NaN, depth, huge numbers) is a BgbenchError."""
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise BgbenchError(f"{what} is nested too deeply to read", source) from None
    except json.JSONDecodeError as exc:
        raise BgbenchError(f"{what} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
                           source) from None
    except ValueError as exc:  # NaN/Infinity, or an integer too long for int()
        reason = "a number is too long" if "digits" in str(exc) else str(exc)
        raise BgbenchError(f"{what} is not valid JSON ({reason})", source) from None


def read_json(path: str | Path, what: str = "JSON file") -> Any:
    """The parsed JSON document of a UTF-8 file; every failure is a BgbenchError naming ``path``."""
    return parse_json(read_text(path, what), path, what)


def read_toml(path: str | Path, what: str = "TOML file") -> dict[str, Any]:
    """The parsed TOML document (a dict) of a UTF-8 file; every failure is a BgbenchError naming ``path``."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    text = read_text(path, what)
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise BgbenchError(f"{what} is nested too deeply to read", path) from None
    except tomllib.TOMLDecodeError as exc:
        raise BgbenchError(f"{what} is not valid TOML ({exc})", path) from None


def require(doc: Any, key: str, kind: type | tuple[type, ...], source: str | Path, where: str = "") -> Any:
    """``doc[key]`` if ``doc`` is a dict with ``key`` of type ``kind``, else a BgbenchError naming ``source``.

    ``where`` (e.g. ``"models[3]"``) says which part of the document ``doc`` is. ``bool`` never counts
    as ``int`` or ``float`` here, so ``true`` cannot pass for a count.
    """
    place = f"{where}." if where else ""
    if not isinstance(doc, dict):
        raise BgbenchError(f"{where or 'document'} should be an object, not {type(doc).__name__}", source)
    if key not in doc:
        raise BgbenchError(f"missing key {place}{key}", source)
    value = doc[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    ok = False if isinstance(value, bool) and bool not in kinds else isinstance(value, kinds)
    if not ok:
        names = " or ".join(k.__name__ for k in kinds)
        raise BgbenchError(f"{place}{key} should be {names}, not {type(value).__name__}", source)
    return value
