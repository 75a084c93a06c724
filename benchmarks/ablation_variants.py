"""The ablation's variants: each modelling change tried, as the settings it trained with.

``benchmarks/ablation.py`` trains them on the real training split and records each row in
``benchmarks/results/ablation.csv`` (``config.ABLATION_RESULTS``), which the training notebook
shows. Choices were made on the validation split only.

Options that were tried and rejected (a flatten head, residual blocks, per-face standardisation,
label smoothing, weight averaging, loss weights, Keras' chained augmentation layers, SiLU, a
strided stem with two convolutions per block) have left the model code; the variants that used
them keep their settings here as a record and are trained from the commit named in
``REMOVED_OPTIONS_COMMIT``. Why each was rejected: docs/decisions.md.
"""

from __future__ import annotations

import math
import os
import platform
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from facegen import config
from facegen.reporting.ablation_table import COLUMNS

RESULTS = config.ABLATION_RESULTS
REMOVED_OPTIONS_COMMIT = "b0bf21b"
"""The last commit whose model code still has every option these variants set."""

# Removed options, and the value today's code always has for each.
BUILT_IN = {
    "convs_per_block": 1, "stem_stride": 1, "activation": "relu", "head": "gap",
    "standardize": False, "residual": False, "single_resample": True, "label_smoothing": 0.0,
    "balance_gender_within": (), "ema_momentum": None,
    "brightness": 0.0, "contrast": 0.0, "gamma": 0.0, "blur": 0.0, "squeeze": 0.0,
}  # fmt: skip


@dataclass(frozen=True)
class Variant:
    """One configuration: ``model`` and ``train`` override ModelConfig and TrainConfig fields."""

    name: str
    change: str  # what this row changes, in words
    decision: str  # "kept", "rejected" or "reference"
    model: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)


# Every row spells out every setting it trained with, so it still trains what was measured after
# the defaults move on (a test checks that no field is left to the defaults).
_ISSUE3_MODEL = {
    "widths": (16, 32, 64, 128, 256), "convs_per_block": 1, "stem_stride": 1,
    "activation": "relu", "dropout": 0.3, "rotation": 0.03, "zoom": 0.1, "shift": 0.06,
    "flip": True, "single_resample": False, "head": "gap", "standardize": False, "residual": False,
}  # fmt: skip
_ISSUE3_TRAIN = {
    "batch_size": 128, "learning_rate": 2e-3, "weight_decay": 1e-4, "warmup_epochs": 1.0,
    "label_smoothing": 0.05, "balance_gender_within": (), "ema_momentum": None,
}  # fmt: skip
_LIGHT_MODEL = {**_ISSUE3_MODEL, "dropout": 0.1, "rotation": 0.02, "zoom": 0.05, "shift": 0.04}
_LIGHT_TRAIN = {**_ISSUE3_TRAIN, "weight_decay": 5e-5, "label_smoothing": 0.0, "epochs": 10}
_DEFAULT_MODEL = {**_LIGHT_MODEL, "widths": (8, 32, 64, 128, 256), "single_resample": True}
_TWELVE_EPOCHS = {**_LIGHT_TRAIN, "epochs": 12}
_DEFAULT_TRAIN = {**_TWELVE_EPOCHS, "epochs": 18}

