"""Seed-to-seed spread of the default model: test accuracy and training time over 3 seeds.

    FACEGEN_DATA_DIR=../shared/utkface/UTKFace python benchmarks/bench_seeds.py [--seeds 42 43 44]

Each seed runs ``facegen train`` (the code the training and evaluation notebooks call) into a
run folder with the default parameters, so a seed changes the split, the weights' initialisation
and the batch order together: the spread printed is what a reader should expect between two
honest runs. Each seed is one trial of a sweep on Ray Tune (``facegen.runs.sweep``): a local Ray
by default, a cluster's machines side by side when ``RAY_ADDRESS`` is set, resumed where it
stopped when run again. Takes about as long as that many `make report` trainings on one machine.
The rows go to ``benchmarks/results/seeds.csv`` as each seed finishes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "seeds.csv"
COLUMNS = ("seed", "val", "test", "low", "high", "train_s", "img_s", "wall_s", "measured",
           "machine")  # fmt: skip


def train_seed(params: dict) -> dict:
    """One trial: a default run trained with this seed; its headline figures and timings."""
    from facegen.runs.run import Settings
    from facegen.runs.sweep import TRIAL_CPUS
    from facegen.runs.training_run import train_run

    seed = params["seed"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(params["keep"] or tmp)
        settings = Settings.resolve(data_dir=params["data_dir"], seed=seed)
        began = time.perf_counter()
        run_dir = train_run(settings, root / f"seed{seed}", progress=False, say=lambda _: None)
        wall = time.perf_counter() - began
        metrics = json.loads((run_dir / "metrics.json").read_text())
        training = json.loads((run_dir / "training.json").read_text())
    head = metrics["headline"]
    return {
        "seed": seed,
        "val": metrics["validation"]["accuracy"],
        "test": head["test_accuracy"],
        "low": head["test_accuracy_low"],
        "high": head["test_accuracy_high"],
        "train_s": training["train_seconds"],
        "img_s": training["train_images_per_second"],
        "wall_s": round(wall, 1),
        "measured": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.environ.get(TRIAL_CPUS, '?')} CPUs a trial",
    }


def record(row: dict, path: Path = RESULTS) -> None:
    """Add or replace one seed's row, atomically."""
    from results_table import record_row

    record_row(path, row, ["seed"], COLUMNS)


def main() -> None:
    from facegen.runs.sweep import Trial, run_sweep, sweep_options

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], parents=[sweep_options()])
    parser.add_argument("--data-dir", default=os.environ.get("FACEGEN_DATA_DIR"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    parser.add_argument("--keep", help="keep the run folders here instead of a temporary folder")
    args = parser.parse_args()
    if not args.data_dir:
        parser.error("pass --data-dir or set FACEGEN_DATA_DIR to the aligned UTKFace folder")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    keep = str(Path(args.keep).absolute()) if args.keep else None
    data_dir = str(Path(args.data_dir).absolute())
    trials = [Trial(f"seed {s}", {"seed": s, "data_dir": data_dir, "keep": keep})
              for s in args.seeds]  # fmt: skip

    def said(r: dict) -> None:
        record({k: v for k, v in r.items() if k != "trial"})
        print(
            f"seed {r['seed']}: val {r['val']:.4f}  test {r['test']:.4f} "
            f"[{r['low']:.4f}, {r['high']:.4f}]  training {r['train_s']:.0f} s "
            f"({r['img_s']:.0f} images/s), whole run {r['wall_s']:.0f} s",
            flush=True,
        )

    result = run_sweep(
        "seeds-" + "-".join(map(str, args.seeds)), trials, train_seed, folder=args.sweep_dir,
        cpus_per_trial=args.cpus_per_trial, on_row=said, verbose=args.verbose, fresh=args.fresh,
    )  # fmt: skip
    rows = result.rows
    if not rows:
        raise SystemExit(result.problem())
    for key, label in (("test", "test accuracy"), ("val", "validation accuracy")):
        values = [r[key] for r in rows]
        spread = statistics.stdev(values) if len(values) > 1 else float("nan")
        print(
            f"{label}: mean {statistics.mean(values):.4f}, sd {spread:.4f} over {len(rows)} seeds"
        )
    times = [r["train_s"] for r in rows]
    print(f"training time: mean {statistics.mean(times):.0f} s, min {min(times):.0f}, "
          f"max {max(times):.0f}")  # fmt: skip
    if not result.complete:
        raise SystemExit(result.problem())


if __name__ == "__main__":
    from facegen.runs.sweep import run_script

    run_script(main)
