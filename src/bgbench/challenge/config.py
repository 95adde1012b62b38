""":class:`ChallengeConfig`: every setting of ``bgbench challenge`` but the data, the model, ``out``
and ``quiet`` (what :func:`bgbench.run_challenge` takes as ``config``).

This module imports nothing heavy (no torch, no numpy): a config can be built, checked and pickled
anywhere. Checks that need no I/O happen in ``__post_init__`` (one-line
:class:`~bgbench.errors.BgbenchError`); whether Ray can be imported and whether ``--executor ray``
has an ``out`` folder are checked by :func:`bgbench.challenge.run_challenge`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bgbench.config import CacheChoice, check_numbers, number
from bgbench.errors import BgbenchError

#: the orders the search may try backgrounds in (see :mod:`bgbench.challenge.search`)
ORDERS = ("adaptive", "folder")
#: where the challenge's shards run
CHALLENGE_EXECUTORS = ("serial", "ray")


def parse_shard(shard: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"i/n"`` or (i, n) with 0 <= i < n -> (i, n); None stays None (BgbenchError otherwise)."""
    if shard is None:
        return None
    if isinstance(shard, str):
        try:
            i, n = (int(part) for part in shard.split("/"))
        except ValueError as exc:
            raise BgbenchError(f"--shard must look like i/n (e.g. 0/4), got {shard!r}") from exc
    else:
        try:
            i, n = shard
        except (TypeError, ValueError):
            raise BgbenchError(f"--shard must be 'i/n' or a pair (i, n), got {shard!r:.40}") from None
    if not (n >= 1 and 0 <= i < n):
        raise BgbenchError(f"--shard {i}/{n}: need 0 <= i < n")
    return int(i), int(n)


@dataclass(frozen=True)
class ChallengeConfig:
    """How one challenge run searches and where its shards run (everything but data and model).

    - ``full``: evaluate every (foreground, background) pair (no early exit): the prediction
      matrix, most fooling backgrounds, gallery, target reachability.
    - ``strict``: also search exactly for the stricter reading (fooled to the background's own
      class); costs extra forward passes.
    - ``split``: the split folder (``val``).
    - ``batch_size``: composites per forward pass, >= 1 (None: 256 on a GPU, 64 on the CPU).
    - ``order``: ``adaptive`` (most fooling backgrounds first) or ``folder``; never changes a
      decision, only which fooling background is found.
    - ``top_k``: most fooling backgrounds listed per class (``full``), >= 1.
    - ``gallery``: draw ``gallery.png`` (``full``, unsharded runs).
    - ``checkpoint_seconds``: how often (seconds, >= 0) the ``full`` matrix is saved to ``out``.
    - ``shard``: ``"i/n"`` or (i, n), 0 <= i < n: only foregrounds with index % n == i (stored as
      the tuple (i, n)); None: all.
    - ``executor``: ``serial`` (this process) or ``ray`` (``workers`` shards as Ray tasks, merged;
      needs ``out``; excludes ``shard``).
    - ``workers``: with ``ray`` the number of shards, >= 1 (None: the cluster's GPUs, else 2);
      ``serial`` refuses more than 1.
    - ``cache``: the decoded-image cache (:class:`~bgbench.config.CacheChoice`).
    """

    full: bool = False
    strict: bool = False
    split: str = "val"
    batch_size: int | None = number(None, low=1)
    order: str = "adaptive"
    top_k: int = number(5, low=1)
    gallery: bool = True
    checkpoint_seconds: float = number(60.0, low=0, whole=False)
    shard: tuple[int, int] | None = None
    executor: str = "serial"
    workers: int | None = number(None, low=1)
    cache: CacheChoice = field(default_factory=CacheChoice)

    def __post_init__(self) -> None:
        if self.executor not in CHALLENGE_EXECUTORS:
            raise BgbenchError(f"unknown --executor {self.executor!r} (expected serial or ray)")
        if not isinstance(self.split, str) or not self.split:
            raise BgbenchError(f"split must be a folder name, got {self.split!r}")
        if self.order not in ORDERS:
            raise BgbenchError(f"unknown order {self.order!r} (expected {' or '.join(ORDERS)})")
        check_numbers(self)
        if not isinstance(self.cache, CacheChoice):
            raise BgbenchError(f"cache must be a CacheChoice, got {type(self.cache).__name__}")
        object.__setattr__(self, "shard", parse_shard(self.shard))
        if self.executor == "serial" and self.workers is not None and self.workers > 1:
            raise BgbenchError(f"--workers {self.workers} runs {self.workers} tasks at once and --executor "
                               "serial runs one: choose another --executor (or leave --workers out)")
        if self.executor == "ray" and self.shard is not None:
            raise BgbenchError("--shard and --executor ray exclude each other (ray makes the shards)")

    def to_json(self) -> dict[str, Any]:
        """The settings as JSON values (``shard`` a list or null, ``cache_dir`` a string or null)."""
        doc = asdict(self)
        doc["shard"] = list(self.shard) if self.shard else None
        doc["cache"] = self.cache.to_json()
        return doc
