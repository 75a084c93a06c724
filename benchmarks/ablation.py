"""Train the ablation's variants and record validation accuracy and training time.

    FACEGEN_DATA_DIR=../shared/utkface/UTKFace python benchmarks/ablation.py [NAME ...]

With no names, every variant in ``ablation_variants.VARIANTS`` is trained (about 5-15 minutes
each on a 2-core machine). Each variant is one trial of a sweep on Ray Tune
(``facegen.runs.sweep``): on a local Ray by default, spread over a cluster when ``RAY_ADDRESS`` is
set, and resumed where it stopped when run again after an interruption. As each trial finishes,
its row replaces that variant's row in ``benchmarks/results/ablation.csv``, which the training
notebook shows. Only the training and validation splits are used; choices made from this table
never look at the test split.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
from pathlib import Path

import ablation_variants as ablation  # sent to Ray's workers by value: see main()


def train_variant(params: dict) -> dict:
    """One trial: the variant trained with the given seed, as a row of the table."""
    from facegen.data.dataset import load_dataset

    dataset = load_dataset(params["data_dir"], seed=params["seed"], progress=False)
    save_to = Path(params["save_to"]) if params["save_to"] else None
    return ablation.run_variant(
        ablation.variant(params["variant"]), dataset, seed=params["seed"], save_to=save_to
    )


def main() -> None:
    from facegen.runs.sweep import Trial, run_sweep, sweep_options

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], parents=[sweep_options()])
    parser.add_argument("names", nargs="*", help="variants to train (default: all)")
    parser.add_argument("--data-dir", default=os.environ.get("FACEGEN_DATA_DIR"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--save-models",
        metavar="DIR",
        type=Path,
        help="keep each trained model as DIR/<variant>.keras (never commit them: derived data)",
    )
    args = parser.parse_args()
    if not args.data_dir:
        parser.error("pass --data-dir or set FACEGEN_DATA_DIR to the aligned UTKFace folder")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    chosen = [ablation.variant(n) for n in args.names] or list(ablation.VARIANTS)
    trials = []
    for item in chosen:
        save_to = None
        if args.save_models:
            name = re.sub(r"[^\w.-]+", "_", item.name) + ".keras"
            save_to = str((args.save_models / name).absolute())
        params = {"variant": item.name, "seed": args.seed, "save_to": save_to,
                  "data_dir": str(Path(args.data_dir).absolute())}  # fmt: skip
        trials.append(Trial(item.name, params))
        print(f"== {item.name}: {item.change}", flush=True)

    def said(row: dict) -> None:
        ablation.record({k: v for k, v in row.items() if k != "trial"})
        print(
            f"{row['variant']}: val {row['val_accuracy']:.4f} (flip-averaged "
            f"{row['val_accuracy_flip']:.4f}) best epoch {row['best_epoch']}/{row['epochs']}, "
            f"{row['train_seconds']} s, {row['images_per_second']} images/s",
            flush=True,
        )

    key = hashlib.blake2b("\n".join(t.name for t in trials).encode(), digest_size=4).hexdigest()
    result = run_sweep(
        f"ablation-seed{args.seed}-{key}", trials, train_variant, folder=args.sweep_dir,
        cpus_per_trial=args.cpus_per_trial, on_row=said, verbose=args.verbose, fresh=args.fresh,
        by_value=["ablation_variants"],  # Ray's workers cannot import it by name
    )  # fmt: skip
    if not result.complete:
        raise SystemExit(result.problem())


if __name__ == "__main__":
    from facegen.runs.sweep import run_script

    run_script(main)
