"""Audit the training split's labels from out-of-fold probabilities, then try the lever.

    FACEGEN_DATA_DIR=../shared/utkface/UTKFace python benchmarks/training_labels.py audit
    FACEGEN_DATA_DIR=../shared/utkface/UTKFace python benchmarks/training_labels.py lever \\
        --external ../shared/external/fairface

``audit`` trains one model per fold of the training split (``--folds``, 3 by default; folds keep
near-duplicates together and are stratified like the split), each on the other folds, selected on
the validation split as a run's model is, and predicts the held-out fold: every training face
gets a probability from a model that never saw it. The label audit that every report runs on
validation and test (``facegen.evaluation.label_audit``) then runs on these, and the per-face
result is written under ``data/interim/`` (per-face verdicts are derived data: never commit
them). About 3-4 minutes a fold on a 2-core machine.

``lever`` trains the default model with and without the training faces the audit doubts, for
each of ``--seeds`` (the split stays the one the audit saw; the seed moves the weights and the
batch order), and judges each on UTKFace's validation split and an external collection's
validation half, as every modelling choice here is judged. The figures go to
``benchmarks/results/label_lever.csv`` (aggregates only).

Both are sweeps on Ray Tune (``facegen.runs.sweep``): a local Ray by default, ``RAY_ADDRESS``'s
cluster when set; run again after an interruption, a sweep goes on where it stopped.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from facegen import config
from facegen.atomic import atomic_write_text
from facegen.runs.sweep import TRIAL_CPUS, Trial, run_sweep, sweep_options

AUDIT_DIR = config.PROJECT_ROOT / "data" / "interim" / "label_audit"
LEVER_RESULTS = Path(__file__).parent / "results" / "label_lever.csv"
ARMS = ("all labels", "doubted removed")


def training_folds(rows: pd.DataFrame, folds: int, seed: int) -> np.ndarray:
    """The fold of each training face: near-duplicates share one (else a face's twin would
    teach the model its label), each fold stratified by gender x ethnicity x age band."""
    from sklearn.model_selection import StratifiedGroupKFold

    from facegen.data.split import strata

    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    fold = np.full(len(rows), -1, dtype=np.int64)
    with warnings.catch_warnings():  # strata rarer than the folds: spread as well as they can be
        warnings.filterwarnings("ignore", "The least populated class", UserWarning)
        parts = splitter.split(np.zeros(len(rows)), strata(rows), groups=rows["near_dup_group"])
        for k, (_, held) in enumerate(parts):
            fold[held] = k
    return fold


def _train(params: dict, train_mask_of=None):
    """The default model trained on (part of) the training split; selected on validation."""
    from facegen.data.dataset import load_dataset
    from facegen.modeling.model import ModelConfig
    from facegen.modeling.train import TrainConfig, train

    dataset = load_dataset(params["data_dir"], seed=params["split_seed"], progress=False)
    images, rows = dataset.part("train")
    labels = dataset.labels(rows)
    keep = train_mask_of(rows) if train_mask_of else np.ones(len(rows), dtype=bool)
    val_images, val_rows = dataset.part("val")
    result = train(
        images[keep], labels[keep], val_images, dataset.labels(val_rows),
        model_config=ModelConfig(image_size=dataset.image_size),
        train_config=TrainConfig(seed=params["train_seed"]), progress=False,
    )  # fmt: skip
    return dataset, images, rows, keep, result


def fold_trial(params: dict) -> dict:
    """One fold: train on the others, return the held-out faces' probabilities."""
    from facegen.modeling.inference import predict_proba

    def others(rows):
        return training_folds(rows, params["folds"], params["split_seed"]) != params["fold"]

    _, images, rows, keep, result = _train(params, others)
    held = ~keep
    probability = predict_proba(result.model, images[held], views=config.TEST_TIME_VIEWS)
    return {
        "fold": params["fold"],
        "files": rows["file"][held].tolist(),
        "probability": [float(p) for p in probability],
        "n_trained": int(keep.sum()),
        "best_epoch": result.best_epoch,
        "val_accuracy": round(result.best_val_accuracy, 4),
        "train_seconds": round(result.seconds),
    }


