"""A label audit: which faces' given labels the model's out-of-sample probabilities doubt.

Every figure the evaluation reports counts a disagreement with the annotators as the model's
error, and some annotations are wrong. Confident learning (cleanlab's ``find_label_issues`` with
``filter_by="prune_by_noise_rate"``) estimates from the model's probabilities how often each
given label is wrong and flags that many faces, those whose given label the model found least
likely. It is only honest on probabilities the model computed without having trained on the face
(validation and test, or out-of-fold probabilities of a k-fold fit): a model has learnt its
training faces' labels, wrong ones included.

Pure numpy, pandas and cleanlab: no TensorFlow and no files, so a benchmark can audit
out-of-fold probabilities of the training split with the same code as the report.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from facegen import config
from facegen.evaluation.input_checks import as_labels, as_probabilities, same_length
from facegen.evaluation.metrics import bootstrap_interval
from facegen.evaluation.subgroups import subgroup_table

AUDIT_COLUMNS = ("given_label", "probability", "label_quality", "doubted", "doubt_rank")

AUDIT_ATTRIBUTES = ("age_band", "ethnicity", "gender")
"""The subgroups whose estimated label-error rates metrics.json and the pages report."""


def audit_labels(labels: Any, probability: Any) -> pd.DataFrame:
    """One row per face, in the order given: which given labels the model's probabilities doubt.

    ``labels``: 0 (male) or 1 (female), as ``config.GENDERS``; ``probability``: the model's
    out-of-sample P(label == 1). Columns:

    - ``given_label`` (int): the label as given.
    - ``probability`` (float): as given.
    - ``label_quality`` (float): cleanlab's self-confidence, the probability the model gives the
      given label; low means doubted.
    - ``doubted`` (bool): flagged by ``cleanlab.filter.find_label_issues`` with
      ``filter_by="prune_by_noise_rate"``: cleanlab counts, per pair of classes, the faces the
      model confidently puts in the other class (each class's threshold is its own faces' mean
      self-confidence, so a model whose scores are shifted, like facegen's moved decision point,
      is read on its own scale), and flags that many faces per pair, the ones with the largest
      margin for the other class. The share flagged is the audit's estimate of the label-error
      rate.
    - ``doubt_rank`` (pandas ``Int64``): 1 for the most doubted face among the flagged ones (the
      lowest ``label_quality``, ties in input order), 2 for the next, and so on; ``<NA>`` for
      faces not flagged, so a rank is never mistaken for a face that was not doubted.

    A class with very few faces (under cleanlab's ``min_examples_per_class``, 10) may be flagged
    less than it should be; cleanlab's warning about it is silenced, since every caller here
    reports counts beside rates. With one class only nothing can be flagged: there is no other
    class to have been mislabelled from.
    """
    given, probabilities = as_labels(labels, "labels"), as_probabilities(probability)
    same_length(labels=given, probability=probabilities)
    given = given.astype(np.int64)
    pred_probs = np.column_stack([1 - probabilities, probabilities])
    quality = pred_probs[np.arange(given.size), given]
    if np.unique(given).size == 2:
        from cleanlab.filter import find_label_issues

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*too few examples.*", category=UserWarning)
            # n_jobs=1: for two classes a process pool costs more than the work (7x, measured).
            doubted = find_label_issues(
                given, pred_probs, filter_by="prune_by_noise_rate", n_jobs=1
            )
    else:
        doubted = np.zeros(given.size, dtype=bool)
    rank = pd.array([pd.NA] * given.size, dtype="Int64")
    flagged = np.flatnonzero(doubted)
    order = flagged[np.argsort(quality[flagged], kind="stable")]
    rank[order] = np.arange(1, order.size + 1)
    return pd.DataFrame(
        {
            "given_label": given,
            "probability": probabilities,
            "label_quality": quality.astype(np.float64),
            "doubted": np.asarray(doubted, dtype=bool),
            "doubt_rank": rank,
        },
        columns=list(AUDIT_COLUMNS),
    )


def doubted_share_interval(
    doubted: Any, n_boot: int = 1000, seed: int = 0
) -> tuple[float, float, float]:
    """The share of faces doubted and its 95% percentile bootstrap interval.

    The project's one bootstrap (``metrics.bootstrap_interval``) resamples faces; the share of
    flagged faces is the accuracy of the flags read as predictions against a label of 1 for every
    face, so it is reused as it is. The interval says how much the share would move with other
    faces of the same kind; it holds the audit's verdicts fixed, so it leaves out how much
    cleanlab's own thresholds would move with them (docs/decisions.md measures that part).
    """
    flags = np.asarray(doubted, dtype=np.int8)
    if flags.size == 0:
        return float("nan"), float("nan"), float("nan")
    low, high = bootstrap_interval(np.ones_like(flags), flags, "accuracy", n_boot, seed)
    return float(flags.mean()), low, high


def audit_rates(
    frame: pd.DataFrame,
    audit: pd.DataFrame,
    by: str,
    *,
    threshold: float = 0.5,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Per group of ``by``: the model's error rate and the estimated label-error rate, side by side.

    ``frame`` holds the group column for the audited faces (row for row with ``audit``, the
    output of ``audit_labels``). Both rates come with 95% bootstrap intervals from the same
    ``subgroup_table`` the evaluation uses: the error rate is one minus its accuracy, and the
    label-error rate is its accuracy of the flags read against a label of 1 for every face (see
    ``doubted_share_interval``). Where the two are close, much of what the model gets "wrong" in
    that group may be the labels; where the label-error rate is small beside the error rate, the
    errors are the model's. Groups whose value is missing form no row, as everywhere.
    """
    same_length(frame=frame, audit=audit)
    frame = frame.reset_index(drop=True)
    labels = audit["given_label"].to_numpy()
    errors = subgroup_table(frame, labels, audit["probability"].to_numpy(), by, threshold,
                            n_boot, seed)  # fmt: skip
    flags = audit["doubted"].to_numpy(dtype=np.float64)
    doubts = subgroup_table(frame, np.ones(len(frame), np.int8), flags, by, 0.5, n_boot, seed)
    return pd.DataFrame(
        {
            by: errors[by],
            "n": errors["n"].astype(np.int64),
            "error_rate": errors["error_rate"],
            "error_rate_low": 1 - errors["accuracy_high"],
            "error_rate_high": 1 - errors["accuracy_low"],
            "n_doubted": np.rint(doubts["accuracy"] * doubts["n"]).astype(np.int64),
            "label_error_rate": doubts["accuracy"],
            "label_error_rate_low": doubts["accuracy_low"],
            "label_error_rate_high": doubts["accuracy_high"],
        }
    )


def accuracy_without_doubted(
    audit: pd.DataFrame, *, threshold: float = 0.5, n_boot: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """A sensitivity figure: accuracy with the doubted labels set aside, beside the plain one.

    Not a better accuracy: a doubted face is doubted *because* the model disagrees with its
    label, so setting it aside removes errors by construction, right or wrong. It is no bound
    either way: were every doubted label wrong, correcting them would count those faces as right
    (a little higher than setting them aside), and labels the audit missed would move it further.
    It shows how much the doubted faces alone weigh on the plain figure; the headline stays the
    plain accuracy.
    """
    labels = audit["given_label"].to_numpy()
    predictions = (audit["probability"].to_numpy() >= threshold).astype(np.int8)
    kept = ~audit["doubted"].to_numpy(dtype=bool)
    plain = float((labels == predictions).mean()) if len(labels) else float("nan")
    accuracy = float((labels[kept] == predictions[kept]).mean()) if kept.any() else float("nan")
    plain_low, plain_high = bootstrap_interval(labels, predictions, "accuracy", n_boot, seed)
    low, high = bootstrap_interval(labels[kept], predictions[kept], "accuracy", n_boot, seed)
    return {
        "n": len(labels),
        "n_set_aside": int((~kept).sum()),
        "accuracy": plain,
        "accuracy_low": plain_low,
        "accuracy_high": plain_high,
        "accuracy_without_doubted": accuracy,
        "accuracy_without_doubted_low": low,
        "accuracy_without_doubted_high": high,
    }


@dataclass
class LabelAudit:
    """An audit of several splits (or a collection's halves) at once, with what the pages show."""

    faces: pd.DataFrame
    """One row per audited face: ``file``, ``split``, the ``audit_labels`` columns, ``age``,
    ``age_band``, ``ethnicity``, ``gender``, in the order the splits were given."""
    summary: dict[str, Any]
    """The ``label_audit`` section of metrics.json."""

    @property
    def rates(self) -> dict[str, pd.DataFrame]:
        """``audit_rates`` per attribute of ``AUDIT_ATTRIBUTES`` the faces carry: the summary's
        ``by``, so the pages and metrics.json read the same tables."""
        return self.summary["by"]

    def table(self) -> pd.DataFrame:
        """``label_audit.csv``: the most doubted first, the label and gender as words."""
        names = np.asarray(config.GENDERS, dtype=object)
        table = self.faces.assign(given_label=names[self.faces["given_label"].to_numpy()])
        columns = ["file", "split", "given_label", "probability", "label_quality", "doubted",
                   "doubt_rank", "age", "age_band", "ethnicity"]  # fmt: skip
        table = table[[c for c in columns if c in table.columns]]
        return table.sort_values("label_quality", kind="stable").reset_index(drop=True)

    def most_doubted(self, k: int = 24) -> pd.DataFrame:
        """The ``k`` doubted faces of lowest label quality, with their row in ``faces`` as
        ``row`` (so a caller holding the images in the same order can fetch each face)."""
        doubted = self.faces[self.faces["doubted"]].sort_values("doubt_rank")
        return doubted.head(k).rename_axis("row").reset_index()


def audit_splits(
    parts: Mapping[str, tuple[pd.DataFrame, Any, Any]],
    *,
    threshold: float = 0.5,
    n_boot: int = 1000,
    seed: int = 0,
    sensitivity_split: str = "test",
) -> LabelAudit:
    """Audit several splits together: ``parts`` maps a split name to (rows, labels, P(female)).

    The splits are audited as one set, so cleanlab's thresholds and noise rates are estimated
    from every out-of-sample face there is (4,641 on UTKFace's validation and test splits),
    never from one split alone. Rates come per attribute of ``AUDIT_ATTRIBUTES`` that the rows
    carry; the sensitivity figure (``accuracy_without_doubted``) is read on ``sensitivity_split``
    alone, the split the headline accuracy comes from.
    """
    frames, labels, probabilities = [], [], []
    for split, (rows, y_true, y_prob) in parts.items():
        frames.append(rows.reset_index(drop=True).assign(split=split))
        labels.append(as_labels(y_true, "labels"))
        probabilities.append(as_probabilities(y_prob))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    audit = audit_labels(np.concatenate([np.zeros(0, np.int8), *labels]),
                         np.concatenate([np.zeros(0), *probabilities]))  # fmt: skip
    extra = ["file", "split", "age", "age_band", "ethnicity", "gender"]
    faces = pd.concat([frame[[c for c in extra if c in frame]], audit], axis=1)
    rates = {
        attribute: audit_rates(
            frame, audit, attribute, threshold=threshold, n_boot=n_boot, seed=seed
        )
        for attribute in AUDIT_ATTRIBUTES
        if attribute in frame and frame[attribute].notna().any()
    }
    rate, low, high = doubted_share_interval(audit["doubted"], n_boot, seed)
    predictions = audit["probability"].to_numpy() >= threshold
    wrong = predictions != audit["given_label"].to_numpy(dtype=bool)
    error_low, error_high = bootstrap_interval(
        audit["given_label"].to_numpy(), predictions.astype(np.int8), "accuracy", n_boot, seed
    )
    in_split = (frame["split"] == sensitivity_split).to_numpy() if len(frame) else np.zeros(0, bool)
    summary: dict[str, Any] = {
        "method": "cleanlab.filter.find_label_issues, filter_by='prune_by_noise_rate', on the "
        "model's out-of-sample probabilities",
        "cleanlab_version": _cleanlab_version(),
        "splits": {split: len(rows) for split, (rows, _, _) in parts.items()},
        "n": len(audit),
        "n_doubted": int(audit["doubted"].sum()),
        "label_error_rate": rate,
        "label_error_rate_low": low,
        "label_error_rate_high": high,
        "n_model_errors": int(wrong.sum()),
        "error_rate": float(wrong.mean()) if wrong.size else float("nan"),
        "error_rate_low": 1 - error_high,
        "error_rate_high": 1 - error_low,
        "n_doubted_among_model_errors": int((wrong & audit["doubted"].to_numpy()).sum()),
        "by": rates,
        "sensitivity": {
            "split": sensitivity_split,
            **accuracy_without_doubted(
                audit[in_split], threshold=threshold, n_boot=n_boot, seed=seed
            ),
        },
        "threshold": float(threshold),
        "n_boot": int(n_boot),
        "seed": int(seed),
    }
    return LabelAudit(faces=faces, summary=summary)


def _cleanlab_version() -> str:
    from importlib.metadata import version

    return version("cleanlab")
