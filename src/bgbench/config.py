"""Settings shared by the entry points' typed configs (:class:`CacheChoice`, :class:`ImageSubset`).

Every entry point is shaped ``run(data, model, config, *, out=None, quiet=False)``: ``model`` is a
spec string, a :class:`~bgbench.options.ModelOptions`, a ready
:class:`~bgbench.models.base.Classifier` or a :class:`~bgbench.predict.ReadyModel`, and ``config``
the command's own frozen dataclass (``EvalConfig``, ``ChallengeConfig``, ``TrainConfig``,
``SaliencyConfig``, ``ProbeConfig``, ``SweepConfig``), whose fields reuse the small types here.
The command line builds both from option groups (:mod:`bgbench.cli.common`). This module imports
nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bgbench.errors import BgbenchError

C = TypeVar("C")


def config_of(config: C | None, kind: type[C], hint: str = "") -> C:
    """An entry point's ``config``: ``kind()`` (the defaults) when None, ``config`` itself when it is
    a ``kind``; otherwise the one-line BgbenchError every entry point gives, ``config must be a
    <kind>[ (hint)], got <type>``."""
    if config is None:
        return kind()
    if not isinstance(config, kind):
        article = "an" if kind.__name__[0] in "AEIOU" else "a"
        extra = f" ({hint})" if hint else ""
        raise BgbenchError(f"config must be {article} {kind.__name__}{extra}, got {type(config).__name__}")
    return config


@dataclass(frozen=True)
class CacheChoice:
    """Decoded-image cache: ``cache`` keeps decoded images in a memmap cache (False: decode in
    memory, write no cache files); ``cache_dir`` is where (None: ``$BGBENCH_CACHE`` or
    ``~/.cache/bgbench``)."""

    cache: bool = True
    cache_dir: str | Path | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"cache": bool, "cache_dir": str or null}``, as the configs record it."""
        return {"cache": self.cache, "cache_dir": None if self.cache_dir is None else str(self.cache_dir)}


@dataclass(frozen=True)
class ImageSubset:
    """Which images a command reads: ``images`` (N drawn at random with ``seed``), ``per_class``
    (at most N per class: the first N of each class in file order), both None for all."""

    images: int | None = None
    per_class: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("images", "per_class"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise BgbenchError(f"--{name.replace('_', '-')} must be a whole number of at least 1, "
                                   f"got {value!r}")
