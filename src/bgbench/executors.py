"""Run one function over many tasks: serially, in a local process pool, or on Ray.

The executors sit above the work they run: the build maps image tasks, the challenge maps shards,
the sweep maps models, each with a module-level task function; none of them knows about Ray.

``open_executor(kind, workers)`` gives a context manager whose ``map(fn, tasks, desc=...)`` returns
``[fn(t) for t in tasks]`` in task order with a progress bar, whatever the executor, so the build's
output never depends on it. One pool (or one Ray session) serves every ``map`` inside the ``with``.
``fn`` must be a module-level function (picklable by reference) and the tasks picklable. Workers
write their own output files (a Ray cluster needs OUT on a shared filesystem); only small per-task
results travel back.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from typing import Any

from bgbench.errors import BgbenchError
from bgbench.progress import progress

EXECUTORS: tuple[str, ...] = ("serial", "process", "ray")


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _worker_init() -> None:
    """Each worker uses one OpenCV thread: parallelism comes from the workers. Workers ignore Ctrl-C
    (the terminal sends it to the whole process group): the parent alone stops the run. A worker
    starts with SIGINT blocked (see :func:`_children_ignore_sigint`); ignoring it discards one held
    meanwhile, and it is then unblocked."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    import cv2

    cv2.setNumThreads(1)


def _run_chunk(fn: Callable[[Any], Any], chunk: Sequence[Any]) -> list[Any]:
    return [fn(task) for task in chunk]


def _chunks(tasks: Sequence[Any], workers: int) -> list[tuple[int, list[Any]]]:
    size = max(1, min(8, len(tasks) // max(1, workers * 8)))
    return [(start, list(tasks[start:start + size])) for start in range(0, len(tasks), size)]


@contextmanager
def _children_ignore_sigint() -> Iterator[None]:
    """Start worker processes inside this block so that a Ctrl-C never reaches a half-started one,
    and a Ctrl-C meanwhile still stops this process when the block ends.

    SIGINT is blocked in this thread here. A signal mask survives fork and exec, so every process
    started from this thread (the fork server, and through it each worker) starts with SIGINT
    blocked, and :func:`_worker_init` then ignores it for good. The signal is *not* ignored in this
    process: an ignored signal that another thread (the pool's manager, a progress bar's monitor)
    takes is discarded, and the run would go on as if no Ctrl-C had come. A handler that only
    records it runs instead, and the block raises KeyboardInterrupt on its way out."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    from multiprocessing import resource_tracker

    seen: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    try:
        # the pool's first worker starts multiprocessing's resource tracker, which unblocks SIGINT
        # in this thread once it runs; start it first, so the block below holds for the fork server
        resource_tracker.ensure_running()
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # one still held is delivered now
    if seen:
        raise KeyboardInterrupt


class Executor:
    """Base: serial execution in this process."""

    kind = "serial"

    def __init__(self, workers: int, quiet: bool = False) -> None:
        self.workers = workers
        self.quiet = quiet

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any], desc: str = "",
            unit: str = "img") -> list[Any]:
        """``[fn(t) for t in tasks]`` in task order, with a progress bar counting ``unit``s."""
        bar = progress(tasks, total=len(tasks), desc=desc, unit=unit, quiet=self.quiet)
        return [fn(task) for task in bar]

    def close(self) -> None:
        """Release workers (nothing to do serially)."""


def _chunk_result(future: Any) -> list[Any]:
    """A finished chunk's results; a dead worker is one line saying what usually kills one."""
    from concurrent.futures.process import BrokenProcessPool

    try:
        return future.result()
    except BrokenProcessPool:
        raise BgbenchError("a worker process died (killed, out of memory, or started from a Python script "
                           "without the if __name__ == '__main__': guard that process pools need); "
                           "rerun to resume, or use executor='serial'") from None


def _pool_context(fn: Callable[[Any], Any]) -> Any:
    """The multiprocessing context of the pools: ``forkserver``. Workers fork from one clean,
    single-threaded server process (so, as with ``spawn``, none inherits this process's threads or
    locks), which is started once per process with the first pool's task module (``fn``'s) imported;
    every later worker starts in milliseconds instead of importing numpy, OpenCV and bgbench again."""
    context = multiprocessing.get_context("forkserver")
    # no effect once the server runs; a script's own module is never imported into it
    context.set_forkserver_preload([fn.__module__] if fn.__module__ != "__main__" else [])
    return context


class ProcessExecutor(Executor):
    """A local pool of ``workers`` processes (forked from a clean server: no inherited threads or locks)."""

    kind = "process"

    def __init__(self, workers: int, quiet: bool = False) -> None:
        super().__init__(workers, quiet)
        self._pool: ProcessPoolExecutor | None = None

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any], desc: str = "",
            unit: str = "img") -> list[Any]:
        if not tasks:
            return []
        results: list[Any] = [None] * len(tasks)
        with progress(total=len(tasks), desc=desc, unit=unit, quiet=self.quiet) as bar:
            with _children_ignore_sigint():  # the workers start inside submit(), SIGINT blocked
                if self._pool is None:
                    self._pool = ProcessPoolExecutor(max_workers=self.workers, initializer=_worker_init,
                                                     mp_context=_pool_context(fn))
                pending = {self._pool.submit(_run_chunk, fn, chunk): (start, len(chunk))
                           for start, chunk in _chunks(tasks, self.workers)}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    start, count = pending.pop(future)
                    results[start:start + count] = _chunk_result(future)
                    bar.update(count)
        return results

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _ray_chunk(fn: Callable[[Any], Any], chunk: Sequence[Any]) -> list[Any]:
    _worker_init()
    return _run_chunk(fn, chunk)


