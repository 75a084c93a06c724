"""Accuracy, precision, recall, F1 and ROC AUC, and their bootstrap intervals."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, precision_recall_fscore_support, roc_auc_score

from facegen import config
from facegen.evaluation.input_checks import as_labels, checked_inputs, same_length

BOOTSTRAP_METRICS = (
    "accuracy",
    "recall_female",
    "recall_male",
    "precision_female",
    "precision_male",
    "f1_female",
    "f1_male",
    "recall_gap",
)


# Resample indices are drawn in blocks of rows of at most this many cells, so a bootstrap over the
# whole data set (23k faces x 1000 resamples) does not hold a 185 MB index matrix at once. Drawing
# the rows block by block from one generator yields the same indices as one (n_boot, n) draw.
_BOOTSTRAP_BLOCK_CELLS = 1 << 22


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the rate is undefined rather than a misleading 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan
        )


def rates_from_counts(
    tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray
) -> dict[str, np.ndarray]:
    """Every bootstrap metric from confusion counts; female (1) is the positive class.

    Written on arrays so one call serves a single table row and a thousand bootstrap rows alike.
    """
    return {
        "accuracy": ratio(tp + tn, tp + fp + fn + tn),
        "recall_female": ratio(tp, tp + fn),
        "recall_male": ratio(tn, tn + fp),
        "precision_female": ratio(tp, tp + fp),
        "precision_male": ratio(tn, tn + fn),
        "f1_female": ratio(2 * tp, 2 * tp + fp + fn),
        "f1_male": ratio(2 * tn, 2 * tn + fn + fp),
        # How much more often men are recognised than women: the gap a threshold can hide.
        "recall_gap": ratio(tn, tn + fp) - ratio(tp, tp + fn),
    }


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) with female as the positive class."""
    return (
        int(np.sum((y_true == 1) & (y_pred == 1))),
        int(np.sum((y_true == 0) & (y_pred == 1))),
        int(np.sum((y_true == 1) & (y_pred == 0))),
        int(np.sum((y_true == 0) & (y_pred == 0))),
    )


def classification_summary(y_true: Any, y_prob: Any, threshold: float = 0.5) -> dict[str, Any]:
    """The headline numbers, as plain Python so they go straight into metrics.json.

    Returns ``n``, ``threshold``, ``accuracy``, ``balanced_accuracy``, ``roc_auc``, then one dict
    per class (``"male"``, ``"female"``: precision, recall, f1, support) and ``"macro"`` (their
    unweighted mean, scikit-learn's convention). Balanced accuracy is reported next to accuracy
    because UTKFace is not 50/50 in every subgroup; it is the mean recall over the classes present.
    ``roc_auc`` is None when ``y_true`` holds one class only, where it is undefined. A class that
    is never predicted gets precision 0 (``zero_division=0``), not an error.
    """
    labels, probabilities, predictions = checked_inputs(y_true, y_prob, threshold)
    if labels.size == 0:
        raise ValueError("no samples to summarise: y_true is empty")
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predictions, labels=[0, 1], zero_division=0
    )
    present = support > 0
    summary: dict[str, Any] = {
        "n": int(labels.size),
        "threshold": float(threshold),
        "accuracy": float(accuracy_score(labels, predictions)),
        "balanced_accuracy": float(np.mean(recall[present])),
        "roc_auc": float(roc_auc_score(labels, probabilities)) if present.all() else None,
    }
    for code, name in enumerate(config.GENDERS):
        summary[name] = {
            "precision": float(precision[code]),
            "recall": float(recall[code]),
            "f1": float(f1[code]),
            "support": int(support[code]),
        }
    summary["macro"] = {
        "precision": float(np.mean(precision)),
        "recall": float(np.mean(recall)),
        "f1": float(np.mean(f1)),
        "support": int(np.sum(support)),  # as scikit-learn's report: every face counted
    }
    return summary


def bootstrap_interval(
    y_true: Any,
    y_pred: Any,
    metric: str = "accuracy",
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric`` for hard predictions ``y_pred``
    (``bootstrap_intervals`` for one metric)."""
    return bootstrap_intervals(y_true, y_pred, (metric,), n_boot, seed, level)[metric]


def bootstrap_intervals(
    y_true: Any,
    y_pred: Any,
    metrics: tuple[str, ...] = ("accuracy",),
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of several ``metrics`` from the same resamples.

    Subgroups on UTKFace range from thousands of faces to a few dozen, so a point estimate alone
    invites reading noise as bias. Each resample draws n row indices with replacement (one row of
    an (n_boot, n) matrix from ``np.random.default_rng(seed)``); the metric is computed from that
    row's confusion counts, all rows at once. A resample where the metric is undefined (say, no
    females drawn for ``recall_female``) counts as NaN and is left out of the percentiles, which
    is why a tiny group's interval can come from fewer than ``n_boot`` resamples. Empty input
    gives (nan, nan).
    """
    for metric in metrics:
        if metric not in BOOTSTRAP_METRICS:
            raise ValueError(f"unknown metric {metric!r}; choose one of {BOOTSTRAP_METRICS}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    labels, predictions = as_labels(y_true, "y_true"), as_labels(y_pred, "y_pred")
    same_length(y_true=labels, y_pred=predictions)
    n = labels.size
    if n == 0:
        return dict.fromkeys(metrics, (math.nan, math.nan))
    # One code per confusion cell: 0 tn, 1 fp, 2 fn, 3 tp.
    cells = (2 * labels + predictions).astype(np.int8)
    rng = np.random.default_rng(seed)
    per_block = max(1, _BOOTSTRAP_BLOCK_CELLS // n)
    counts = []
    for start in range(0, n_boot, per_block):
        rows = min(per_block, n_boot - start)
        drawn = cells[rng.integers(0, n, size=(rows, n))]
        counts.append(np.stack([(drawn == code).sum(axis=1) for code in range(4)], axis=1))
    tn, fp, fn, tp = np.concatenate(counts).T
    rates = rates_from_counts(tp, fp, fn, tn)
    tail = 100 * (1 - level) / 2
    intervals = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # every resample undefined: NaN is right
        for metric in metrics:
            low, high = np.nanpercentile(rates[metric], [tail, 100 - tail])
            intervals[metric] = (float(low), float(high))
    return intervals
