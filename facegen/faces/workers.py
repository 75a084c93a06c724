"""Per-file work (decode, find, align) spread over worker processes, results kept in order.

Processes, not threads: per image the Python around OpenCV and onnxruntime costs as much as the
work itself, so threads fight over the GIL (measured in benchmarks/bench_data.py). Each worker
runs its detector and OpenCV on one thread, so ``n`` workers use ``n`` cores and no more.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

_PRELOAD = ("facegen.faces.cache", "facegen.faces.batch", "facegen.predict.classify")
"""Imported once by the fork server, so each worker starts with them loaded."""


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """Processes from a fork server that has imported the per-file code (and its detector) once.

    Plain fork copies whatever locks the parent's threads held (OpenCV's pool, tqdm's monitor,
    TensorFlow's pools in a notebook) and the children can deadlock; spawning re-imports
    everything per worker. A fork server pays the imports once, then forks cheaply from a process
    that never started those threads.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(_PRELOAD))
    else:
        context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=one_thread_each)


def one_thread_each() -> None:
    """OpenCV and the detector on one thread, for a process that holds one core (a worker here,
    a Ray actor in ``predict.on_ray``)."""
    import cv2

    from facegen.faces import detect

    cv2.setNumThreads(1)
    detect.use_threads(1)


def ordered_map(
    function: Callable[[Item], Result], items: Sequence[Item], workers: int
) -> Iterator[Result]:
    """``function(item)`` for each item, in order; on ``workers`` processes when there is more
    than one item for each, else in this process. At most two items per worker are in flight
    beyond the one being consumed, so memory stays flat however many items there are.

    ``function`` must be picklable: a module-level function, or a ``functools.partial`` of one.
    """
    workers = max(1, min(workers, len(items)))
    if workers == 1:
        yield from map(function, items)
        return
    pool = worker_pool(workers)
    try:
        remaining: Iterable[Item] = iter(items)
        pending: deque[Future] = deque(
            pool.submit(function, item) for item in itertools.islice(remaining, 2 * workers)
        )
        while pending:
            result = pending.popleft().result()
            pending.extend(pool.submit(function, item) for item in itertools.islice(remaining, 1))
            yield result
    finally:
        pool.shutdown(cancel_futures=True)
