"""Train the ablation's variants and record validation accuracy and training time.

    FACEGEN_DATA_DIR=../shared/utkface/UTKFace python benchmarks/ablation.py [NAME ...]

With no names, every variant in ``ablation_variants.VARIANTS`` is trained in turn (about
10-15 minutes each on a 2-core machine). Each result replaces that variant's row in
``benchmarks/results/ablation.csv``, which the training notebook shows. Only the training and
validation splits are used; choices made from this table never look at the test split.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
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
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import ablation_variants as ablation

    from facegen.data.dataset import load_dataset

    chosen = [ablation.variant(n) for n in args.names] or list(ablation.VARIANTS)
    dataset = load_dataset(args.data_dir, seed=args.seed)
    for item in chosen:
        print(f"== {item.name}: {item.change}", flush=True)
        save_to = None
        if args.save_models:
            save_to = args.save_models / (re.sub(r"[^\w.-]+", "_", item.name) + ".keras")
        row = ablation.run_variant(item, dataset, seed=args.seed, save_to=save_to)
        ablation.record(row)
        print(
            f"   val {row['val_accuracy']:.4f} (flip-averaged {row['val_accuracy_flip']:.4f}) "
            f"best epoch {row['best_epoch']}/{row['epochs']}, {row['train_seconds']} s, "
            f"{row['images_per_second']} images/s",
            flush=True,
        )


if __name__ == "__main__":
    main()
