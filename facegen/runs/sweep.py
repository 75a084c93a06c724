"""Sweeps of trainings (ablation variants, seeds, k folds) as Ray Tune trials.

A sweep is a list of trials, each a name and JSON-able parameters, and one function that turns a
trial's parameters into a row of results. Ray Tune runs each trial in its own worker process: on
this machine by default (a local Ray on 127.0.0.1 only, ``facegen.cluster``), on a cluster when
``RAY_ADDRESS`` is set, so a sweep of dozens of 5-minute trainings spreads over every machine of
the cluster without a line of it changing.

Why Tune and not a loop: its experiment state survives the driver. Run again with the same sweep
folder, a sweep that was interrupted (Ctrl-C, a lost machine, a trial that failed) goes on where
it stopped: finished trials keep their results and are not trained again; unfinished and failed
ones start again from their first epoch (trials keep no checkpoints: a training is minutes).
The rows reach the caller as each trial finishes, so a results table is written as it grows.

Equal parameters give equal rows: each trial seeds everything from its parameters (the training
code's ``seed_everything``, with TensorFlow's deterministic ops) and sets TensorFlow's thread
counts to the CPUs Ray gave it, since TensorFlow ignores Ray's ``OMP_NUM_THREADS``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facegen import config
from facegen.errors import UsageError

SWEEPS_DIR = config.PROJECT_ROOT / "data" / "interim" / "sweeps"
"""Where sweeps keep their Tune state by default: under data/, since a trial's outputs (models,
out-of-fold probabilities) are derived from the data and never committed. On a cluster the sweep
folder must be one every machine reaches (a shared file system, or an object store URI)."""
TRIALS_FILE = "facegen_sweep.json"


@dataclass(frozen=True)
class Trial:
    """One training of a sweep: ``name`` is unique in it; ``params`` go to the trial function."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class SweepResult:
    """Every finished trial's row, in the sweep's order, and the trials that failed (with why)."""

    rows: list[dict[str, Any]]
    failed: dict[str, str]


def cpus_for_trial(requested: int | None) -> int:
    """A trial's CPUs: as asked, else every CPU of a local machine, since one training already
    keeps every core busy and two side by side would only share them. On a cluster, ask for the
    CPUs of one machine so trials spread one per machine."""
    if requested is not None:
        if requested < 1:
            raise UsageError(f"--cpus-per-trial must be at least 1, not {requested}")
        return requested
    return os.cpu_count() or 1


def run_sweep(
    name: str,
    trials: Sequence[Trial],
    trial_fn: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    folder: str | os.PathLike | None = None,
    cpus_per_trial: int | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    verbose: bool = False,
) -> SweepResult:
    """Run ``trial_fn(params)`` for each trial on Ray Tune, resuming the sweep kept in
    ``folder/name`` if there is one.

    ``trial_fn`` must be importable or picklable by value (a benchmark script's module is sent by
    value: see ``send_by_value``); it runs in a Ray worker, so it loads its own data and models.
    ``on_row`` sees each row, with ``trial`` set to the trial's name, as the trial finishes, in the
    driver. A sweep folder that holds another sweep's trials is refused rather than mixed.
    """
    from facegen.cluster import require_ray, start_ray

    names = [trial.name for trial in trials]
    if len(set(names)) != len(names):
        raise UsageError(f"sweep {name!r}: trial names repeat: {sorted(names)}")
    if not trials:
        raise UsageError(f"sweep {name!r} has no trials")
    root = Path(folder or SWEEPS_DIR).absolute()
    path = root / name
    _check_same_trials(path, trials)

    ray = require_ray()
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # no TensorBoard files
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    started = start_ray(ray, verbose=verbose)
    if not verbose:  # a failed trial's traceback is Tune's to log; we say one line (``-v``: all)
        logging.getLogger("ray.tune").setLevel(logging.CRITICAL)
    try:
        return _fit(ray, path, trials, trial_fn, cpus_for_trial(cpus_per_trial), on_row, verbose)
    finally:
        if started:
            ray.shutdown()


