"""Run folders under ``reports/``: a name of its own for every run, and one index writer at a time.

Two runs started in the same second (two terminals, a CI matrix) must neither share a folder nor
leave ``index.html`` listing one of them as still running.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from facegen.errors import UsageError
from facegen.runs.run import Settings


def new_run_id(settings: Settings, kind: str | None = None) -> str:
    """``<time>-[<kind>-]<profile>-seed<seed>``; ``kind`` marks runs not made by the notebooks."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    prefix = f"{stamp}-{kind}" if kind else stamp
    return f"{prefix}-{settings.profile}-seed{settings.seed}"


def create_run_folder(root: Path, run_id: str, *, exact: bool = False) -> Path:
    """Make ``root/run_id`` and return it; if another run took that name first, ``<run_id>-2``,
    ``-3``, and so on. ``mkdir`` either creates the folder or fails, atomically, so two processes
    can never both get the same one. ``exact``: the caller chose the name; refuse a taken one."""
    root.mkdir(parents=True, exist_ok=True)
    for attempt in itertools.count(1):
        folder = root / (run_id if attempt == 1 else f"{run_id}-{attempt}")
        try:
            folder.mkdir()
        except FileExistsError:
            if exact:
                raise UsageError(f"{folder} already exists; choose another run id") from None
            continue
        return folder
    raise AssertionError("unreachable")


@contextlib.contextmanager
def _index_lock(root: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``root/.index.lock`` (POSIX ``flock``; no lock where there is
    none). Rewriting the index reads every manifest, then replaces the page: without the lock, a
    run that read a neighbour's manifest while it was still "running" could replace the page after
    the neighbour's own, final one."""
    try:
        import fcntl
    except ImportError:  # not POSIX: each write is still atomic, only the order is not kept
        yield
        return
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".index.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def update_index(root: str | os.PathLike) -> Path:
    """Rewrite ``root/index.html`` from every run's manifest, one writer at a time; call it after
    the run's own manifest is final, so the last writer lists every run as it ended."""
    from facegen.reporting.pages import write_index

    root = Path(root)
    with _index_lock(root):
        return write_index(root)
