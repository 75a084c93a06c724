"""Tables as a reader sees them: headings in words, not the ``snake_case`` keys of metrics.json."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from facegen.reporting.plots.style import label, metric_label

HEADINGS = {
    "n": "Faces",
    "accuracy_low": "Accuracy, 95% low",
    "accuracy_high": "Accuracy, 95% high",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "support": "Faces",
    "worst_group": "Weakest group",
    "worst_group_accuracy": "Its accuracy",
    "best_group": "Strongest group",
    "best_group_accuracy": "Its accuracy ",
    "accuracy_gap": "Accuracy gap",
    "equalized_odds_difference": "Equalized-odds difference (EOD)",
    "eod_equal_rates_median": "EOD of a fair model (median)",
    "eod_equal_rates_95th": "EOD of a fair model (95th percentile)",
    "eod_p_value": "p-value of the EOD",
    "selection_rate": "Share predicted female",
    "true_positive_rate": "Recall (female)",
    "false_positive_rate": "Men predicted female",
    "count": "Faces",
}

HEADLINE = {
    "test_accuracy": "Test accuracy",
    "test_accuracy_low": "Test accuracy, 95% low",
    "test_accuracy_high": "Test accuracy, 95% high",
    "f1_macro": "Macro F1",
    "roc_auc": "ROC AUC",
    "n_test": "Test faces",
    "worst_subgroup": "Weakest subgroup",
    "worst_subgroup_accuracy": "Weakest subgroup: accuracy",
    "worst_subgroup_n": "Weakest subgroup: faces",
    "expected_calibration_error": "Expected calibration error",
    "worst_ethnicity": "Weakest ethnicity",
    "worst_ethnicity_accuracy": "Weakest ethnicity: accuracy",
}


def heading(key: str) -> str:
    """The words for a column or metric key; unknown keys read as a capitalised phrase."""
    if key in HEADINGS:
        return HEADINGS[key]
    if key in HEADLINE:
        return HEADLINE[key]
    return metric_label(key) if "_" in key or key.islower() else label(key)


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """The same table with headings in words, for index levels and columns alike."""
    renamed = table.rename(columns=lambda c: heading(str(c)) if isinstance(c, str) else c)
    names = [heading(n) if isinstance(n, str) else n for n in renamed.index.names]
    return renamed.rename_axis(index=names)


_PHRASES = (
    ("recall_female", "recall (women)"),
    ("recall_male", "recall (men)"),
    ("recall_gap", "recall gap (men - women)"),
    ("_low", ", 95% low"),
    ("_high", ", 95% high"),
    ("children_0_12", "children 0-12"),
    ("age_60_plus", "ages 60+"),
    ("equalized_odds_difference", "equalized-odds difference"),
    ("age_band", "age band"),
    ("_p_value", ", p-value"),
    ("_accuracy", ": accuracy"),
    ("_n", ": faces"),
)


def _headline_words(key: str) -> str:
    if key in HEADLINE:
        return HEADLINE[key]
    for code, words in _PHRASES:
        key = key.replace(code, words)
    key = key.replace("_", " ")
    return key[:1].upper() + key[1:]


def headline_table(headline: Mapping[str, Any]) -> pd.DataFrame:
    """The headline as two columns, a figure per line, in the order metrics.json keeps."""
    rows = [(_headline_words(key), _shown(value)) for key, value in headline.items()]
    return pd.DataFrame(rows, columns=["Figure", "Value"]).set_index("Figure")


def _shown(value: Any) -> Any:
    """Four decimals are what the intervals support; a group name reads in words."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, str):
        return value.replace("age_band", "age band")
    return value


def decision_point_table(decision: Mapping[str, Any]) -> pd.DataFrame:
    """Validation accuracy and recall per gender at 0.5 and at the model's own decision point."""
    rows = {
        "At 0.5": decision["validation_before"],
        "At the model's own point": decision["validation_after"],
    }
    table = pd.DataFrame(rows).T[["accuracy", "recall_female", "recall_male"]]
    return table.rename(
        columns={
            "accuracy": "Accuracy",
            "recall_female": "Recall, women",
            "recall_male": "Recall, men",
        }
    ).round(4)
