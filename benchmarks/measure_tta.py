"""Validation accuracy of trained models under each set of test-time views.

Each model is given with the seed of the split it was trained on (``PATH:SEED``, default 42), and
is scored on that split's validation faces (the split made at the default 48 px, as in training,
with the faces preprocessed at the model's input size): the test split is not read. Prints one
row per model and the mean gain of each view set over the mirror-image average, which is how
``config.TEST_TIME_VIEWS`` was chosen.

    FACEGEN_DATA_DIR=../shared/utkface/UTKFace python benchmarks/measure_tta.py \\
        reports/RUN/model.keras other/model.keras:43 ...
"""

from __future__ import annotations

import argparse
import os

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+", metavar="PATH[:SEED]")
    parser.add_argument("--data-dir", default=os.environ.get("FACEGEN_DATA_DIR"))
    parser.add_argument("--csv", help="also write the table here (model, seed, one column per set)")
    args = parser.parse_args()
    if not args.data_dir:
        parser.error("pass --data-dir or set FACEGEN_DATA_DIR to the aligned UTKFace folder")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import pandas as pd

    from facegen import config
    from facegen.data.dataset import load_dataset
    from facegen.modeling.inference import predict_proba
    from facegen.modeling.saving import load_model

    datasets, records = {}, []
    for spec in args.models:
        path, _, seed = spec.rpartition(":")
        if not (path and seed.isdigit()):
            path, seed = spec, str(config.SEED)
        seed = int(seed)
        model = load_model(path)
        size = int(model.input_shape[1])
        if seed not in datasets:
            datasets[seed] = load_dataset(args.data_dir, seed=seed, progress=False)
        # The split is the one made at the default size, as in training; only the pixels change.
        dataset = datasets[seed].at_size(size)
        faces, val_rows = dataset.part("val")
        labels = dataset.labels(val_rows)
        scores = {
            views: float(np.mean((predict_proba(model, faces, views=views) >= 0.5) == labels))
            for views in config.VIEW_SETS
        }
        records.append({"model": path, "split_seed": seed, **scores})
        print(f"{path} (split seed {seed}, {len(labels)} validation faces)")
        print("   " + "   ".join(f"{views}: {a:.4f}" for views, a in scores.items()))
    table = pd.DataFrame(records)
    if args.csv:
        table.round(4).to_csv(args.csv, index=False)
    for views in config.VIEW_SETS:
        gains = (table[views] - table["flip"]) * 100
        print(
            f"{views:>10}: mean accuracy {table[views].mean():.4f}; against flip "
            f"{gains.mean():+.2f} points (from {gains.min():+.2f} to {gains.max():+.2f}) "
            f"over {len(table)} models"
        )


if __name__ == "__main__":
    main()
