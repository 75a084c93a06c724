"""Sweeps of trainings (ablation variants, seeds, k folds) as Ray Tune trials.

A sweep is a list of trials, each a name and JSON-able parameters, and one function that turns a
trial's parameters into a row of results. Ray Tune runs each trial in its own worker process: on
this machine by default (a local Ray on 127.0.0.1 only, ``facegen.cluster``), on a cluster when
``RAY_ADDRESS`` is set; there every machine needs facegen, the data at the same path, and the
sweep folder on a file system they share.

Resuming is ours, not Tune's: each finished trial's row is written, atomically and by the driver,
to ``<sweep folder>/rows/`` the moment Tune hands it over, and a sweep run again sends Tune only
the trials without a row. So an interrupted sweep (Ctrl-C, a lost machine, a failed trial) goes
on where it stopped and never trains a finished trial again, and the callbacks, CPUs and
verbosity are always the current call's (Tune's own restore would bring back the first call's).
An unfinished trial starts again from its first epoch: trials keep no checkpoints, a training
being minutes.

Equal parameters give equal rows: each trial seeds everything from its parameters (the training
code's ``seed_everything``, with TensorFlow's deterministic ops), and a sweep's CPUs per trial,
which size TensorFlow's thread pools, are part of what a sweep folder records.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facegen import config
from facegen.atomic import atomic_write_text
from facegen.errors import FacegenError, UsageError

SWEEPS_DIR = config.PROJECT_ROOT / "data" / "interim" / "sweeps"
"""Where sweeps keep their rows and Tune's state by default: under data/, since a trial's outputs
(models, out-of-fold probabilities) are derived from the data and never committed."""
SWEEP_FILE = "facegen_sweep.json"
ROWS_DIR = "rows"
ROW_KEY = "facegen_row"
"""The one key of a trial's Tune result that carries its row, as JSON: anything Tune adds to a
result (``pid``, ``date``...) can never clash with a column, and a row that is not JSON fails in
the trial, where its name is known."""


TRIAL_CPUS = "FACEGEN_TRIAL_CPUS"
"""Set in a trial's process to the CPUs Ray gave it, for rows that record where they ran."""


