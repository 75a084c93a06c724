"""Every metric per subgroup and intersection, with counts and intervals: a single accuracy hides
who the errors fall on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame

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
    rates = {name: _rate(name) for name in _POINT_METRICS}
    groups, by_group = grouped_metrics(frame, columns, labels, predictions, rates)
    rows = []
    for (key, members), (_, point) in zip(groups, by_group.iterrows(), strict=True):
        if len(members) < min_count:
            continue
        both_classes = not (math.isnan(point["recall_female"]) or math.isnan(point["recall_male"]))
        low, high = bootstrap_interval(
            labels[members], predictions[members], "accuracy", n_boot=n_boot, seed=seed
        )
        rows.append(
            {
                **dict(zip(columns, key, strict=True)),
                "n": len(members),
                "accuracy": point["accuracy"],
                "accuracy_low": low,
                "accuracy_high": high,
                "recall_male": point["recall_male"],
                "recall_female": point["recall_female"],
                "precision_female": point["precision_female"] if both_classes else math.nan,
                "f1_macro": (point["f1_male"] + point["f1_female"]) / 2
                if both_classes
                else math.nan,
                "error_rate": 1 - point["accuracy"],
                "share": len(members) / len(frame),
            }
        )
    table = pd.DataFrame(rows, columns=[*columns, *SUBGROUP_COLUMNS])
    table["n"] = table["n"].astype(np.int64)
    return typed_like(table, frame, columns)


_POINT_METRICS = (
    "accuracy",
    "recall_male",
    "recall_female",
    "precision_female",
    "f1_male",
    "f1_female",
)


def _rate(name: str) -> Callable[[np.ndarray, np.ndarray], float]:
    """A MetricFrame metric computed from confusion counts, so an undefined rate is NaN, not 0,
    and the figures equal the bootstrap's to the last digit."""

    def metric(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return float(rates_from_counts(*confusion_counts(y_true, y_pred))[name])

    metric.__name__ = name
    return metric


def grouped_metrics(
    frame: pd.DataFrame,
    columns: list[str],
    labels: np.ndarray,
    predictions: np.ndarray,
    metrics: dict[str, Callable],
) -> tuple[list[tuple[tuple[Any, ...], np.ndarray]], pd.DataFrame]:
    """fairlearn's ``MetricFrame`` per group of ``columns``, in the frame's category order.

    Returns the groups (key, row positions) beside ``by_group`` row for row: the positions feed
    the per-group bootstrap, which MetricFrame does not do. Rows with an unknown group value
    form no group. fairlearn would sort the groups as strings; they are put back in category
    order here so "3-12" follows "0-2".
    """
    groups = iter_groups(frame, columns)
    known = frame[columns].notna().all(axis=1).to_numpy()
    if not known.any():
        return groups, pd.DataFrame(columns=list(metrics))
    features = frame.loc[known, columns].reset_index(drop=True)
    metric_frame = MetricFrame(
        metrics=metrics,
        y_true=labels[known],
        y_pred=predictions[known],
        sensitive_features=features[columns[0]] if len(columns) == 1 else features,
    )
    order = [tuple(str(part) for part in key) for key, _ in groups]
    index = (
        pd.MultiIndex.from_tuples(order, names=columns)
        if len(columns) > 1
        else pd.Index([key[0] for key in order], name=columns[0])
    )
    return groups, metric_frame.by_group.reindex(index)


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
