"""When the model says 90%, is it right 90% of the time?"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from facegen.evaluation.input_checks import checked_inputs
from facegen.evaluation.metrics import ratio


def reliability_table(y_true: Any, y_prob: Any, n_bins: int = 10) -> pd.DataFrame:
    """Accuracy against confidence, in ``n_bins`` equal-width bins over [0.5, 1].

    The binary formulation on the predicted class: confidence is max(p, 1 - p), the probability
    the model gave to the class it chose (at the 0.5 threshold), and a row is correct when that
    class is the label. Binning p itself would mix the two classes' errors in one curve; binning
    confidence asks the question a user has, "when it says 90%, is it right 90% of the time?".
    Bins are [low, high) except the last, which includes 1. Empty bins have NaN confidence and
    accuracy.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    labels, probabilities, predictions = checked_inputs(y_true, y_prob)
    confidence = np.maximum(probabilities, 1 - probabilities)
    correct = (predictions == labels).astype(np.float64)
    edges = np.linspace(0.5, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], confidence, side="right")
    n = np.bincount(bins, minlength=n_bins)
    return pd.DataFrame(
        {
            "bin_low": edges[:-1],
            "bin_high": edges[1:],
            "n": n.astype(np.int64),
            "mean_confidence": ratio(np.bincount(bins, confidence, minlength=n_bins), n),
            "accuracy": ratio(np.bincount(bins, correct, minlength=n_bins), n),
        }
    )


def expected_calibration_error(y_true: Any, y_prob: Any, n_bins: int = 10) -> float:
    """Size-weighted mean gap between accuracy and confidence over ``reliability_table``'s bins.

    0 is perfectly calibrated; 0.1 means the stated confidence is off by ten points on average.
    Empty bins contribute nothing; empty input gives NaN.
    """
    table = reliability_table(y_true, y_prob, n_bins)
    total = table["n"].sum()
    if total == 0:
        return math.nan
    filled = table[table["n"] > 0]
    gaps = (filled["accuracy"] - filled["mean_confidence"]).abs()
    return float((filled["n"] / total * gaps).sum())