class RayExecutor(Executor):
    """Ray tasks: connects to ``$RAY_ADDRESS`` when set, else starts a local Ray (``num_cpus=workers``)."""

    kind = "ray"

    def __init__(self, workers: int, quiet: bool = False, gpu_tasks: bool = False) -> None:
        super().__init__(workers, quiet)
        ray = _import_ray()
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                       "configure_logging": False}
            address = os.environ.get("RAY_ADDRESS")
            if address:
                ray.init(address=address, **options)
            else:
                ray.init(num_cpus=workers, **options)
            self._started = True
        #: GPUs in the cluster; with ``gpu_tasks`` each task asks for one when there are any
        self.cluster_gpus = int(ray.cluster_resources().get("GPU", 0))
        gpus = 1 if gpu_tasks and self.cluster_gpus else 0
        self._remote = ray.remote(num_cpus=1, num_gpus=gpus)(_ray_chunk)

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any], desc: str = "",
            unit: str = "img") -> list[Any]:
        ray = self._ray
        results: list[Any] = [None] * len(tasks)
        queue = iter(_chunks(tasks, self.workers))
        limit = max(2, self.workers * 4)  # bounded in-flight work
        pending: dict[Any, tuple[int, int]] = {}
        with progress(total=len(tasks), desc=desc, unit=unit, quiet=self.quiet) as bar:
            while True:
                while len(pending) < limit:
                    item = next(queue, None)
                    if item is None:
                        break
                    pending[self._remote.remote(fn, item[1])] = (item[0], len(item[1]))
                if not pending:
                    break
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    start, count = pending.pop(ref)
                    results[start:start + count] = ray.get(ref)
                    bar.update(count)
        return results

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False


def check_executor(kind: str = "serial", workers: int | None = None) -> int:
    """Validate an executor choice without starting anything; returns the worker count to use.

    ``workers`` means the same for every command: how many tasks run at once (``process``: that many
    worker processes; ``ray``: that many Ray workers, the CPUs of a local Ray; ``serial``: one). None:
    all cores (serial: 1). Raises BgbenchError for an unknown ``kind``, ``workers < 1``, ``workers >
    1`` with ``serial`` (which would ignore it), or ``kind == "ray"`` when Ray cannot be imported, so a
    caller can refuse bad options before it writes anything.
    """
    if kind not in EXECUTORS:
        raise BgbenchError(f"unknown executor {kind!r} (choose from {', '.join(EXECUTORS)})")
    if workers is not None and int(workers) < 1:
        raise BgbenchError(f"--workers must be at least 1, got {workers}")
    if kind == "serial":
        if workers is not None and int(workers) > 1:
            raise BgbenchError(f"--workers {workers} runs {workers} tasks at once and --executor serial runs "
                               "one: choose another --executor (or leave --workers out)")
        return 1
    if kind == "ray":
        _import_ray()
    return default_workers() if workers is None else int(workers)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise BgbenchError("--executor ray needs Ray: pip install 'bgbench[ray]'") from None
    return ray


@contextmanager
def open_executor(kind: str = "serial", workers: int | None = None, *, quiet: bool = False,
                  gpu_tasks: bool = False) -> Iterator[Executor]:
    """An executor of ``kind`` (serial | process | ray) running ``workers`` tasks at once (default: all
    cores; serial: one).

    ``gpu_tasks`` (Ray only): each task asks for one GPU when the cluster has GPUs (one model per
    GPU), else for one CPU."""
    workers = check_executor(kind, workers)
    if kind == "ray":
        executor: Executor = RayExecutor(workers, quiet, gpu_tasks=gpu_tasks)
    else:
        executor = {"serial": Executor, "process": ProcessExecutor}[kind](workers, quiet)
    try:
        yield executor
    finally:
        executor.close()
