"""Data-parallel training under ``torchrun``: the process group from torchrun's environment, the
model wrapped in DistributedDataParallel, each global batch sliced across ranks, metrics summed.

``torchrun`` sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE`` (and the rendezvous address); without them
(or with ``WORLD_SIZE=1``) :func:`init_from_env` returns the one-process :data:`SINGLE` and nothing
here touches ``torch.distributed``. NCCL on CUDA, gloo on the CPU. Only rank 0 writes files.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from bgbench.errors import BgbenchError


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: ``rank`` in [0, ``world``), ``local_rank`` on its node, ``backend``
    (``nccl``, ``gloo`` or None for one process)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes checkpoints, state, train.json and shows progress."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.backend is not None

    def shard(self, batch: np.ndarray) -> np.ndarray:
        """This rank's contiguous slice of a global batch (sizes differ by at most one, the first ranks
        one longer; may be empty): :func:`bgbench.data.shard`."""
        from bgbench.data import shard

        return batch[shard(len(batch), self.rank, self.world)] if self.world > 1 else batch

    def device_name(self, name: str) -> str:
        """``name`` with ``cuda``/``auto`` pinned to this process's GPU ``cuda:LOCAL_RANK``."""
        if self.active and name in ("auto", "cuda") and torch.cuda.is_available():
            return f"cuda:{self.local_rank}"
        return name

    def to_json(self, batch_size: int, batchnorm: str | None) -> dict[str, Any]:
        return {"world_size": self.world, "backend": self.backend or "none",
                "batch_size_per_process": batch_size,
                "global_batch": batch_size * self.world, "batchnorm": batchnorm}


SINGLE = DistContext()


def init_from_env(device: str = "auto") -> DistContext:
    """The process group torchrun's environment describes (initialised once), or :data:`SINGLE`."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return SINGLE
    import torch.distributed as dist

    try:
        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    except (KeyError, ValueError) as exc:
        raise BgbenchError("WORLD_SIZE > 1 needs RANK and LOCAL_RANK (start the run with torchrun)") from exc
    cuda = device != "cpu" and torch.cuda.is_available()
    backend = "nccl" if cuda else "gloo"
    if not dist.is_initialized():
        if cuda:
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend)
    return DistContext(rank=rank, world=world, local_rank=local, backend=backend)


def has_batchnorm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def wrap(module: nn.Module, ctx: DistContext, device: torch.device) -> tuple[nn.Module, str | None]:
    """(the module to call in training, how BatchNorm statistics are kept or None without BatchNorm).

    One process: ``module`` itself. Several: DistributedDataParallel around it, its BatchNorm layers
    converted to SyncBatchNorm on GPUs; on the CPU (no SyncBatchNorm there) each process keeps its own
    batch statistics."""
    norm = "batch" if has_batchnorm(module) else None
    if not ctx.active:
        return module, norm
    from torch.nn.parallel import DistributedDataParallel

    if has_batchnorm(module):
        if device.type == "cuda":
            nn.SyncBatchNorm.convert_sync_batchnorm(module)
            norm = "sync"
        else:
            norm = "per-process"
            if ctx.is_main:
                import sys

                print("warning: SyncBatchNorm does not run on the CPU: each process keeps its own "
                      "BatchNorm statistics", file=sys.stderr)
    ids = [device.index if device.index is not None else ctx.local_rank] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids), norm


def sum_across(values: list[float], ctx: DistContext) -> list[float]:
    """Elementwise sum of ``values`` over all ranks (``values`` itself for one process)."""
    if not ctx.active:
        return values
    import torch.distributed as dist

    device = torch.device(f"cuda:{ctx.local_rank}") if ctx.backend == "nccl" else torch.device("cpu")
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.cpu().tolist()


def gather(part: Any, ctx: DistContext) -> list[Any]:
    """Every rank's ``part`` (picklable, e.g. an array), in rank order, on every rank."""
    if not ctx.active:
        return [part]
    import torch.distributed as dist

    parts: list[Any] = [None] * ctx.world
    dist.all_gather_object(parts, part)
    return parts


@contextlib.contextmanager
def main_first(ctx: DistContext) -> Iterator[None]:
    """Run the block on rank 0 first, then on the other ranks: what rank 0 writes there (a cache entry)
    the others find and only read. A no-op outside torchrun."""
    if not ctx.is_main:
        barrier(ctx)
    yield
    if ctx.is_main:
        barrier(ctx)


def barrier(ctx: DistContext) -> None:
    if ctx.active:
        import torch.distributed as dist

        if ctx.backend == "nccl":
            dist.barrier(device_ids=[ctx.local_rank])
        else:
            dist.barrier()


def shutdown(ctx: DistContext) -> None:
    """Leave the process group (after the last collective)."""
    if ctx.active:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
