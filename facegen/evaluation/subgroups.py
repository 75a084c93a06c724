"""Every metric per subgroup and intersection, with counts and intervals: a single accuracy hides
who the errors fall on.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from facegen.evaluation.inputs import checked_inputs, group_columns
from facegen.evaluation.metrics import bootstrap_interval, confusion_counts, rates_from_counts

SUBGROUP_COLUMNS = (
    "n",
    "accuracy",
    "accuracy_low",
    "accuracy_high",
    "recall_male",
    "recall_female",
    "precision_female",
    "f1_macro",
    "error_rate",
    "share",
)


GROUP_SEPARATOR = " / "


def iter_groups(
    frame: pd.DataFrame, columns: list[str]
) -> list[tuple[tuple[Any, ...], np.ndarray]]:
    """(key, row positions) per observed group, in category order; NaN keys form no group."""
    positions = pd.Series(np.arange(len(frame)))
    keys = [frame[column].reset_index(drop=True) for column in columns]
    grouped = positions.groupby(keys, observed=True, sort=True, dropna=True)
    return [
        (key if isinstance(key, tuple) else (key,), members.to_numpy()) for key, members in grouped
    ]


def typed_like(table: pd.DataFrame, frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Give the group columns the frame's dtypes back, so category order survives downstream."""
    for column in columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            table[column] = pd.Categorical(table[column], dtype=frame[column].dtype)
    return table


def subgroup_table(
    frame: pd.DataFrame,
    y_true: Any,
    y_prob: Any,
    by: str | list[str],
    threshold: float = 0.5,
    n_boot: int = 1000,
    seed: int = 0,
    min_count: int = 1,
) -> pd.DataFrame:
    """One row per observed group of ``by``, with its size, accuracy interval and per-class rates.

    Rows whose group value is NaN (unknown ethnicity) form no group and are left out: they are
    not a subgroup anyone belongs to. ``share`` is the group's size over all rows passed in,
    unknowns included, so the shares of a table with unknowns sum to less than 1 and say how much
    of the data the table covers. Every group is bootstrapped with the same ``seed``, so a group's
    interval depends only on its own rows, not on which other groups exist or pass ``min_count``.

    Rates that a group cannot define are NaN, never 0: ``recall_female`` of an all-male group,
    ``precision_female`` and ``f1_macro`` of any group holding one true class only (there
    precision is 0 or 1 by construction, and the other class's F1 would measure only false
    alarms, so averaging it in would halve the score).
    """
    labels, _, predictions = checked_inputs(y_true, y_prob, threshold, frame)
    columns = group_columns(frame, by)
    rows = []
    for key, members in iter_groups(frame, columns):
        if len(members) < min_count:
            continue
        tp, fp, fn, tn = confusion_counts(labels[members], predictions[members])
        rates = {name: float(value) for name, value in rates_from_counts(tp, fp, fn, tn).items()}
        both_classes = (tp + fn) > 0 and (tn + fp) > 0
        f1_macro = (rates["f1_male"] + rates["f1_female"]) / 2 if both_classes else math.nan
        low, high = bootstrap_interval(
            labels[members], predictions[members], "accuracy", n_boot=n_boot, seed=seed
        )
        rows.append(
            {
                **dict(zip(columns, key, strict=True)),
                "n": len(members),
                "accuracy": rates["accuracy"],
                "accuracy_low": low,
                "accuracy_high": high,
                "recall_male": rates["recall_male"],
                "recall_female": rates["recall_female"],
                "precision_female": rates["precision_female"] if both_classes else math.nan,
                "f1_macro": f1_macro,
                "error_rate": 1 - rates["accuracy"],
                "share": len(members) / len(frame),
            }
        )
    table = pd.DataFrame(rows, columns=[*columns, *SUBGROUP_COLUMNS])
    table["n"] = table["n"].astype(np.int64)
    return typed_like(table, frame, columns)


def group_name(key: Any) -> str:
    """'Indian' for one column, 'female / Asian' for several."""
    parts = key if isinstance(key, tuple) else (key,)
    return GROUP_SEPARATOR.join(str(part) for part in parts)


# The breakdowns every evaluation reports: single attributes, then the intersections.
SUBGROUP_VIEWS: dict[str, list[str]] = {
    "age_band": ["age_band"],
    "ethnicity": ["ethnicity"],
    "gender": ["gender"],
    "gender_x_ethnicity": ["gender", "ethnicity"],
    "age_band_x_ethnicity": ["age_band", "ethnicity"],
}
