"""Gaps between groups, to fairlearn's definitions, set beside what a fair model would show on
groups of the same sizes, so a gap is read against chance.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from facegen.evaluation.input_checks import checked_inputs, group_columns
from facegen.evaluation.metrics import ratio
from facegen.evaluation.subgroups import count_groups, group_name, typed_like


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
    counts = np.stack(
        [
            np.bincount(codes[cell], minlength=len(keys))
            for cell in (y_pred & y_true, y_pred & ~y_true, ~y_pred & y_true, ~y_pred & ~y_true)
        ],
        axis=1,
    )
    return equal_rates_from_counts(counts, observed, n_sim=n_sim, seed=seed)


def equal_rates_from_counts(
    counts: np.ndarray, observed: float, *, n_sim: int = 2000, seed: int = 0
) -> dict[str, float]:
    """``equal_rates_reference`` from each group's (tp, fp, fn, tn), one row per group.

    The draws are dealt to the groups in row order, so the same counts in another order give
    other (equally valid) draws: ``fairness_summary`` passes its groups in the order of their
    first row, which is how ``equal_rates_reference`` numbers them.
    """
    tp, fp, fn, tn = np.asarray(counts, dtype=np.int64).reshape(-1, 4).T
    positives, negatives = tp + fn, fp + tn
    if (
        len(positives) < 2
        or positives.min() == 0
        or negatives.min() == 0
        or not np.isfinite(observed)
    ):
        nan = float("nan")
        return {"eod_equal_rates_median": nan, "eod_equal_rates_95th": nan, "eod_p_value": nan}
    tpr = tp.sum() / positives.sum()
    fpr = fp.sum() / negatives.sum()
    rng = np.random.default_rng(seed)
    tp_draws = rng.binomial(positives, tpr, size=(n_sim, len(positives))) / positives
    fp_draws = rng.binomial(negatives, fpr, size=(n_sim, len(negatives))) / negatives
    draws = np.maximum(np.ptp(tp_draws, axis=1), np.ptp(fp_draws, axis=1))
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

    Every figure comes from one groupby's confusion counts (``count_groups``), to fairlearn's
    definitions and conventions, so it matches what others report with fairlearn's
    ``MetricFrame`` and ``equalized_odds_difference`` (the tests check equality, digit for
    digit). Rows with any NaN sensitive value are dropped first (unknown is not a group).
    ``by_group`` lists the groups in the frame's category order. ``equalized_odds_difference``
    is the larger of the between-group gaps in true- and false-positive rate; it is only
    meaningful when the sensitive feature is not the label itself (grouped by gender, each group
    holds one class and its TPR or FPR is undefined; fairlearn, and so this table, count such a
    rate as 0). Beside it, ``equal_rates_reference`` (``n_sim`` draws, ``seed``) says how large
    the EOD of an exactly fair model would look on groups of these sizes.
    """
    labels, _, predictions = checked_inputs(y_true, y_prob, threshold, frame)
    columns = group_columns(frame, sensitive)
    groups = count_groups(frame, columns, labels, predictions)
    if not groups.keys:
        raise ValueError(f"no row has a known value for {columns}")
    tp, fp, fn, tn = groups.counts.T
    sizes = groups.sizes
    # fairlearn's rates come from scikit-learn's normalised confusion matrix, which turns a rate
    # a group cannot define into 0; the same here, or the EOD would not be fairlearn's.
    true_positive_rate = np.nan_to_num(ratio(tp, tp + fn), nan=0.0)
    false_positive_rate = np.nan_to_num(ratio(fp, fp + tn), nan=0.0)
    accuracy = ratio(tp + tn, sizes)
    eod = float(max(np.ptp(true_positive_rate), np.ptp(false_positive_rate)))
    worst, best = int(np.argmin(accuracy)), int(np.argmax(accuracy))
    table = pd.DataFrame(
        {
            **groups.key_columns(),
            "accuracy": accuracy,
            "selection_rate": ratio(tp + fp, sizes),
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
            "count": sizes,
        }
    )
    first_row_order = np.argsort([members[0] for members in groups.members], kind="stable")
    reference = equal_rates_from_counts(groups.counts[first_row_order], eod, n_sim=n_sim, seed=seed)
    return {
        "worst_group": group_name(groups.keys[worst]),
        "worst_group_accuracy": float(accuracy[worst]),
        "best_group": group_name(groups.keys[best]),
        "best_group_accuracy": float(accuracy[best]),
        "accuracy_gap": float(accuracy.max() - accuracy.min()),
        "equalized_odds_difference": eod,
        **reference,
        "by_group": typed_like(table, frame, columns),
    }


FAIRNESS_ATTRIBUTES = ("ethnicity", "age_band")
