"""Training weights that take the gender prior out of each subgroup.

UTKFace's gender balance shifts with age and ethnicity: in the training split, ages 40-59 are 70%
male and ages 3-12 60% female. A model can lean on that prior ("older, so male"), which raises
overall accuracy a little but moves the error rates of the subgroups apart, and equalized odds
measures exactly that gap. Weighting each subgroup's men and women to equal total weight removes
the prior inside the subgroup while keeping every subgroup's share of the training signal.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def gender_balancing_weights(
    rows: pd.DataFrame, within: Sequence[str], *, max_weight: float = 3.0
) -> np.ndarray:
    """One weight per row: inside each ``within`` cell, both genders get half the cell's weight.

    A cell with only one gender keeps weight 1 (there is nothing to balance). Weights are capped
    at ``max_weight`` so that a handful of faces in a rare cell cannot dominate a batch, then
    scaled to average 1 so the learning rate means the same with and without weighting (the
    scaling can lift a capped weight a little above the cap: it bounds the ratio, not the value).
    """
    if not within:
        return np.ones(len(rows))
    missing = [c for c in [*within, "gender"] if c not in rows.columns]
    if missing:
        raise ValueError(f"cannot balance gender within {list(within)}: no column {missing}")
    if rows["gender"].isna().any():
        raise ValueError(f"{int(rows['gender'].isna().sum())} rows have no gender label to balance")
    # Plain string keys: an unknown value (NaN) is a cell of its own, not a dropped row.
    cell = _as_text(rows[within[0]])
    for column in within[1:]:
        cell = cell + "|" + _as_text(rows[column])
    cell_gender = cell + "|" + _as_text(rows["gender"])
    cell_size = cell.map(cell.value_counts())
    cell_gender_size = cell_gender.map(cell_gender.value_counts())
    genders_in_cell = cell_gender.groupby(cell).transform("nunique")
    weights = cell_size / (genders_in_cell * cell_gender_size)
    weights = np.minimum(weights.to_numpy(dtype=float), max_weight)
    return weights / weights.mean()


def _as_text(column: pd.Series) -> pd.Series:
    return column.astype(object).where(column.notna(), "unknown").astype(str)
