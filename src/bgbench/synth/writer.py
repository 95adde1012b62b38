"""Write one rendered scene as an ImageNet-style sample: JPEG, ILSVRC XML beside it, PNG mask.

Encoders are deterministic (JPEG quality 90 with 4:2:0 chroma through :func:`bgbench.jpeg.encode_jpeg`,
no metadata or timestamps), so the same scene always gives the same bytes. Every file goes through
:mod:`bgbench.atomic`.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image

from bgbench.atomic import atomic_write_bytes, atomic_write_text
from bgbench.jpeg import encode_jpeg
from bgbench.synth.scene import Scene

JPEG_QUALITY = 90
JPEG_SUBSAMPLING = "4:2:0"
DATABASE = "bgbench-synth"


def encode_png(mask: np.ndarray) -> bytes:
    """PNG bytes (mode "L") of a uint8 (H, W) instance mask."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(mask.astype(np.uint8, copy=False))).save(buffer, format="PNG")
    return buffer.getvalue()


def annotation_xml(folder: str, stem: str, width: int, height: int, name: str,
                   boxes: tuple[tuple[int, int, int, int], ...], truncated: tuple[bool, ...]) -> str:
    """ILSVRC-style annotation: one ``<object>`` per box; boxes are inclusive 0-based pixel corners."""
    lines = [
        "<annotation>",
        f"\t<folder>{escape(folder)}</folder>",
        f"\t<filename>{escape(stem)}</filename>",
        f"\t<source>\n\t\t<database>{DATABASE}</database>\n\t</source>",
        f"\t<size>\n\t\t<width>{width}</width>\n\t\t<height>{height}</height>\n\t\t<depth>3</depth>\n\t</size>",
        "\t<segmented>1</segmented>",
    ]
    for (xmin, ymin, xmax, ymax), cut in zip(boxes, truncated, strict=True):
        lines += [
            "\t<object>",
            f"\t\t<name>{escape(name)}</name>",
            "\t\t<pose>Unspecified</pose>",
            f"\t\t<truncated>{int(cut)}</truncated>",
            "\t\t<difficult>0</difficult>",
            "\t\t<bndbox>",
            f"\t\t\t<xmin>{xmin}</xmin>\n\t\t\t<ymin>{ymin}</ymin>\n\t\t\t<xmax>{xmax}</xmax>\n\t\t\t<ymax>{ymax}</ymax>",
            "\t\t</bndbox>",
            "\t</object>",
        ]
    lines.append("</annotation>")
    return "\n".join(lines) + "\n"


def sample_paths(out: Path, split: str, wnid: str, stem: str) -> dict[str, Path]:
    """Where the image, annotation and mask of one sample live under ``out``."""
    return {
        "image": out / split / wnid / f"{stem}.JPEG",
        "annotation": out / split / wnid / f"{stem}.xml",
        "mask": out / "masks" / split / wnid / f"{stem}.png",
    }


def write_scene(out: Path, split: str, wnid: str, stem: str, scene: Scene) -> dict[str, Any]:
    """Write the three files of ``scene`` (mask first, image last) and return its jsonl record."""
    paths = sample_paths(out, split, wnid, stem)
    atomic_write_bytes(paths["mask"], encode_png(scene.mask))
    atomic_write_text(paths["annotation"], annotation_xml(wnid, stem, scene.width, scene.height, wnid,
                                                          scene.boxes, scene.truncated))
    atomic_write_bytes(paths["image"], encode_jpeg(scene.image, JPEG_QUALITY, subsampling=JPEG_SUBSAMPLING))
    return {
        "stem": stem,
        "wnid": wnid,
        "label": scene.label,
        "habitat": scene.habitat,
        "size": [scene.width, scene.height],
        "objects": [
            {"id": k, "box": list(box), "area": area, "truncated": cut}
            for k, (box, area, cut) in enumerate(zip(scene.boxes, scene.areas, scene.truncated, strict=True),
                                                 start=1)
        ],
        "image": paths["image"].relative_to(out).as_posix(),
        "annotation": paths["annotation"].relative_to(out).as_posix(),
        "mask": paths["mask"].relative_to(out).as_posix(),
    }
