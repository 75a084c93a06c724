"""The ablation table the training notebook shows: every variant tried, judged on validation."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from facegen import config

COLUMNS = (
    "variant", "change", "decision", "epochs", "best_epoch", "val_accuracy", "val_accuracy_flip",
    "val_eod_ethnicity", "train_seconds", "images_per_second", "parameters", "seed", "measured",
    "machine", "note",
)  # fmt: skip


def load_results(path: Path = config.ABLATION_RESULTS) -> pd.DataFrame:
    """The measured ablation, in the order of ``VARIANTS`` (empty when nothing is measured)."""
    if not Path(path).exists():
        return pd.DataFrame(columns=list(COLUMNS))
    return pd.read_csv(path).reindex(columns=list(COLUMNS)).fillna({"note": ""})


def summary_table(path: Path = config.ABLATION_RESULTS) -> pd.DataFrame:
    """The measured ablation with reader's column names, for the training report."""
    table = load_results(path)
    return pd.DataFrame(
        {
            "variant": table["variant"],
            "what changed": table["change"],
            "decision": table["decision"],
            "epochs (best)": [
                f"{e} ({b})" for e, b in zip(table["epochs"], table["best_epoch"], strict=True)
            ],
            "val accuracy": table["val_accuracy"],
            "flip-averaged": _figures(table["val_accuracy_flip"], "{:.4f}"),
            "EOD ethnicity": _figures(table["val_eod_ethnicity"], "{:.3f}"),
            "train s": table["train_seconds"],
            "images/s": table["images_per_second"],
            "parameters": table["parameters"],
            "measured": table["measured"] + ", " + table["machine"],
            "note": table["note"],
        }
    ).set_index("variant")


def _figures(column: pd.Series, form: str) -> pd.Series:
    """Figures as text, with "–" where one was not measured (a reader should not see NaN)."""
    return column.map(lambda value: "–" if pd.isna(value) else form.format(value))
