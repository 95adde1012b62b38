"""The settings of an evaluation: :class:`EvalConfig` (what :func:`bgbench.evaluate` takes besides the
data, the model, the output folder and ``quiet``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bgbench.config import CacheChoice, check_numbers, number
from bgbench.errors import BgbenchError
from bgbench.eval.groups import DEFAULT_MIN_COUNT


@dataclass(frozen=True)
class EvalConfig:
    """How :func:`bgbench.evaluate` scores a model (every field checked on creation; a bad value is a
    one-line :class:`~bgbench.errors.BgbenchError`).

    - ``variants``: the image variants to score, in that order (each must exist in the tree); None:
      every variant present. A comma string (``"original,mixed_rand"``) or a list is accepted and
      stored as a tuple of stripped, distinct names (so configs compare and hash alike however they
      were written).
    - ``split``: the split folder scored (``val``).
    - ``batch_size``: images per forward pass, at least 1 (part of the resume key).
    - ``cache``: the decoded-image cache (:class:`~bgbench.config.CacheChoice`).
    - ``resume``: with an output folder, reuse the predictions an interrupted run with the same
      model, weights, label map, data, split, batch size and device saved in ``out/partial/``.
    - ``draws``: K >= 1 also scores mixed_same/rand/next composited on the fly with K seeded donor
      backgrounds per foreground (:mod:`bgbench.eval.draws`); None: no composites.
    - ``draw_seed``: seed of the ``draws`` donors (any integer).
    - ``group_min``: least images of a foreground x background group for it to count as the worst
      group (:mod:`bgbench.eval.groups`), at least 1.
    """

    variants: tuple[str, ...] | None = None
    split: str = "val"
    batch_size: int = number(64, low=1)
    cache: CacheChoice = field(default_factory=CacheChoice)
    resume: bool = True
    draws: int | None = number(None, low=1)
    draw_seed: int = number(0)
    group_min: int = number(DEFAULT_MIN_COUNT, low=1)

    def __post_init__(self) -> None:
        object.__setattr__(self, "variants", variant_names(self.variants))
        if not isinstance(self.split, str) or not self.split:
            raise BgbenchError(f"split must be a folder name, got {self.split!r}")
        check_numbers(self)
        if not isinstance(self.cache, CacheChoice):
            raise BgbenchError(f"cache must be a CacheChoice, got {type(self.cache).__name__}")

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form (variants as a list, the cache folder as a string)."""
        doc = asdict(self)
        doc["variants"] = None if self.variants is None else list(self.variants)
        doc["cache"] = self.cache.to_json()
        return doc


def variant_names(variants: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...] | None:
    """``variants`` (a comma string, list or tuple; None for all) as a tuple of stripped, distinct,
    non-empty names; BgbenchError when it names none or holds something other than names."""
    if variants is None:
        return None
    if isinstance(variants, str):
        variants = variants.split(",")
    if not isinstance(variants, (list, tuple)) or not all(isinstance(v, str) for v in variants):
        raise BgbenchError(f"variants must be a comma list or a list of names, got {variants!r}")
    names = tuple(dict.fromkeys(v.strip() for v in variants if v.strip()))
    if not names:
        raise BgbenchError("--variants names no variant")
    return names


__all__ = ["EvalConfig", "variant_names"]
