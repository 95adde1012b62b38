"""Run one function over many tasks: serially, in a local process pool, or on Ray.

All three return the results in task order and show a progress bar, so the build's output never
depends on the executor. ``fn`` must be a module-level function (picklable by reference) and the
tasks picklable. Workers write their own output files (a shared filesystem is needed on a Ray
cluster); only the small per-task results travel back.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, TypeVar

from bgbench.errors import BgbenchError
from bgbench.progress import progress

EXECUTORS: tuple[str, ...] = ("serial", "process", "ray")

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _worker_init() -> None:
    """Each worker uses one OpenCV thread: parallelism comes from the workers."""
    import cv2

    cv2.setNumThreads(1)


def _run_chunk(fn: Callable[[Any], Any], chunk: Sequence[Any]) -> list[Any]:
    return [fn(task) for task in chunk]


def _chunks(tasks: Sequence[T], workers: int) -> list[tuple[int, list[T]]]:
    size = max(1, min(8, len(tasks) // max(1, workers * 8)))
    return [(start, list(tasks[start:start + size])) for start in range(0, len(tasks), size)]


def run_tasks(fn: Callable[[T], R], tasks: Sequence[T], *, executor: str = "serial",
              workers: int | None = None, desc: str = "", quiet: bool = False) -> list[R]:
    """``[fn(t) for t in tasks]`` on the chosen executor, in task order, with a progress bar.

    executor: ``serial`` | ``process`` (``workers`` processes, default all cores) | ``ray``
    (connects to ``$RAY_ADDRESS`` when set, else starts a local Ray with ``num_cpus=workers``).
    """
    if executor not in EXECUTORS:
        raise BgbenchError(f"unknown executor {executor!r} (choose from {', '.join(EXECUTORS)})")
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise BgbenchError(f"--workers must be at least 1, got {workers}")
    if not tasks:
        return []
    if executor == "serial":
        return [fn(task) for task in progress(tasks, total=len(tasks), desc=desc, quiet=quiet)]
    if executor == "process":
        return _run_process(fn, tasks, workers, desc, quiet)
    return _run_ray(fn, tasks, workers, desc, quiet)


def _run_process(fn: Callable[[T], R], tasks: Sequence[T], workers: int, desc: str, quiet: bool) -> list[R]:
    results: list[Any] = [None] * len(tasks)
    chunks = _chunks(tasks, workers)
    context = multiprocessing.get_context("spawn")  # no inherited threads or locks
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_init) as pool, \
            progress(total=len(tasks), desc=desc, quiet=quiet) as bar:
        pending = {pool.submit(_run_chunk, fn, chunk): (start, len(chunk)) for start, chunk in chunks}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                start, count = pending.pop(future)
                results[start:start + count] = future.result()
                bar.update(count)
    return results


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise BgbenchError("--executor ray needs Ray: pip install 'bgbench[ray]'") from None
    return ray


def _run_ray(fn: Callable[[T], R], tasks: Sequence[T], workers: int, desc: str, quiet: bool) -> list[R]:
    ray = _import_ray()
    started_here = False
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                   "configure_logging": False}
        if address:
            ray.init(address=address, **options)
        else:
            ray.init(num_cpus=workers, **options)
        started_here = True
    try:
        remote_chunk = ray.remote(num_cpus=1)(_ray_chunk)
        results: list[Any] = [None] * len(tasks)
        chunks = _chunks(tasks, workers)
        limit = max(2, workers * 4)
        pending: dict[Any, tuple[int, int]] = {}
        queue = iter(chunks)
        with progress(total=len(tasks), desc=desc, quiet=quiet) as bar:
            while True:
                while len(pending) < limit:
                    item = next(queue, None)
                    if item is None:
                        break
                    start, chunk = item
                    pending[remote_chunk.remote(fn, chunk)] = (start, len(chunk))
                if not pending:
                    break
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    start, count = pending.pop(ref)
                    results[start:start + count] = ray.get(ref)
                    bar.update(count)
        return results
    finally:
        if started_here:
            ray.shutdown()


def _ray_chunk(fn: Callable[[Any], Any], chunk: Sequence[Any]) -> list[Any]:
    _worker_init()
    return _run_chunk(fn, chunk)
