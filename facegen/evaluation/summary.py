"""Everything an evaluation reports, computed once: overall, subgroups, fairness, calibration and
the headline a reader compares across runs.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from facegen.evaluation.calibration import expected_calibration_error, reliability_table
from facegen.evaluation.fairness import FAIRNESS_ATTRIBUTES, fairness_summary
from facegen.evaluation.input_checks import checked_inputs
from facegen.evaluation.metrics import (
    bootstrap_interval,
    bootstrap_intervals,
    classification_summary,
    confusion_counts,
    rates_from_counts,
)
from facegen.evaluation.subgroups import SUBGROUP_VIEWS, subgroup_table


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
    labels, probabilities, predictions = checked_inputs(y_true, y_prob, threshold, frame)
    overall = classification_summary(labels, probabilities, threshold)
    # Accuracy and the recalls per gender from one set of resamples.
    headline_metrics = ("accuracy", "recall_female", "recall_male", "recall_gap")
    intervals = bootstrap_intervals(labels, predictions, headline_metrics, n_boot=n_boot, seed=seed)
    low, high = intervals["accuracy"]
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
    # Recall per gender and the gap between them, with intervals: the figure that says whom the
    # errors fall on when faces come from elsewhere.
    rates = rates_from_counts(*confusion_counts(labels, predictions))
    for metric in headline_metrics[1:]:
        headline[metric] = float(rates[metric])
        headline[f"{metric}_low"], headline[f"{metric}_high"] = intervals[metric]
    ethnicity = subgroups["ethnicity"]
    if len(ethnicity):
        weakest = ethnicity.loc[ethnicity["accuracy"].idxmin()]
        headline["worst_ethnicity"] = str(weakest["ethnicity"])
        headline["worst_ethnicity_accuracy"] = float(weakest["accuracy"])
    # The two age ranges a face classifier most often fails, named in the headline with intervals.
    # Named only where the frame uses the project's bands: another collection's bins differ.
    known_bands = set(getattr(frame["age_band"].dtype, "categories", []))
    for name, bands in (("children_0_12", ("0-2", "3-12")), ("age_60_plus", ("60+",))):
        members = frame["age_band"].isin(bands).to_numpy()
        if members.any() and set(bands) <= known_bands:
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