def send_by_value(module_name: str) -> None:
    """Let Ray's workers receive a module that is not installed (a benchmark script's helper
    module, found through ``sys.path`` here) as code, not as a name they cannot import."""
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[module_name])


def _check_same_trials(path: Path, trials: Sequence[Trial]) -> None:
    listed = path / TRIALS_FILE
    wanted = [{"name": t.name, "params": t.params} for t in trials]
    if listed.exists():
        saved = json.loads(listed.read_text())
        if saved != json.loads(json.dumps(wanted)):
            raise UsageError(
                f"{path} holds a sweep with other trials or parameters; give another sweep "
                "folder, or remove that one to start afresh"
            )
        return
    from facegen.atomic import atomic_write_text

    path.mkdir(parents=True, exist_ok=True)
    atomic_write_text(listed, json.dumps(wanted, indent=1, sort_keys=True) + "\n")


def _fit(ray, path, trials, trial_fn, cpus, on_row, verbose) -> SweepResult:
    from ray import tune

    by_name = {trial.name: trial for trial in trials}

    def trainable(setup: dict[str, Any]) -> None:
        _use_threads(cpus)
        row = trial_fn(dict(by_name[setup["trial"]].params))
        tune.report({**row, "trial": setup["trial"]})

    class Rows(tune.Callback):
        """Hands each finished trial's row to ``on_row`` and says one line about it."""

        def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
            row = _row_of(result)
            if on_row is not None:
                on_row(row)

        def on_trial_error(self, iteration, trials, trial, **info) -> None:
            print(f"trial {trial.config.get('trial')!r} failed; run again to retry it",
                  file=sys.stderr, flush=True)  # fmt: skip

    runnable = tune.with_resources(trainable, {"cpu": cpus})
    run_config = tune.RunConfig(
        name=path.name,
        storage_path=str(path.parent),
        callbacks=[Rows()],
        verbose=1 if verbose else 0,
        failure_config=tune.FailureConfig(max_failures=0),
    )
    if tune.Tuner.can_restore(str(path)):
        tuner = tune.Tuner.restore(
            str(path), runnable, resume_unfinished=True, restart_errored=True
        )
        print(f"resuming the sweep in {path}", file=sys.stderr, flush=True)
    else:
        tuner = tune.Tuner(
            runnable,
            param_space={"trial": tune.grid_search([t.name for t in trials])},
            tune_config=tune.TuneConfig(max_concurrent_trials=0),
            run_config=run_config,
        )
    grid = tuner.fit()
    rows, failed = {}, {}
    for result in grid:
        trial = (result.config or {}).get("trial")
        if result.error is not None:
            failed[trial] = str(result.error).strip().splitlines()[-1][:300]
        elif result.metrics:
            rows[trial] = _row_of(result.metrics)
    return SweepResult([rows[t.name] for t in trials if t.name in rows], failed)


def _row_of(result: dict[str, Any]) -> dict[str, Any]:
    """The trial function's row, without what Tune adds to every result."""
    return {key: value for key, value in result.items() if key not in _TUNE_KEYS}


_TUNE_KEYS = {
    "timestamp", "checkpoint_dir_name", "done", "training_iteration", "trial_id", "date",
    "time_this_iter_s", "time_total_s", "pid", "hostname", "node_ip", "config",
    "time_since_restore", "iterations_since_restore", "experiment_tag", "should_checkpoint",
}  # fmt: skip


def _use_threads(cpus: int) -> None:
    """TensorFlow's thread pools sized to the trial's CPUs, before it starts them: it ignores the
    ``OMP_NUM_THREADS=1`` Ray sets and would start about 30 threads in each worker."""
    for name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        os.environ[name] = str(cpus)
    os.environ["TF_NUM_INTEROP_THREADS"] = str(min(cpus, 2))
