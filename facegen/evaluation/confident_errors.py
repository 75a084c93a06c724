"""The errors the model was most sure of, to look at rather than count."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from facegen import config
from facegen.evaluation.input_checks import checked_inputs, group_columns
from facegen.evaluation.subgroups import iter_groups, typed_like


def most_confident_errors(
    frame: pd.DataFrame,
    y_true: Any,
    y_prob: Any,
    by: str,
    k: int = 4,
    threshold: float = 0.5,
) -> pd.DataFrame:
    """Per group of ``by``, the ``k`` misclassified rows the model was surest of, to look at.

    Confident mistakes are where a model has learned something wrong (a hairstyle, a beard, a
    child's face), so these are the faces worth showing. Confidence is the probability given to
    the predicted, wrong class: max(p, 1 - p) at the 0.5 threshold, and still the probability of
    the chosen class at another threshold. Ties keep frame order. ``row`` is the frame's index
    label, so callers can fetch the image; groups without errors contribute no rows.
    """
    if k < 0:
        raise ValueError(f"k must be non-negative, got {k}")
    if not isinstance(by, str):
        raise ValueError(f"by must name one column, got {by!r}")
    labels, probabilities, predictions = checked_inputs(y_true, y_prob, threshold, frame)
    columns = group_columns(frame, by)
    if "file" not in frame.columns:
        raise ValueError("frame has no 'file' column to name the misclassified images by")
    confidence = np.where(predictions == 1, probabilities, 1 - probabilities)
    names = np.asarray(config.GENDERS, dtype=object)
    picked = []
    for _, members in iter_groups(frame, columns):
        wrong = members[labels[members] != predictions[members]]
        order = np.argsort(-confidence[wrong], kind="stable")
        picked.append(wrong[order][:k])
    rows = np.concatenate([np.zeros(0, np.int64), *picked])
    table = pd.DataFrame(
        {
            columns[0]: frame[columns[0]].to_numpy()[rows],
            "row": frame.index.to_numpy()[rows],
            "file": frame["file"].to_numpy()[rows],
            "true": names[labels[rows]],
            "predicted": names[predictions[rows]],
            "confidence": confidence[rows],
        }
    )
    return typed_like(table, frame, columns)
