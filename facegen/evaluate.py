"""How well the classifier works, and for whom: metrics overall, per subgroup, with uncertainty.

Labels follow UTKFace: 0 = male, 1 = female (``config.GENDERS``); ``y_prob`` is the predicted
probability of class 1. A prediction is ``y_prob >= threshold`` with 0.5 by default, and the
threshold is never tuned on the test set, so the numbers here are what a user would get.

A single accuracy hides who the errors fall on, so every figure is also broken down by subgroup,
with its count and a bootstrap interval: a gap between two groups means little if one of them has
thirty faces. This module stays light (NumPy, pandas, scikit-learn, fairlearn; no TensorFlow) so
notebooks can import it to evaluate saved predictions without loading a model.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, precision_recall_fscore_support, roc_auc_score

from facegen import config

BOOTSTRAP_METRICS = (
    "accuracy",
    "recall_female",
    "recall_male",
    "precision_female",
    "precision_male",
    "f1_female",
    "f1_male",
)

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

# Resample indices are drawn in blocks of rows of at most this many cells, so a bootstrap over the
# whole data set (23k faces x 1000 resamples) does not hold a 185 MB index matrix at once. Drawing
# the rows block by block from one generator yields the same indices as one (n_boot, n) draw.
_BOOTSTRAP_BLOCK_CELLS = 1 << 22

_GROUP_SEPARATOR = " / "


# --- input checks ---------------------------------------------------------------------------------


def _labels(y: Any, name: str) -> np.ndarray:
    """0/1 labels as int8; anything else is a bug upstream (a gender of 3, names, NaN)."""
    array = np.asarray(y)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size and not np.isin(array, (0, 1)).all():
        bad = np.unique(array[~np.isin(array, (0, 1))])[:5]
        raise ValueError(f"{name} must hold only 0 (male) and 1 (female), found {bad.tolist()}")
    return array.astype(np.int8)


def _probabilities(y_prob: Any) -> np.ndarray:
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


def _same_length(**arrays: Any) -> None:
    lengths = {name: len(value) for name, value in arrays.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name}={length}" for name, length in lengths.items())
        raise ValueError(f"lengths differ: {described}")


def _threshold(threshold: float) -> float:
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    return float(threshold)


def _checked(
    y_true: Any, y_prob: Any, threshold: float = 0.5, frame: pd.DataFrame | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, probabilities and predictions, after every check the public functions share."""
    labels, probabilities = _labels(y_true, "y_true"), _probabilities(y_prob)
    if frame is None:
        _same_length(y_true=labels, y_prob=probabilities)
    else:
        _same_length(frame=frame, y_true=labels, y_prob=probabilities)
    predictions = (probabilities >= _threshold(threshold)).astype(np.int8)
    return labels, probabilities, predictions


def _columns(frame: pd.DataFrame, by: str | Sequence[str]) -> list[str]:
    columns = [by] if isinstance(by, str) else list(by)
    if not columns:
        raise ValueError("name at least one column to group by")
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"frame has no column(s) {missing}; it has {list(frame.columns)}")
    return columns


# --- counts and the rates built on them -----------------------------------------------------------


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the rate is undefined rather than a misleading 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan
        )


