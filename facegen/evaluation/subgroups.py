"""Every metric per subgroup and intersection, with counts and intervals: a single accuracy hides
who the errors fall on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from facegen.evaluation.input_checks import checked_inputs, group_columns
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


@dataclass(frozen=True)
class GroupCounts:
    """The observed groups of some columns, from one groupby, with each group's confusion counts.

    Every per-group figure is read from here, so a table groups its rows once: point rates from
    ``counts`` (the same ``rates_from_counts`` the bootstrap uses, so an undefined rate is NaN
    and the figures equal the bootstrap's to the last digit), resamples from ``members``. A
    Python metric called per group and per metric (fairlearn's ``MetricFrame``) cost most of an
    evaluation's time for the same figures.
    """

    columns: list[str]
    keys: list[tuple[Any, ...]]
    """One key per group, in the frame's category order."""
    members: list[np.ndarray]
    """Each group's row positions, ascending."""
    counts: np.ndarray
    """(groups, 4) int64: tp, fp, fn, tn, female the positive class."""

    @property
    def sizes(self) -> np.ndarray:
        return self.counts.sum(axis=1)

    def rates(self) -> dict[str, np.ndarray]:
        """Every metric of ``rates_from_counts``, one value per group."""
        return rates_from_counts(*self.counts.T)

    def key_columns(self, rows: list[int] | None = None) -> dict[str, list[Any]]:
        """The keys as one list per column, for the ``rows`` given (all groups by default)."""
        rows = list(range(len(self.keys))) if rows is None else rows
        return {
            column: [self.keys[row][place] for row in rows]
            for place, column in enumerate(self.columns)
        }


def count_groups(
    frame: pd.DataFrame, columns: list[str], labels: np.ndarray, predictions: np.ndarray
) -> GroupCounts:
    """Group ``frame`` by ``columns`` once and count each group's confusion cells."""
    groups = iter_groups(frame, columns)
    counts = np.array(
        [confusion_counts(labels[members], predictions[members]) for _, members in groups],
        dtype=np.int64,
    ).reshape(-1, 4)
    return GroupCounts(
        columns=columns,
        keys=[key for key, _ in groups],
        members=[members for _, members in groups],
        counts=counts,
    )


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
    interval depends only on its own rows, not on which other groups exist or pass ``min_count``
    (fairlearn's ``MetricFrame(n_boot=...)`` resamples the whole frame instead, so there a
    group's size and interval move with the others).

    Rates that a group cannot define are NaN, never 0: ``recall_female`` of an all-male group,
    ``precision_female`` and ``f1_macro`` of any group holding one true class only (there
    precision is 0 or 1 by construction, and the other class's F1 would measure only false
    alarms, so averaging it in would halve the score).
    """
    labels, _, predictions = checked_inputs(y_true, y_prob, threshold, frame)
    columns = group_columns(frame, by)
    groups = count_groups(frame, columns, labels, predictions)
    kept = [row for row, members in enumerate(groups.members) if len(members) >= min_count]
    rates = {name: values[kept] for name, values in groups.rates().items()}
    sizes = groups.sizes[kept]
    intervals = np.array(
        [
            bootstrap_interval(
                labels[groups.members[row]],
                predictions[groups.members[row]],
                "accuracy",
                n_boot=n_boot,
                seed=seed,
            )
            for row in kept
        ],
        dtype=np.float64,
    ).reshape(-1, 2)
    both_classes = ~(np.isnan(rates["recall_female"]) | np.isnan(rates["recall_male"]))
    table = pd.DataFrame(
        {
            **groups.key_columns(kept),
            "n": sizes,
            "accuracy": rates["accuracy"],
            "accuracy_low": intervals[:, 0],
            "accuracy_high": intervals[:, 1],
            "recall_male": rates["recall_male"],
            "recall_female": rates["recall_female"],
            "precision_female": np.where(both_classes, rates["precision_female"], np.nan),
            "f1_macro": np.where(both_classes, (rates["f1_male"] + rates["f1_female"]) / 2, np.nan),
            "error_rate": 1 - rates["accuracy"],
            "share": sizes / len(frame),
        },
        columns=[*columns, *SUBGROUP_COLUMNS],
    )
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
