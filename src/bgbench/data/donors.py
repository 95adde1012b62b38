"""The background class of every image of a built mixed variant, read from the build's manifest.

A bgbench build records, for each kept image and each mixed variant, the donor whose only_bg_t
became that image's background (``manifest.jsonl``, written by :mod:`bgbench.builder.manifest`). The
released IN-9 tree has no manifest (its mixed_rand and mixed_next even share file names), so there the
backgrounds are unknown and only ``eval --draws`` composites have known donors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bgbench.errors import BgbenchError
from bgbench.textio import parse_json, read_text

MANIFEST = "manifest.jsonl"
"""The build's record of every source image (:mod:`bgbench.builder.manifest` writes it at the tree's root)."""


def donor_classes(root: str | Path, split: str, variant: str) -> dict[tuple[str, str], str | None] | None:
    """``{(class folder, stem): donor's class folder or None}`` of the kept images of ``split`` for
    ``variant``, from ``root/manifest.jsonl``; None when the tree has no manifest.
    Raises BgbenchError naming the file for a line that is not a manifest record."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        return None
    found: dict[tuple[str, str], str | None] = {}
    for number, line in enumerate(read_text(path, "manifest").splitlines(), start=1):
        if not line.strip():
            continue
        rec = parse_json(line, path, f"manifest line {number}")
        if not isinstance(rec, dict) or not all(isinstance(rec.get(k), str) for k in ("split", "class",
                                                                                      "stem")):
            raise BgbenchError(f"manifest line {number} is not a record with split, class and stem", path)
        if rec["split"] != split or rec.get("status") != "kept":
            continue
        donors = rec.get("donors") or {}
        donor = donors.get(variant) if isinstance(donors, dict) else None
        if donor is not None and not (isinstance(donor, dict) and isinstance(donor.get("class"), str)):
            raise BgbenchError(f"manifest line {number}: donors.{variant} has no class", path)
        found[(rec["class"], rec["stem"])] = None if donor is None else donor["class"]
    return found


def background_labels(root: str | Path, split: str, variant: str, paths: list[str],
                      folders: list[str]) -> np.ndarray | None:
    """int64 (N,): the background donor's class (index into ``folders``) of each image path
    ``<variant>/<split>/<class>/<file>``, -1 where the manifest does not know it; None without a
    manifest."""
    donors = donor_classes(root, split, variant)
    if donors is None:
        return None
    index = {name: i for i, name in enumerate(folders)}
    out = np.full(len(paths), -1, dtype=np.int64)
    for i, p in enumerate(paths):
        parts = Path(p)
        donor = donors.get((parts.parent.name, parts.stem))
        if donor is not None:
            out[i] = index.get(donor, -1)
    return out