@dataclass(frozen=True)
class Trial:
    """One training of a sweep: ``name`` is unique in it; ``params`` go to the trial function."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class SweepResult:
    """What a sweep holds after a call: every finished trial's row (in the sweep's order, earlier
    calls' included), the trials that failed with why, and those neither finished nor failed
    (the sweep was interrupted): run again to go on."""

    rows: list[dict[str, Any]]
    failed: dict[str, str]
    unfinished: list[str]

    @property
    def complete(self) -> bool:
        return not self.failed and not self.unfinished

    def problem(self) -> str:
        """One line for a script to end with when the sweep is not complete."""
        parts = [f"{len(self.failed)} failed ({', '.join(self.failed)})"] if self.failed else []
        if self.unfinished:
            parts.append(f"{len(self.unfinished)} not finished (interrupted)")
        return "trials " + " and ".join(parts) + "; run the same command again to go on"


def run_sweep(
    name: str,
    trials: Sequence[Trial],
    trial_fn: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    folder: str | os.PathLike | None = None,
    cpus_per_trial: int | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    verbose: bool = False,
    fresh: bool = False,
    by_value: Sequence[str] = (),
) -> SweepResult:
    """Run ``trial_fn(params)`` on Ray Tune for each trial of ``folder/name`` not yet finished.

    ``trial_fn`` runs in a Ray worker, so it loads its own data and models, and must be picklable
    (``by_value`` names modules Ray's workers cannot import, such as a benchmark script's helper
    module, to send as code). ``on_row`` sees each row
    this call finishes, with ``trial`` set to the trial's name, in the driver, as the trial ends.
    ``cpus_per_trial``: None asks for every CPU of the largest machine (one training keeps every
    core busy). A folder that holds another sweep (other trials, function or CPUs) is refused;
    ``fresh`` empties it first, to measure again.
    """
    from facegen.cluster import require_ray, start_ray

    ray = require_ray("a sweep", tune=True)
    from ray import cloudpickle

    for module in by_value:
        cloudpickle.register_pickle_by_value(sys.modules[module])
    names = [trial.name for trial in trials]
    if not trials:
        raise UsageError(f"sweep {name!r} has no trials")
    if len(set(names)) != len(names):
        raise UsageError(f"sweep {name!r}: trial names repeat: {sorted(names)}")
    path = sweep_path(folder, name)
    started = start_ray(ray, verbose=verbose)
    saved_logging = _quiet_tune(verbose)
    try:
        cpus = cpus_for_trial(ray, cpus_per_trial)
        _claim(path, trials, trial_fn, cpus, fresh=fresh)
        done = _read_rows(path)
        pending = [t for t in trials if t.name not in done]
        if done:
            print(f"{len(done)} of {len(trials)} trials of {path} already finished; "
                  f"{len(pending)} to run", file=sys.stderr, flush=True)  # fmt: skip
        failed: dict[str, str] = {}
        if pending:
            failed = _fit(path, pending, trial_fn, cpus, on_row, verbose)
        done = _read_rows(path)
    finally:
        _restore_logging(saved_logging)
        if started:
            ray.shutdown()
    rows = [done[t.name] for t in trials if t.name in done]
    unfinished = [t.name for t in trials if t.name not in done and t.name not in failed]
    return SweepResult(rows, failed, unfinished)


def sweep_options() -> argparse.ArgumentParser:
    """The options of every sweep script, as a parent parser: where, on how many CPUs, afresh."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--sweep-dir",
        default=None,  # text, not a Path: Path("s3://b") is "s3:/b", which sweep_path would take
        help="where the sweep keeps its rows (default: data/interim/sweeps; on "
        "a cluster, a folder every machine shares); the same again resumes",
    )
    options.add_argument(
        "--cpus-per-trial",
        type=int,
        help="CPUs each training gets (default: all of the largest machine's)",
    )
    options.add_argument(
        "--fresh",
        action="store_true",
        help="forget the trials this sweep finished before, and measure again",
    )
    options.add_argument("-v", "--verbose", action="store_true", help="Ray's and Tune's logs")
    return options  # fmt: skip


def run_script(main: Callable[[], None]) -> None:
    """Run a sweep script's ``main``: a mistake the user can fix (no Ray, a folder holding another
    sweep, too many CPUs) is one line and its exit status, as ``facegen``'s, not a traceback."""
    try:
        main()
    except FacegenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_status)


def sweep_path(folder: str | os.PathLike | None, name: str) -> Path:
    """The sweep's folder. Object stores are refused: rows are written with local file calls."""
    if folder is not None and "://" in str(folder):
        raise UsageError(f"{folder}: give the sweep a folder on a (shared) file system, not a URI")
    return Path(folder or SWEEPS_DIR).absolute() / name


def cpus_for_trial(ray, requested: int | None) -> int:
    """A trial's CPUs: as asked, else all of the largest machine's, since one training already
    keeps every core busy (two side by side would share them). More than any machine has would
    leave Tune waiting forever, so it is refused."""
    largest = max(
        (node["Resources"].get("CPU", 0) for node in ray.nodes() if node.get("Alive")), default=0
    )
    if requested is None:
        return max(1, math.floor(largest))
    if requested < 1 or requested > largest:
        raise UsageError(
            f"--cpus-per-trial {requested}: each trial runs on one machine, and the largest "
            f"has {largest:g} CPUs"
        )
    return requested


def _claim(path: Path, trials: Sequence[Trial], trial_fn: Callable, cpus: int, *, fresh: bool):
    """Record what this sweep is, or check that the folder holds this sweep and no other."""
    try:
        listed = [{"name": t.name, "params": t.params} for t in trials]
        wanted = json.loads(json.dumps({
            "function": f"{trial_fn.__module__}.{trial_fn.__qualname__}",
            "cpus_per_trial": cpus,
            "trials": listed,
        }, allow_nan=False))  # fmt: skip
    except (TypeError, ValueError) as exc:
        message = f"a trial's parameters must be JSON (numbers, text, lists): {exc}"
        raise UsageError(message) from None
    record = path / SWEEP_FILE
    if fresh and path.exists():
        import shutil

        shutil.rmtree(path)
    if record.exists():
        try:
            saved = json.loads(record.read_text())
        except (OSError, ValueError) as exc:
            raise UsageError(f"{record}: cannot read this sweep's record ({exc})") from None
        if saved != wanted:
            differs = [key for key in wanted if saved.get(key) != wanted[key]]
            raise UsageError(
                f"{path} holds another sweep (its {', '.join(differs)} differ); pass --fresh to "
                "start it afresh, or another --sweep-dir"
            )
        return
    path.mkdir(parents=True, exist_ok=True)
    atomic_write_text(record, json.dumps(wanted, indent=1, sort_keys=True) + "\n")


