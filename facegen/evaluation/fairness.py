"""Gaps between groups (fairlearn), set beside what a fair model would show on groups of the same
sizes, so a gap is read against chance.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    count,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score

from facegen.evaluation.inputs import checked_inputs, group_columns
from facegen.evaluation.subgroups import (
    GROUP_SEPARATOR,
    group_name,
    grouped_metrics,
    typed_like,
)


def equal_rates_reference(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    groups: np.ndarray,
    observed: float,
    *,
    n_sim: int = 2000,
    seed: int = 0,
) -> dict[str, float]:
    """What the equalized-odds difference would read if every group had the same error rates.

    Small groups make the EOD large by chance alone: it is a maximum over groups of a difference
    of rates, each estimated from a few hundred faces. So the measured EOD is set beside draws from
    a model that is exactly fair: each group keeps its own numbers of women and men, and its true
    and false positives are binomial draws at the overall true- and false-positive rates. The
    median and 95th percentile say how large a fair model's EOD looks on groups of these sizes;
    the p-value is the share of draws at least as large as ``observed`` (with the usual +1, so
    never 0). A small p-value says a fair model rarely shows gaps this large, not how large the
    real gaps are.

    All NaN when there is one group, or a group holds only one class: a rate is then undefined
    for it (fairlearn still reports an EOD there, counting the missing rate as 0, and that figure
    has no fair-model counterpart), or when ``observed`` is not a number.
    """
    y_true, y_pred = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    codes, keys = pd.factorize(pd.Series(np.asarray(groups, dtype=object)))
    if (codes < 0).any():
        raise ValueError("groups hold missing values: drop the rows of unknown group first")
    positives = np.bincount(codes[y_true], minlength=len(keys))
    negatives = np.bincount(codes[~y_true], minlength=len(keys))
    if len(keys) < 2 or positives.min() == 0 or negatives.min() == 0 or not np.isfinite(observed):
        nan = float("nan")
        return {"eod_equal_rates_median": nan, "eod_equal_rates_95th": nan, "eod_p_value": nan}
    tpr = (y_pred & y_true).sum() / y_true.sum()
    fpr = (y_pred & ~y_true).sum() / (~y_true).sum()
    rng = np.random.default_rng(seed)
    tp = rng.binomial(positives, tpr, size=(n_sim, len(keys))) / positives
    fp = rng.binomial(negatives, fpr, size=(n_sim, len(keys))) / negatives
    draws = np.maximum(np.ptp(tp, axis=1), np.ptp(fp, axis=1))
    return {
        "eod_equal_rates_median": float(np.median(draws)),
        "eod_equal_rates_95th": float(np.percentile(draws, 95)),
        # A tolerance, so a draw equal to the observation up to rounding counts as "as large".
        "eod_p_value": float((1 + np.sum(draws >= observed - 1e-12)) / (1 + n_sim)),
    }


def fairness_summary(
    frame: pd.DataFrame,
    y_true: Any,
    y_prob: Any,
    sensitive: str | list[str],
    threshold: float = 0.5,
    *,
    n_sim: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Worst and best group, the accuracy gap between them, and the equalized-odds difference.

    Computed with fairlearn's ``MetricFrame`` so the figures match what others report with the
    same tool. Rows with any NaN sensitive value are dropped first (unknown is not a group).
    ``by_group`` lists the groups in the frame's category order; fairlearn itself would sort
    them as strings. ``equalized_odds_difference`` is the larger of the between-group gaps in
    true- and false-positive rate; it is only meaningful when the sensitive feature is not the
    label itself (grouped by gender, each group holds one class and its TPR or FPR is undefined).
    Beside it, ``equal_rates_reference`` (``n_sim`` draws, ``seed``) says how large the EOD of an
    exactly fair model would look on groups of these sizes.
    """
    labels, _, predictions = checked_inputs(y_true, y_prob, threshold, frame)
    columns = group_columns(frame, sensitive)
    known = frame[columns].notna().all(axis=1).to_numpy()
    if not known.any():
        raise ValueError(f"no row has a known value for {columns}")
    _, by_group = grouped_metrics(
        frame,
        columns,
        labels,
        predictions,
        {
            "accuracy": accuracy_score,
            "selection_rate": selection_rate,
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
            "count": count,
        },
    )
    features = frame.loc[known, columns].reset_index(drop=True)
    features_arg = features[columns[0]] if len(columns) == 1 else features
    labels, predictions = labels[known], predictions[known]
    accuracy = by_group["accuracy"].astype(float)
    worst, best = accuracy.idxmin(), accuracy.idxmax()
    table = by_group.reset_index()
    table["count"] = table["count"].astype(np.int64)
    eod = float(equalized_odds_difference(labels, predictions, sensitive_features=features_arg))
    group_keys = features.astype(str).agg(GROUP_SEPARATOR.join, axis=1).to_numpy()
    reference = equal_rates_reference(labels, predictions, group_keys, eod, n_sim=n_sim, seed=seed)
    return {
        "worst_group": group_name(worst),
        "worst_group_accuracy": float(accuracy[worst]),
        "best_group": group_name(best),
        "best_group_accuracy": float(accuracy[best]),
        "accuracy_gap": float(accuracy.max() - accuracy.min()),
        "equalized_odds_difference": eod,
        **reference,
        "by_group": typed_like(table, frame, columns),
    }


FAIRNESS_ATTRIBUTES = ("ethnicity", "age_band")
