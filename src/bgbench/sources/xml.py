"""ILSVRC / Pascal VOC annotation XML parsing (``<annotation><size>...<object><name><bndbox>``).

Pure parsing: :func:`parse_annotation` returns the declared size and every object with its box as
written in the file; coordinate conventions (VOC's 1-based pixels) are the readers' business.
"""

from __future__ import annotations

import math
import stat
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import bgbench.sources.reasons as reasons

MAX_XML_BYTES = 16 * 2**20
"""Largest annotation XML read (bytes); real ones are a few kilobytes."""


class AnnotationError(ValueError):
    """The XML cannot be used; ``str(err)`` is a full one-line drop reason (see :mod:`.reasons`)."""


@dataclass(frozen=True)
class AnnotatedObject:
    """One ``<object>``: its class ``name`` and box (xmin, ymin, xmax, ymax) as written (rounded ints)."""

    name: str
    box: tuple[int, int, int, int]
    difficult: bool = False
    truncated: bool = False


@dataclass(frozen=True)
class Annotation:
    """A parsed annotation file: ``size`` is (width, height) when declared (and positive), ``objects``
    in file order."""

    filename: str | None
    size: tuple[int, int] | None
    objects: tuple[AnnotatedObject, ...]


def parse_annotation(path: str | Path) -> Annotation:
    """Parse an ILSVRC/VOC XML file. Raises :class:`AnnotationError` with a malformed-XML reason."""
    path = Path(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO would block, /dev/zero never end
            raise _bad(path.name, "not a regular file")
        if info.st_size > MAX_XML_BYTES:
            raise _bad(path.name, f"larger than {MAX_XML_BYTES // 2**20} MiB")
        data = path.read_bytes()
    except OSError as err:
        raise AnnotationError(
            reasons.reason(reasons.MALFORMED_XML, f"cannot read {path.name} ({err})")
        ) from None
    return parse_annotation_bytes(data, name=path.name)


def parse_annotation_bytes(data: bytes, *, name: str = "annotation") -> Annotation:
    """Parse XML bytes (see :func:`parse_annotation`)."""
    if b"<!ENTITY" in data:  # refuse entity expansion ("billion laughs") outright; datasets never use it
        raise _bad(name, "entity declarations are not allowed")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as err:
        raise _bad(name, f"not well-formed XML ({err})") from None
    if root.tag != "annotation":
        raise _bad(name, f"root element is <{root.tag}>, expected <annotation>")
    size = None
    size_el = root.find("size")
    if size_el is not None:
        width = _int_field(size_el, "width", name)
        height = _int_field(size_el, "height", name)
        # some real ILSVRC XMLs declare 0x0: treat a non-positive size as "not declared"
        size = (width, height) if width > 0 and height > 0 else None
    objects = []
    for index, obj in enumerate(root.findall("object")):
        label = (obj.findtext("name") or "").strip()
        if not label:
            raise _bad(name, f"object {index + 1} has no <name>")
        bndbox = obj.find("bndbox")
        if bndbox is None:
            raise _bad(name, f"object {index + 1} ({label}) has no <bndbox>")
        box = tuple(_int_field(bndbox, key, name) for key in ("xmin", "ymin", "xmax", "ymax"))
        objects.append(
            AnnotatedObject(
                name=label,
                box=box,  # type: ignore[arg-type]
                difficult=_flag(obj, "difficult"),
                truncated=_flag(obj, "truncated"),
            )
        )
    filename = root.findtext("filename")
    return Annotation(filename=filename.strip() if filename else None, size=size, objects=tuple(objects))


def _int_field(parent: ET.Element, key: str, name: str) -> int:
    text = parent.findtext(key)
    if text is None or not text.strip():
        raise _bad(name, f"missing <{key}>")
    try:
        value = float(text.strip())
    except ValueError:
        raise _bad(name, f"<{key}> is not a number: {text.strip()[:40]!r}") from None
    if not math.isfinite(value):
        raise _bad(name, f"<{key}> is not finite")
    return int(round(value))


def _flag(obj: ET.Element, key: str) -> bool:
    text = (obj.findtext(key) or "0").strip()
    return text not in ("", "0", "false", "False")


def _bad(name: str, detail: str) -> AnnotationError:
    return AnnotationError(reasons.reason(reasons.MALFORMED_XML, f"{name}: {detail}"))