VARIANTS: tuple[Variant, ...] = (
    Variant(
        "issue 3 default",
        "five conv-BN-ReLU blocks 16-256, dropout 0.3, AdamW + cosine, label smoothing 0.05, "
        "14 epochs",
        "reference",
        model=_ISSUE3_MODEL,
        train={**_ISSUE3_TRAIN, "epochs": 14},
    ),
    Variant(
        "10 epochs",
        "the same, cut to 10 epochs to fit the 10-minute budget",
        "reference",
        model=_ISSUE3_MODEL,
        train={**_ISSUE3_TRAIN, "epochs": 10},
    ),
    Variant(
        "10 epochs + EMA",
        "select an exponential moving average of the weights (momentum 0.99)",
        "rejected",
        model=_ISSUE3_MODEL,
        train={**_ISSUE3_TRAIN, "epochs": 10, "ema_momentum": 0.99},
    ),
    Variant(
        "stride-2 stem, 2 convs per block",
        "widths 32-256 in four blocks of two convolutions, the first one strided; 7 epochs "
        "(3x the parameters, about as long to train as 10 epochs of the above)",
        "rejected",
        model={
            **_ISSUE3_MODEL,
            "widths": (32, 64, 128, 256),
            "convs_per_block": 2,
            "stem_stride": 2,
        },
        train={**_ISSUE3_TRAIN, "epochs": 7},
    ),
    Variant(
        "lighter regularisation",
        "10 epochs; dropout 0.1, rotation 0.02, zoom 0.05, shift 0.04 (training accuracy "
        "trailed validation: the model underfits)",
        "kept",
        model=_LIGHT_MODEL,
        train={**_ISSUE3_TRAIN, "epochs": 10},
    ),
    Variant(
        "no label smoothing",
        "as above, no label smoothing, weight decay 5e-5",
        "kept",
        model=_LIGHT_MODEL,
        train=_LIGHT_TRAIN,
    ),
    Variant(
        "single-pass augmentation",
        "flip, rotation, zoom and shift as one affine transform: each face is resampled once, "
        "not three times (less blur in training)",
        "kept",
        model={**_LIGHT_MODEL, "single_resample": True},
        train=_LIGHT_TRAIN,
    ),
    Variant(
        "8-channel stem, 12 epochs",
        "the 48x48 block with 8 channels instead of 16 (about 20% cheaper per image, spent on "
        "12 epochs instead of 10): the default of `make report` until 18 epochs",
        "kept",
        model=_DEFAULT_MODEL,
        train=_TWELVE_EPOCHS,
    ),
    Variant(
        "gender-balanced weights",
        "each ethnicity x age band's men and women weighted equally in the loss "
        "(facegen.modeling.weighting), for smaller gaps between subgroups",
        "rejected",
        model=_DEFAULT_MODEL,
        train={**_TWELVE_EPOCHS, "balance_gender_within": ("ethnicity", "age_band")},
    ),
    Variant(
        "batch 64",
        "8-channel stem, 12 epochs, batches of 64 instead of 128: twice the updates at about "
        "the same cost per image on 2 cores",
        "rejected",
        model=_DEFAULT_MODEL,
        train={**_TWELVE_EPOCHS, "batch_size": 64},
    ),
    Variant(
        "192 channels last, 13 epochs",
        "the last block 192 channels instead of 256 (about 10% cheaper per image), spent on "
        "13 epochs",
        "rejected",
        model={**_DEFAULT_MODEL, "widths": (8, 32, 64, 128, 192)},
        train={**_TWELVE_EPOCHS, "epochs": 13},
    ),
    Variant(
        "peak learning rate 3e-3",
        "the default with a peak learning rate of 3e-3 instead of 2e-3",
        "rejected",
        model=_DEFAULT_MODEL,
        train={**_TWELVE_EPOCHS, "learning_rate": 3e-3},
    ),
    Variant(
        "SiLU",
        "the default with SiLU (swish) activations instead of ReLU",
        "rejected",
        model={**_DEFAULT_MODEL, "activation": "silu"},
        train=_TWELVE_EPOCHS,
    ),
    Variant(
        "stronger single-pass augmentation",
        "the default with issue 3's augmentation ranges (rotation 0.03, zoom 0.1, shift 0.06), "
        "now resampled once: was the blur, not the range, what cost accuracy?",
        "rejected",
        model={**_DEFAULT_MODEL, "rotation": 0.03, "zoom": 0.1, "shift": 0.06},
        train=_TWELVE_EPOCHS,
    ),
    Variant(
        "flatten head",
        "the default with the last 3x3 maps flattened instead of averaged, so the head knows "
        "where on the aligned face each feature is",
        "rejected",
        model={**_DEFAULT_MODEL, "head": "flatten"},
        train=_TWELVE_EPOCHS,
    ),
    Variant(
        "wider middle blocks",
        "the default with 96 and 192 channels instead of 64 and 128 (1.6x the parameters and "
        "about 0.8x the training images per CPU second, benchmarks/bench_train_speed.py): is the "
        "small model short of capacity?",
        "rejected",
        model={**_DEFAULT_MODEL, "widths": (8, 32, 96, 192, 256)},
        train=_TWELVE_EPOCHS,
    ),
    Variant(
        "batch 256, 15 epochs",
        "batches of 256 at a peak learning rate of 3e-3, which ran 545 against 473 training "
        "images per wall second on 2 cores (one timing of random faces), spent on 15 epochs",
        "rejected",
        model=_DEFAULT_MODEL,
        train={**_TWELVE_EPOCHS, "batch_size": 256, "learning_rate": 3e-3, "epochs": 15},
    ),
    Variant(
        "per-face standardisation",
        "the default with each face scaled to zero mean and unit variance after augmentation, "
        "so lighting and contrast vary less",
        "rejected",
        model={**_DEFAULT_MODEL, "standardize": True},
        train=_TWELVE_EPOCHS,
    ),
    Variant(
        "residual blocks",
        "the default widths with two convolutions per block and a shortcut around them "
        "(ResNet's basic block): 3.1x the parameters and 0.34x the training images per CPU "
        "second (benchmarks/bench_train_speed.py), so 12 epochs take about three times the budget",
        "rejected",
        model={**_DEFAULT_MODEL, "convs_per_block": 2, "residual": True},
        train=_TWELVE_EPOCHS,
    ),
    Variant(
        "24 epochs (headroom check)",
        "the 12-epoch default trained twice as long, 24 epochs, beyond the 10-minute budget: "
        "does the model stop short of what it could learn?",
        "reference",
        model=_DEFAULT_MODEL,
        train={**_TWELVE_EPOCHS, "epochs": 24},
    ),
    Variant(
        "64x64 input (resolution check)",
        "the default on 64x64 instead of 48x48 grayscale faces, the same faces and split: is the "
        "resolution what limits accuracy? An ablation only; 48x48 stays the design",
        "reference",
        model={**_DEFAULT_MODEL, "image_size": 64},
        train=_TWELVE_EPOCHS,
    ),
    Variant(
        "18 epochs (default)",
        "the 8-channel model trained 18 epochs instead of 12, on faces aligned by landmarks and "
        "evened by CLAHE: better on UTKFace's validation for each of three seeds, and on "
        "FairFace's validation half on average (docs/decisions.md): the default of `make report`",
        "kept",
        model=_DEFAULT_MODEL,
        train=_DEFAULT_TRAIN,
    ),
)


