"""Checks every metric applies to its inputs: a gender of 3 or a NaN probability is a bug upstream
and fails loudly here rather than becoming a plausible number.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


def as_labels(y: Any, name: str) -> np.ndarray:
    """0/1 labels as int8; anything else is a bug upstream (a gender of 3, names, NaN)."""
    array = np.asarray(y)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size and not np.isin(array, (0, 1)).all():
        bad = np.unique(array[~np.isin(array, (0, 1))])[:5]
        raise ValueError(f"{name} must hold only 0 (male) and 1 (female), found {bad.tolist()}")
    return array.astype(np.int8)


def as_probabilities(y_prob: Any) -> np.ndarray:
    """Probabilities as float64; NaN or values outside [0, 1] mean the wrong model output."""
    array = np.asarray(y_prob, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"y_prob must be one-dimensional, got shape {array.shape}")
    outside = ~((array >= 0) & (array <= 1))  # also catches NaN
    if outside.any():
        raise ValueError(
            f"y_prob must be probabilities in [0, 1]; {int(outside.sum())} value(s) are not, "
            f"e.g. {array[outside][:3].tolist()}"
        )
    return array


def same_length(**arrays: Any) -> None:
    lengths = {name: len(value) for name, value in arrays.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name}={length}" for name, length in lengths.items())
        raise ValueError(f"lengths differ: {described}")


def valid_threshold(threshold: float) -> float:
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    return float(threshold)


def checked_inputs(
    y_true: Any, y_prob: Any, threshold: float = 0.5, frame: pd.DataFrame | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, probabilities and predictions, after every check the public functions share."""
    labels, probabilities = as_labels(y_true, "y_true"), as_probabilities(y_prob)
    if frame is None:
        same_length(y_true=labels, y_prob=probabilities)
    else:
        same_length(frame=frame, y_true=labels, y_prob=probabilities)
    predictions = (probabilities >= valid_threshold(threshold)).astype(np.int8)
    return labels, probabilities, predictions


def group_columns(frame: pd.DataFrame, by: str | Sequence[str]) -> list[str]:
    columns = [by] if isinstance(by, str) else list(by)
    if not columns:
        raise ValueError("name at least one column to group by")
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"frame has no column(s) {missing}; it has {list(frame.columns)}")
    return columns
