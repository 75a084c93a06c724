"""Seed-to-seed spread of the default model: test accuracy and training time over 3 seeds.

    FACEGEN_DATA_DIR=../shared/utkface/UTKFace python benchmarks/bench_seeds.py [--seeds 42 43 44]

Each seed runs ``facegen train`` (the code the training and evaluation notebooks call) into a
temporary run folder with the default parameters, so a seed changes the split, the weights'
initialisation and the batch order together: the spread printed is what a reader should expect
between two honest runs. Takes about as long as that many `make report` trainings.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("FACEGEN_DATA_DIR"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    parser.add_argument("--keep", help="keep the run folders here instead of a temporary folder")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from facegen.runs.run import Settings
    from facegen.runs.training_run import train_run

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        for seed in args.seeds:
            settings = Settings.resolve(data_dir=args.data_dir, seed=seed)
            began = time.perf_counter()
            run_dir = train_run(settings, root / f"seed{seed}", progress=False, say=lambda _: None)
            wall = time.perf_counter() - began
            metrics = json.loads((run_dir / "metrics.json").read_text())
            training = json.loads((run_dir / "training.json").read_text())
            head = metrics["headline"]
            rows.append(
                {
                    "seed": seed,
                    "val": metrics["validation"]["accuracy"],
                    "test": head["test_accuracy"],
                    "low": head["test_accuracy_low"],
                    "high": head["test_accuracy_high"],
                    "train_s": training["train_seconds"],
                    "img_s": training["train_images_per_second"],
                    "wall_s": wall,
                }
            )
            r = rows[-1]
            print(
                f"seed {seed}: val {r['val']:.4f}  test {r['test']:.4f} "
                f"[{r['low']:.4f}, {r['high']:.4f}]  training {r['train_s']:.0f} s "
                f"({r['img_s']:.0f} images/s), whole run {wall:.0f} s",
                flush=True,
            )
    for key, label in (("test", "test accuracy"), ("val", "validation accuracy")):
        values = [r[key] for r in rows]
        spread = statistics.stdev(values) if len(values) > 1 else float("nan")
        print(
            f"{label}: mean {statistics.mean(values):.4f}, sd {spread:.4f} over {len(rows)} seeds"
        )
    times = [r["train_s"] for r in rows]
    print(f"training time: mean {statistics.mean(times):.0f} s, min {min(times):.0f}, "
          f"max {max(times):.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