def variant(name: str) -> Variant:
    for candidate in VARIANTS:
        if candidate.name == name:
            return candidate
    raise ValueError(f"no ablation variant {name!r}; known: {[v.name for v in VARIANTS]}")


def current_settings(chosen: Variant) -> tuple[dict, dict]:
    """The variant's settings that today's ModelConfig and TrainConfig take.

    A removed option at the value today's code always uses (a "gap" head, no label smoothing)
    is dropped; at any other value the variant cannot be trained by this code, and the error
    names the commit that can.
    """
    from facegen.modeling.model import ModelConfig
    from facegen.modeling.train import TrainConfig

    settings = []
    for given, known in ((chosen.model, ModelConfig), (chosen.train, TrainConfig)):
        fields = set(known.__dataclass_fields__)
        for name, value in given.items():
            if name not in fields and BUILT_IN.get(name, object()) != value:
                raise ValueError(
                    f"variant {chosen.name!r} sets {name}={value!r}, an option removed from the "
                    f"model code once rejected; train it from commit {REMOVED_OPTIONS_COMMIT}"
                )
        settings.append({k: v for k, v in given.items() if k in fields})
    return settings[0], settings[1]


def run_variant(
    chosen: Variant, dataset, *, seed: int = config.SEED, save_to: Path | None = None
) -> dict:
    """Train ``chosen`` on the training split, select on validation; one row of the table.

    ``save_to`` keeps the trained model (a ``.keras`` path) for a closer look afterwards.
    """
    from facegen.evaluation.fairness import fairness_summary
    from facegen.modeling.inference import predict_proba
    from facegen.modeling.model import ModelConfig
    from facegen.modeling.saving import save_model
    from facegen.modeling.train import TrainConfig, train_on_dataset

    model_settings, train_settings = current_settings(chosen)
    # A variant may ask for another input size; its faces are the same, split the same way.
    dataset = dataset.at_size(chosen.model.get("image_size", dataset.image_size))
    val_images, val_rows = dataset.part("val")
    val_labels = dataset.labels(val_rows)
    began = time.perf_counter()
    result = train_on_dataset(
        dataset, ModelConfig(**model_settings), TrainConfig(seed=seed, **train_settings)
    )
    seconds = time.perf_counter() - began
    if save_to is not None:
        save_model(result.model, save_to)
    flipped = predict_proba(result.model, val_images, views="flip")
    fairness = fairness_summary(val_rows.reset_index(drop=True), val_labels, flipped, "ethnicity")
    return {
        "variant": chosen.name,
        "change": chosen.change,
        "decision": chosen.decision,
        "epochs": len(result.history),
        "best_epoch": result.best_epoch,
        "val_accuracy": round(result.best_val_accuracy, 4),
        "val_accuracy_flip": round(float(np.mean((flipped >= 0.5) == val_labels)), 4),
        "val_eod_ethnicity": round(fairness["equalized_odds_difference"], 3),
        "train_seconds": round(seconds),
        "images_per_second": round(result.images_per_second),
        "parameters": int(result.model.count_params()),
        "seed": seed,
        "measured": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "note": "",
    }


def record(row: dict, path: Path = RESULTS) -> Path:
    """Add or replace ``row`` (by variant name) in the results file, atomically, in the order of
    ``VARIANTS``."""
    from results_table import record_row  # here: Ray's workers, sent this module, lack it

    order = {v.name: i for i, v in enumerate(VARIANTS)}

    def by_variant(table: pd.DataFrame) -> pd.DataFrame:
        return table.sort_values("variant", key=lambda s: s.map(order).fillna(math.inf))

    return record_row(path, row, ["variant"], COLUMNS, by_variant)