def audit(args: argparse.Namespace) -> None:
    common = {"data_dir": args.data_dir, "split_seed": args.seed, "train_seed": args.seed,
              "folds": args.folds}  # fmt: skip
    trials = [Trial(f"fold {k + 1} of {args.folds}", {**common, "fold": k})
              for k in range(args.folds)]  # fmt: skip

    def said(row: dict) -> None:
        print(f"{row['trial']}: {len(row['files']):,} faces held out, model trained on "
              f"{row['n_trained']:,}, val {row['val_accuracy']:.4f} at epoch "
              f"{row['best_epoch']}, {row['train_seconds']} s", flush=True)  # fmt: skip

    result = run_sweep(
        f"training-audit-seed{args.seed}-k{args.folds}", trials, fold_trial,
        folder=args.sweep_dir, cpus_per_trial=args.cpus_per_trial, on_row=said,
        verbose=args.verbose, fresh=args.fresh,
    )  # fmt: skip
    if not result.complete:
        sys.exit(result.problem())
    from facegen.data.dataset import load_dataset
    from facegen.evaluation.label_audit import audit_labels

    probability = {f: p for row in result.rows for f, p in zip(row["files"], row["probability"],
                                                               strict=True)}  # fmt: skip
    dataset = load_dataset(args.data_dir, seed=args.seed, progress=False)
    _, rows = dataset.part("train")
    rows = rows.reset_index(drop=True)
    if set(probability) != set(rows["file"]):
        sys.exit("the folds' faces are not the training split's: was the data folder changed?")
    p = np.array([probability[f] for f in rows["file"]])
    labels = dataset.labels(rows)
    table = audit_labels(labels, p)
    columns = ["file", "gender", "age", "age_band", "ethnicity", "near_dup_group"]
    table = pd.concat([rows[columns], table], axis=1).assign(split="train")
    out = Path(args.out or AUDIT_DIR / f"training_split_seed{args.seed}.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, table.to_csv(index=False, lineterminator="\n"))
    _print_audit(table, labels, p, out)


def _print_audit(table: pd.DataFrame, labels: np.ndarray, p: np.ndarray, out: Path) -> None:
    wrong = (p >= 0.5) != labels.astype(bool)
    doubted = table["doubted"].to_numpy(dtype=bool)
    print(f"\n{len(table):,} training faces; out-of-fold accuracy {1 - wrong.mean():.4f}; "
          f"the audit doubts {doubted.sum():,} ({doubted.mean():.2%}), "
          f"{(doubted & wrong).sum():,} of them among the {wrong.sum():,} errors")  # fmt: skip
    for column in ("age_band", "ethnicity", "gender"):
        grouped = table.assign(wrong=wrong).groupby(column, observed=True)
        summary = grouped.agg(faces=("file", "size"), doubted=("doubted", "mean"),
                              error_rate=("wrong", "mean"))  # fmt: skip
        print(f"\nby {column}:\n" + summary.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"\nper-face audit: {out} (derived data: never commit it)")


def lever_trial(params: dict) -> dict:
    """One arm and seed: train, move the decision point as a run does, score val and external."""
    from facegen.modeling.balance import balanced_model
    from facegen.modeling.inference import predict_proba
    from facegen.runs.collection_scores import score_collection

    doubted = set(params["doubted"])

    def kept(rows):
        return ~rows["file"].isin(doubted).to_numpy()

    dataset, _, rows, keep, result = _train(params, kept if params["remove"] else None)
    if params["remove"] and len(rows) - keep.sum() != len(doubted):
        raise ValueError(
            f"{len(doubted) - (len(rows) - keep.sum())} doubted files are not in the training "
            "split: was the audit made with another --split-seed or data folder?"
        )
    val_images, val_rows = dataset.part("val")
    val_labels = dataset.labels(val_rows)
    model, _ = balanced_model(result.model, val_images, val_labels)
    p_val = predict_proba(model, val_images, views=config.TEST_TIME_VIEWS)
    external = score_collection(model, params["external"], half="val", n_boot=200)
    head = external.metrics["headline"]
    return {
        "arm": params["arm"],
        "seed": params["train_seed"],
        "n_train": int(keep.sum()),
        "best_epoch": result.best_epoch,
        "val_accuracy": round(float(np.mean((p_val >= 0.5) == val_labels)), 4),
        "external": f"{external.collection.name} (val)",
        "external_accuracy": round(head["test_accuracy"], 4),
        "external_recall_gap": round(head["recall_gap"], 4),
        "train_seconds": round(result.seconds),
        "machine": f"{platform.machine()}, {os.environ.get(TRIAL_CPUS, '?')} CPUs a trial",
    }


def lever(args: argparse.Namespace) -> None:
    source = Path(args.audit or AUDIT_DIR / f"training_split_seed{args.split_seed}.csv")
    if not source.exists():
        sys.exit(f"{source}: no training-split audit; run `training_labels.py audit` first")
    if not args.external:
        sys.exit("give --external (an external collection's folder, e.g. FairFace's)")
    doubted = pd.read_csv(source).query("doubted")["file"].tolist()
    print(f"{len(doubted):,} doubted training labels in {source}", flush=True)
    common = {"data_dir": args.data_dir, "split_seed": args.split_seed,
              "external": str(Path(args.external).absolute()), "doubted": doubted}  # fmt: skip
    trials = [
        Trial(f"{arm}, seed {seed}",
              {**common, "arm": arm, "remove": arm == ARMS[1], "train_seed": seed})
        for seed in args.seeds for arm in ARMS
    ]  # fmt: skip
    stamp = {"measured": datetime.now(UTC).strftime("%Y-%m-%d")}

    def record(row: dict) -> None:
        print(f"{row['trial']}: {row['n_train']:,} training faces, UTKFace val "
              f"{row['val_accuracy']:.4f}, {row['external']} {row['external_accuracy']:.4f}, "
              f"{row['train_seconds']} s", flush=True)  # fmt: skip
        _record_lever({**row, **stamp})

    result = run_sweep(
        f"label-lever-split{args.split_seed}-" + "-".join(map(str, args.seeds)), trials,
        lever_trial, folder=args.sweep_dir, cpus_per_trial=args.cpus_per_trial,
        on_row=record, verbose=args.verbose, fresh=args.fresh,
    )  # fmt: skip
    table = pd.DataFrame(result.rows, columns=list(LEVER_COLUMNS))
    for arm in ARMS:
        part = table[table["arm"] == arm]
        if len(part):
            print(
                f"{arm}: UTKFace val {_mean_sd(part['val_accuracy'])}, "
                f"external val {_mean_sd(part['external_accuracy'])} over {len(part)} seeds"
            )
    if not result.complete:
        sys.exit(result.problem())


LEVER_COLUMNS = ("arm", "seed", "n_train", "best_epoch", "val_accuracy", "external",
                 "external_accuracy", "external_recall_gap", "train_seconds", "measured",
                 "machine")  # fmt: skip


def _record_lever(row: dict, path: Path = LEVER_RESULTS) -> None:
    """Add or replace one arm and seed's row, atomically, as each trial finishes."""
    from results_table import record_row

    record_row(path, row, ["arm", "seed"], LEVER_COLUMNS)


def _mean_sd(values: pd.Series) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else float("nan")
    return f"{values.mean():.4f} (sd {spread:.4f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sweep = sweep_options()
    sweep.add_argument("--data-dir", default=os.environ.get("FACEGEN_DATA_DIR"))
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("audit", parents=[sweep], help="k-fold audit of the training split")
    one.add_argument("--seed", type=int, default=config.SEED, help="the split's seed (a run's)")
    one.add_argument("--folds", type=int, default=3)
    one.add_argument("--out", help="the per-face audit CSV (default: under data/interim/)")
    two = commands.add_parser("lever", parents=[sweep], help="train without the doubted labels")
    two.add_argument("--split-seed", type=int, default=config.SEED)
    two.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    two.add_argument("--audit", help="the training-split audit CSV `audit` wrote")
    two.add_argument("--external", help="an external collection to judge on (its val half)")
    args = parser.parse_args()
    if not args.data_dir:
        parser.error("pass --data-dir or set FACEGEN_DATA_DIR to the aligned UTKFace folder")
    if getattr(args, "folds", 3) < 2:
        parser.error("--folds must be at least 2")
    args.data_dir = str(Path(args.data_dir).absolute())  # trials run in other folders
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    audit(args) if args.command == "audit" else lever(args)


if __name__ == "__main__":
    from facegen.runs.sweep import run_script

    run_script(main)