def _rates(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> dict[str, np.ndarray]:
    """Every bootstrap metric from confusion counts; female (1) is the positive class.

    Written on arrays so one call serves a single table row and a thousand bootstrap rows alike.
    """
    return {
        "accuracy": _ratio(tp + tn, tp + fp + fn + tn),
        "recall_female": _ratio(tp, tp + fn),
        "recall_male": _ratio(tn, tn + fp),
        "precision_female": _ratio(tp, tp + fp),
        "precision_male": _ratio(tn, tn + fn),
        "f1_female": _ratio(2 * tp, 2 * tp + fp + fn),
        "f1_male": _ratio(2 * tn, 2 * tn + fn + fp),
    }


def _counts(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) with female as the positive class."""
    return (
        int(np.sum((y_true == 1) & (y_pred == 1))),
        int(np.sum((y_true == 0) & (y_pred == 1))),
        int(np.sum((y_true == 1) & (y_pred == 0))),
        int(np.sum((y_true == 0) & (y_pred == 0))),
    )


# --- overall --------------------------------------------------------------------------------------


def classification_summary(y_true: Any, y_prob: Any, threshold: float = 0.5) -> dict[str, Any]:
    """The headline numbers, as plain Python so they go straight into metrics.json.

    Returns ``n``, ``threshold``, ``accuracy``, ``balanced_accuracy``, ``roc_auc``, then one dict
    per class (``"male"``, ``"female"``: precision, recall, f1, support) and ``"macro"`` (their
    unweighted mean, scikit-learn's convention). Balanced accuracy is reported next to accuracy
    because UTKFace is not 50/50 in every subgroup; it is the mean recall over the classes present.
    ``roc_auc`` is None when ``y_true`` holds one class only, where it is undefined. A class that
    is never predicted gets precision 0 (``zero_division=0``), not an error.
    """
    labels, probabilities, predictions = _checked(y_true, y_prob, threshold)
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


# --- uncertainty ----------------------------------------------------------------------------------


def bootstrap_interval(
    y_true: Any,
    y_pred: Any,
    metric: str = "accuracy",
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric`` for hard predictions ``y_pred``.

    Subgroups on UTKFace range from thousands of faces to a few dozen, so a point estimate alone
    invites reading noise as bias. Each resample draws n row indices with replacement (one row of
    an (n_boot, n) matrix from ``np.random.default_rng(seed)``); the metric is computed from that
    row's confusion counts, all rows at once. A resample where the metric is undefined (say, no
    females drawn for ``recall_female``) counts as NaN and is left out of the percentiles, which
    is why a tiny group's interval can come from fewer than ``n_boot`` resamples. Empty input
    gives (nan, nan).
    """
    if metric not in BOOTSTRAP_METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {BOOTSTRAP_METRICS}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    labels, predictions = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    _same_length(y_true=labels, y_pred=predictions)
    n = labels.size
    if n == 0:
        return (math.nan, math.nan)
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
    values = _rates(tp, fp, fn, tn)[metric]
    tail = 100 * (1 - level) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # every resample undefined: NaN is right
        low, high = np.nanpercentile(values, [tail, 100 - tail])
    return (float(low), float(high))


# --- per subgroup ---------------------------------------------------------------------------------


def _groups(frame: pd.DataFrame, columns: list[str]) -> list[tuple[tuple[Any, ...], np.ndarray]]:
    """(key, row positions) per observed group, in category order; NaN keys form no group."""
    positions = pd.Series(np.arange(len(frame)))
    keys = [frame[column].reset_index(drop=True) for column in columns]
    grouped = positions.groupby(keys, observed=True, sort=True, dropna=True)
    return [
        (key if isinstance(key, tuple) else (key,), members.to_numpy()) for key, members in grouped
    ]


def _typed_like(table: pd.DataFrame, frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
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
    labels, _, predictions = _checked(y_true, y_prob, threshold, frame)
    columns = _columns(frame, by)
    rows = []
    for key, members in _groups(frame, columns):
        if len(members) < min_count:
            continue
        tp, fp, fn, tn = _counts(labels[members], predictions[members])
        rates = {name: float(value) for name, value in _rates(tp, fp, fn, tn).items()}
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
    return _typed_like(table, frame, columns)


def _group_name(key: Any) -> str:
    """'Indian' for one column, 'female / Asian' for several."""
    parts = key if isinstance(key, tuple) else (key,)
    return _GROUP_SEPARATOR.join(str(part) for part in parts)


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
    labels, _, predictions = _checked(y_true, y_prob, threshold, frame)
    columns = _columns(frame, sensitive)
    known = frame[columns].notna().all(axis=1).to_numpy()
    if not known.any():
        raise ValueError(f"no row has a known value for {columns}")
    features = frame.loc[known, columns].reset_index(drop=True)
    features_arg = features[columns[0]] if len(columns) == 1 else features
    labels, predictions = labels[known], predictions[known]
    metric_frame = MetricFrame(
        metrics={
            "accuracy": accuracy_score,
            "selection_rate": selection_rate,
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
            "count": count,
        },
        y_true=labels,
        y_pred=predictions,
        sensitive_features=features_arg,
    )
    by_group = metric_frame.by_group
    order = [tuple(str(part) for part in key) for key, _ in _groups(features, columns)]
    by_group = by_group.reindex(
        pd.MultiIndex.from_tuples(order, names=columns)
        if len(columns) > 1
        else pd.Index([key[0] for key in order], name=columns[0])
    )
    accuracy = by_group["accuracy"].astype(float)
    worst, best = accuracy.idxmin(), accuracy.idxmax()
    table = by_group.reset_index()
    table["count"] = table["count"].astype(np.int64)
    eod = float(equalized_odds_difference(labels, predictions, sensitive_features=features_arg))
    group_keys = features.astype(str).agg(_GROUP_SEPARATOR.join, axis=1).to_numpy()
    reference = equal_rates_reference(labels, predictions, group_keys, eod, n_sim=n_sim, seed=seed)
    return {
        "worst_group": _group_name(worst),
        "worst_group_accuracy": float(accuracy[worst]),
        "best_group": _group_name(best),
        "best_group_accuracy": float(accuracy[best]),
        "accuracy_gap": float(metric_frame.difference(method="between_groups")["accuracy"]),
        "equalized_odds_difference": eod,
        **reference,
        "by_group": _typed_like(table, frame, columns),
    }


# --- calibration ----------------------------------------------------------------------------------


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
    labels, probabilities, predictions = _checked(y_true, y_prob)
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
            "mean_confidence": _ratio(np.bincount(bins, confidence, minlength=n_bins), n),
            "accuracy": _ratio(np.bincount(bins, correct, minlength=n_bins), n),
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


# --- errors to look at ----------------------------------------------------------------------------


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
    labels, probabilities, predictions = _checked(y_true, y_prob, threshold, frame)
    columns = _columns(frame, by)
    if "file" not in frame.columns:
        raise ValueError("frame has no 'file' column to name the misclassified images by")
    confidence = np.where(predictions == 1, probabilities, 1 - probabilities)
    names = np.asarray(config.GENDERS, dtype=object)
    picked = []
    for _, members in _groups(frame, columns):
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
    return _typed_like(table, frame, columns)


# --- output ---------------------------------------------------------------------------------------


def _jsonable_key(key: Any) -> str | int | float | bool | None:
    """JSON keys must be strings; json.dumps converts plain numbers itself, not NumPy ones."""
    key = key.item() if isinstance(key, np.generic) else key
    if key is None or isinstance(key, (str, int, float, bool)):
        return key
    return _group_name(key) if isinstance(key, tuple) else str(key)


def to_jsonable(obj: Any) -> Any:
    """``obj`` as plain Python that ``json.dumps`` accepts with ``allow_nan=False``.

    NumPy scalars and arrays become numbers and lists, DataFrames a list of records, Series a
    list, NaN, infinities and pandas' missing markers None (JSON has no NaN; Python's json
    would write an invalid ``NaN`` token). Anything it does not know raises TypeError rather
    than being silently stringified.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, pd.DataFrame):
        return to_jsonable(obj.astype(object).to_dict(orient="records"))
    if isinstance(obj, (pd.Series, pd.Index, pd.Categorical)):
        return to_jsonable(list(obj.astype(object)))
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, Mapping):
        return {_jsonable_key(key): to_jsonable(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(value) for value in obj]
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, pd.Timestamp):
        return obj.isoformat()
    raise TypeError(f"cannot make {type(obj).__name__} JSON-serialisable: {obj!r}")


# The breakdowns every evaluation reports: single attributes, then the intersections.
SUBGROUP_VIEWS: dict[str, list[str]] = {
    "age_band": ["age_band"],
    "ethnicity": ["ethnicity"],
    "gender": ["gender"],
    "gender_x_ethnicity": ["gender", "ethnicity"],
    "age_band_x_ethnicity": ["age_band", "ethnicity"],
}
FAIRNESS_ATTRIBUTES = ("ethnicity", "age_band")


def evaluate_predictions(
    frame: pd.DataFrame,
    y_true: Any,
    y_prob: Any,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    threshold: float = 0.5,
    n_bins: int = 10,
) -> dict[str, Any]:
    """Everything the evaluation notebook shows and ``metrics.json`` stores, computed once.

    Keys: ``overall`` (classification_summary plus a bootstrap interval for accuracy),
    ``subgroups`` (one table per SUBGROUP_VIEWS entry), ``fairness`` (per attribute in
    FAIRNESS_ATTRIBUTES), ``calibration`` (reliability table and ECE) and ``headline``: the few
    numbers a reader compares across runs, worst subgroup included.
    """
    labels, probabilities, predictions = _checked(y_true, y_prob, threshold, frame)
    overall = classification_summary(labels, probabilities, threshold)
    low, high = bootstrap_interval(labels, predictions, "accuracy", n_boot=n_boot, seed=seed)
    overall["accuracy_low"], overall["accuracy_high"] = low, high
    subgroups = {
        name: subgroup_table(frame, labels, probabilities, by, threshold, n_boot, seed)
        for name, by in SUBGROUP_VIEWS.items()
    }
    fairness = {
        attribute: fairness_summary(frame, labels, probabilities, attribute, threshold, seed=seed)
        for attribute in FAIRNESS_ATTRIBUTES
        if frame[attribute].notna().any()
    }
    reliability = reliability_table(labels, probabilities, n_bins)
    ece = expected_calibration_error(labels, probabilities, n_bins)
    single = pd.concat(
        [
            subgroups[name].rename(columns={name: "group"}).assign(attribute=name)
            for name in ("age_band", "ethnicity", "gender")
        ],
        ignore_index=True,
    )
    worst = single.loc[single["accuracy"].idxmin()] if len(single) else None
    headline = {
        "test_accuracy": overall["accuracy"],
        "test_accuracy_low": low,
        "test_accuracy_high": high,
        "f1_macro": overall["macro"]["f1"],
        "roc_auc": overall["roc_auc"],
        "n_test": overall["n"],
        "worst_subgroup": None if worst is None else f"{worst['attribute']} {worst['group']}",
        "worst_subgroup_accuracy": None if worst is None else float(worst["accuracy"]),
        "worst_subgroup_n": None if worst is None else int(worst["n"]),
        "expected_calibration_error": ece,
    }
    ethnicity = subgroups["ethnicity"]
    if len(ethnicity):
        weakest = ethnicity.loc[ethnicity["accuracy"].idxmin()]
        headline["worst_ethnicity"] = str(weakest["ethnicity"])
        headline["worst_ethnicity_accuracy"] = float(weakest["accuracy"])
    # The two age ranges a face classifier most often fails, named in the headline with intervals.
    for name, bands in (("children_0_12", ("0-2", "3-12")), ("age_60_plus", ("60+",))):
        members = frame["age_band"].isin(bands).to_numpy()
        if members.any():
            part_low, part_high = bootstrap_interval(
                labels[members], predictions[members], "accuracy", n_boot=n_boot, seed=seed
            )
            headline[f"{name}_accuracy"] = float((labels[members] == predictions[members]).mean())
            headline[f"{name}_accuracy_low"], headline[f"{name}_accuracy_high"] = (
                part_low,
                part_high,
            )
            headline[f"{name}_n"] = int(members.sum())
    for attribute, summary in fairness.items():
        headline[f"equalized_odds_difference_{attribute}"] = summary["equalized_odds_difference"]
        headline[f"equalized_odds_difference_{attribute}_p_value"] = summary["eod_p_value"]
        headline[f"accuracy_gap_{attribute}"] = summary["accuracy_gap"]
    return {
        "headline": headline,
        "overall": overall,
        "subgroups": subgroups,
        "fairness": fairness,
        "calibration": {"ece": ece, "n_bins": n_bins, "table": reliability},
        "threshold": threshold,
        "n_boot": n_boot,
        "seed": seed,
    }
