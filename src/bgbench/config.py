"""The entry points' contract: settings shared by their typed configs (:class:`CacheChoice`,
:class:`ImageSubset`), the one check of a config (:func:`config_of`) and of its numbers
(:func:`number`, :func:`check_numbers`), and the type of their ``model`` (:data:`ModelArg`).

Every entry point is shaped ``run(data, model, config, *, out=None, quiet=False)``: ``model`` is a
spec string, a :class:`~bgbench.options.ModelOptions`, a ready
:class:`~bgbench.models.base.Classifier` or a :class:`~bgbench.predict.ReadyModel`, and ``config``
the command's own frozen dataclass (``EvalConfig``, ``ChallengeConfig``, ``TrainConfig``,
``SaliencyConfig``, ``ProbeConfig``, ``SweepConfig``), whose fields reuse the small types here.
The command line builds both from option groups (:mod:`bgbench.cli.common`). This module imports
nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from numbers import Integral, Real
from pathlib import Path
from typing import Any, TypeVar

from bgbench.errors import BgbenchError

C = TypeVar("C")

ModelArg = Any
"""What an entry point's ``model`` may be: a spec string, a :class:`~bgbench.options.ModelOptions`, a
ready :class:`~bgbench.models.base.Classifier` or a :class:`~bgbench.predict.ReadyModel` (``Any`` at
run time, so that this module imports nothing heavy)."""


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


#: the key of a config field's :class:`Bound` in its ``dataclasses.field`` metadata
BOUND = "bgbench.bound"


@dataclass(frozen=True)
class Bound:
    """What a numeric config field may hold: a whole number (an int, never a bool) or, with
    ``whole=False``, any real number (not a bool, not NaN), from ``low`` to ``high`` (None: no limit;
    ``low_open`` / ``high_open`` leave the limit itself out), and None too when ``optional``."""

    low: float | None = None
    high: float | None = None
    whole: bool = True
    optional: bool = False
    low_open: bool = False
    high_open: bool = False

    def missed(self, value: float) -> str | None:
        """The limit the number ``value`` falls outside of, as a message says it (``at least 1``,
        ``above 0``, ``at most 100``, ``below 1``); None when it is within both (NaN compares within)."""
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return f"{'above' if self.low_open else 'at least'} {self.low:g}"
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            return f"{'below' if self.high_open else 'at most'} {self.high:g}"
        return None

    def allows(self, value: Any) -> bool:
        """True when ``value`` is within the bound."""
        if value is None:
            return self.optional
        if isinstance(value, bool) or not isinstance(value, Integral if self.whole else Real):
            return False
        return self.missed(value) is None and value == value  # NaN is never allowed

    def wording(self) -> str:
        """What the bound asks for, as an error message says it: ``a whole number of at least 1``,
        ``a number in (0, 1]``, ``a whole number in 1..100 (or None)``."""
        kind = "a whole number" if self.whole else "a number"
        if self.low is not None and self.high is not None:
            if self.whole and not (self.low_open or self.high_open):
                limits = f" in {self.low}..{self.high}"
            else:
                limits = (f" in {'(' if self.low_open else '['}{self.low}, "
                          f"{self.high}{')' if self.high_open else ']'}")
        elif self.low is not None:
            limits = f" {'above' if self.low_open else 'of at least'} {self.low}"
        elif self.high is not None:
            limits = f" {'below' if self.high_open else 'of at most'} {self.high}"
        else:
            limits = ""
        return kind + limits + (" (or None)" if self.optional else "")


def number(default: Any, *, low: float | None = None, high: float | None = None, whole: bool = True,
           optional: bool = False, low_open: bool = False, high_open: bool = False) -> Any:
    """A config dataclass field holding a number within a :class:`Bound` (checked by
    :func:`check_numbers` when the config is made), e.g. ``batch_size: int = number(64, low=1)``."""
    bound = Bound(low, high, whole, optional or default is None, low_open, high_open)
    return field(default=default, metadata={BOUND: bound})


def check_numbers(config: Any) -> None:
    """The one check of a config's numbers: a one-line BgbenchError naming the first field made with
    :func:`number` whose value is out of its bound, ``<Config>.<field> must be <wording>, got <value>``
    (e.g. ``EvalConfig.batch_size must be a whole number of at least 1, got 0``)."""
    for f in fields(config):
        bound = f.metadata.get(BOUND)
        value = getattr(config, f.name)
        if bound is not None and not bound.allows(value):
            raise BgbenchError(f"{type(config).__name__}.{f.name} must be {bound.wording()}, got {value!r}")


def bounds(config: Any) -> dict[str, Bound]:
    """The :class:`Bound` of every numeric field of a config class or instance, by field name."""
    return {f.name: f.metadata[BOUND] for f in fields(config) if BOUND in f.metadata}


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

    images: int | None = number(None, low=1)
    per_class: int | None = number(None, low=1)
    seed: int = number(0)

    def __post_init__(self) -> None:
        check_numbers(self)