def _row_file(path: Path, trial: str) -> Path:
    return path / ROWS_DIR / (re.sub(r"[^\w.-]+", "_", trial) + ".json")


def _read_rows(path: Path) -> dict[str, dict[str, Any]]:
    """The rows of the trials finished so far, by trial name."""
    rows = {}
    for file in sorted((path / ROWS_DIR).glob("*.json")):
        row = json.loads(file.read_text())
        rows[row["trial"]] = row
    return rows


def _fit(
    path: Path,
    pending: Sequence[Trial],
    trial_fn: Callable[[dict[str, Any]], dict[str, Any]],
    cpus: int,
    on_row: Callable[[dict[str, Any]], None] | None,
    verbose: bool,
) -> dict[str, str]:
    """Run the pending trials as one Tune experiment; their rows land in ``path/rows``. Returns
    the failed trials with the last line of each one's error."""
    from ray import tune

    by_name = {trial.name: trial for trial in pending}

    def trainable(setup: dict[str, Any]) -> None:
        _use_threads(cpus)
        row = trial_fn(dict(by_name[setup["trial"]].params))
        tune.report({ROW_KEY: json.dumps({**row, "trial": setup["trial"]}, allow_nan=True)})

    class Rows(tune.Callback):
        """Keeps each finished trial's row the moment Tune reports it, then hands it on."""

        def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
            if ROW_KEY not in result:
                return
            row = json.loads(result[ROW_KEY])
            atomic_write_text(_row_file(path, row["trial"]), json.dumps(row) + "\n")
            if on_row is not None:
                on_row(row)

        def on_trial_error(self, iteration, trials, trial, **info) -> None:
            print(f"trial {trial.config.get('trial')!r} failed; run again to retry it",
                  file=sys.stderr, flush=True)  # fmt: skip

    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": cpus}),
        param_space={"trial": tune.grid_search([t.name for t in pending])},
        run_config=tune.RunConfig(
            name=time.strftime("attempt-%Y%m%d-%H%M%S"),
            storage_path=str(path / "tune"),
            callbacks=[Rows()],
            verbose=1 if verbose else 0,
            failure_config=tune.FailureConfig(max_failures=0),
        ),
    )
    failed = {}
    for result in tuner.fit():
        if result.error is not None:
            trial = (result.config or {}).get("trial")
            failed[trial] = str(result.error).strip().splitlines()[-1][:300]
    return failed


def _use_threads(cpus: int) -> None:
    """TensorFlow's thread pools sized to the trial's CPUs, before it starts them (it sizes them
    to the whole machine otherwise, whatever Ray reserved); OpenCV's likewise."""
    os.environ[TRIAL_CPUS] = str(cpus)
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(cpus)
    os.environ["TF_NUM_INTEROP_THREADS"] = str(min(cpus, 2))
    import cv2

    cv2.setNumThreads(cpus)


def _quiet_tune(verbose: bool) -> dict[str, Any]:
    """Tune's per-trial tracebacks and TensorBoard files off unless ``verbose``: a failed trial
    is one line (``on_trial_error``) and its reason comes back in ``SweepResult.failed``."""
    saved = {
        "env": {k: os.environ.get(k) for k in ("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS",
                                               "RAY_AIR_NEW_OUTPUT")},
        "level": logging.getLogger("ray.tune").level,
    }  # fmt: skip
    os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    if not verbose:
        logging.getLogger("ray.tune").setLevel(logging.CRITICAL)
    return saved


def _restore_logging(saved: dict[str, Any]) -> None:
    for key, value in saved["env"].items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    logging.getLogger("ray.tune").setLevel(saved["level"])
