"""Tables as a reader sees them: headings in words, not the ``snake_case`` keys of metrics.json,
every figure in one cell with its 95% interval ("0.917 [0.905, 0.927]"), counts as whole numbers.

Only what people read is shaped here; metrics.json keeps its figures as they are, each interval
as ``_low`` and ``_high`` keys beside its figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from facegen.reporting.plots.style import label, metric_label
from facegen.reporting.templates import (
    MISSING,
    as_number,
    count,
    estimate,
    p_statement,
    p_value,
    words,
)

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
    "error_rate": "Model's error rate",
    "label_error_rate": "Estimated label-error rate",
    "n_doubted": "Labels doubted",
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


COUNTS = ("n", "support", "count", "n_doubted")
"""Columns that count faces: whole numbers, thousands separated, never "1209.0"."""

INTERVAL = " [95% interval]"
"""Added to a figure's heading where its cells carry the interval."""


def shown(value: Any, key: str = "") -> Any:
    """One cell as a reader sees it: three decimals, counts whole, a p-value never "0.000",
    "–" for a missing or undefined figure; text as it is."""
    number = as_number(value)
    if number is None:
        missing = value is None or (pd.api.types.is_scalar(value) and pd.isna(value))
        return MISSING if missing else value
    if key in COUNTS:
        return count(number)
    if key.endswith("p_value"):
        return p_value(float(number))
    return estimate(number)


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """The same table for a reader: headings in words, for index levels and columns alike, each
    figure with a ``_low`` and ``_high`` column beside it shown with them in one cell, and every
    cell formatted by ``shown``."""
    keys = [c for c in table.columns if isinstance(c, str)]
    merged = {k for k in keys if f"{k}_low" in keys and f"{k}_high" in keys}
    ends = {f"{k}_{end}" for k in merged for end in ("low", "high")}
    headings, cells = [], []
    for position, column in enumerate(table.columns):
        if column in ends:
            continue
        values = table.iloc[:, position].astype(object)
        if column in merged:
            low, high = table[f"{column}_low"], table[f"{column}_high"]
            values = [estimate(*figures) for figures in zip(values, low, high, strict=True)]
            headings.append(heading(column) + INTERVAL)
        else:
            values = [shown(value, column if isinstance(column, str) else "") for value in values]
            headings.append(heading(column) if isinstance(column, str) else column)
        cells.append(values)
    result = pd.DataFrame(dict(enumerate(cells)), index=table.index)
    result.columns = headings
    names = [heading(n) if isinstance(n, str) else n for n in result.index.names]
    return result.rename_axis(index=names)


HEADLINE_ROWS = (
    ("Test accuracy", "test_accuracy", "n_test"),
    ("Macro F1", "f1_macro", None),
    ("ROC AUC", "roc_auc", None),
    ("Recall, women", "recall_female", None),
    ("Recall, men", "recall_male", None),
    ("Recall gap (men - women)", "recall_gap", None),
    ("Accuracy, children 0-12", "children_0_12_accuracy", "children_0_12_n"),
    ("Accuracy, ages 60+", "age_60_plus_accuracy", "age_60_plus_n"),
    ("Accuracy, weakest subgroup: {worst_subgroup}", "worst_subgroup_accuracy", "worst_subgroup_n"),
    ("Accuracy, weakest ethnicity: {worst_ethnicity}", "worst_ethnicity_accuracy", None),
)
"""The headline's rows: the words (which may name a group the headline names), the figure's key
(its interval is read from ``<key>_low`` and ``<key>_high``) and the key of its face count. The
gaps between groups follow, one pair of rows per attribute, then the calibration error."""

HEADLINE_COLUMNS = ("Value" + INTERVAL, "Faces")

GROUP_NAMES = ("worst_subgroup", "worst_ethnicity")
"""Headline keys that name a group: read into the words of the row that gives its accuracy."""

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
)


def _headline_words(key: str) -> str:
    if key in HEADLINE:
        return HEADLINE[key]
    if key.endswith("_n"):  # a count: "_n" inside a word ("_new") is no count
        key = key.removesuffix("_n") + ": faces"
    for code, phrase in _PHRASES:
        key = key.replace(code, phrase)
    key = key.replace("_", " ")
    return key[:1].upper() + key[1:]


def headline_table(headline: Mapping[str, Any]) -> pd.DataFrame:
    """The headline a screen long: one row per figure, its 95% interval in the same cell
    ("0.917 [0.905, 0.927]"), and the number of faces it was measured on where the headline
    records it. The equalized-odds difference carries its p-value ("0.116 (p = 0.017)").

    A figure the headline lacks (an older run, a collection without the project's age bands) has
    no row; a key this table does not know gets a row of its own at the end, so none is hidden.
    """
    rows: list[tuple[str, str, str]] = []
    used = set(GROUP_NAMES)

    def add(text: str, key: str, n_key: str | None = None, note: str = "") -> None:
        low, high = f"{key}_low", f"{key}_high"
        used.update((key, low, high, n_key or key))
        figure = estimate(headline[key], headline.get(low), headline.get(high))
        rows.append((text, figure + note, "" if n_key is None else count(headline.get(n_key))))

    names = {name: words(headline.get(name)) for name in GROUP_NAMES}
    for text, key, n_key in HEADLINE_ROWS:
        if key in headline:
            add(text.format(**names), key, n_key)
    gap = "accuracy_gap_"  # with the equalized-odds difference, for each fairness attribute
    for attribute in [key.removeprefix(gap) for key in headline if key.startswith(gap)]:
        add(f"Accuracy gap by {words(attribute)}", f"accuracy_gap_{attribute}")
        eod = f"equalized_odds_difference_{attribute}"
        if eod in headline:
            p = as_number(headline.get(f"{eod}_p_value"))
            used.add(f"{eod}_p_value")
            add(f"Equalized-odds difference by {words(attribute)}", eod,
                note="" if p is None else f" (p {p_statement(p)})")  # fmt: skip
    if "expected_calibration_error" in headline:
        add("Expected calibration error", "expected_calibration_error")
    for key in [k for k in headline if k not in used]:
        add(_headline_words(key), key)
    return pd.DataFrame(rows, columns=["Figure", *HEADLINE_COLUMNS]).set_index("Figure")


CLASSES = (("male", "Male"), ("female", "Female"), ("macro", "Macro average"))


def class_table(overall: Mapping[str, Any]) -> pd.DataFrame:
    """Precision, recall and F1 per class and their macro average, each with its number of test
    faces (``classification_summary``'s ``support``) as a whole number."""
    rows = {words_: overall[key] for key, words_ in CLASSES if key in overall}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("Class")
    return readable(table[[c for c in ("precision", "recall", "f1", "support") if c in table]])


def fairness_table(fairness: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """``fairness_summary`` of each attribute as a column, a figure per row (its per-group table
    aside): the weakest and strongest group, the gap, the EOD beside a fair model's, p."""
    figures = {
        attribute: {key: value for key, value in summary.items() if key != "by_group"}
        for attribute, summary in fairness.items()
    }
    return readable(pd.DataFrame(figures).T).T.rename(columns=heading)


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
    ).map(shown)


COMPARED = (
    ("Faces", "n_test", None),
    ("Accuracy", "test_accuracy", "test_accuracy"),
    ("Recall, women", "recall_female", "recall_female"),
    ("Recall, men", "recall_male", "recall_male"),
    ("Gap, men - women", "recall_gap", "recall_gap"),
    ("ROC AUC", "roc_auc", None),
)


def comparison_table(
    headlines: Mapping[str, Mapping[str, Any]], coverage: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """One row per collection: its figures as 'value [low, high]' strings, ready to show.

    ``headlines`` maps a row name (e.g. "UTKFace test", "fairface test") to a headline dict;
    ``coverage`` optionally maps the same names to the share of faces aligned from landmarks.
    """
    rows = []
    for name, head in headlines.items():
        row: dict[str, Any] = {"Collection": name}
        for column, key, interval in COMPARED:
            row[column] = with_interval(head, key, interval)
        if coverage is not None:
            share = coverage.get(name)
            row["Aligned"] = MISSING if share is None else f"{100 * share:.1f}%"
        rows.append(row)
    return pd.DataFrame(rows).set_index("Collection")


def with_interval(head: Mapping[str, Any], key: str, interval: str | None = "same") -> str:
    """``head[key]`` as 'value [low, high]' from the ``<interval>_low`` and ``_high`` keys
    ("same": the key's own; None: the value alone); '–' where the figure is missing. The text is
    ``estimate``'s, as in every other table."""
    interval = key if interval == "same" else interval
    if key == "n_test":
        return count(head.get(key))
    if interval is None:
        return estimate(head.get(key))
    return estimate(head.get(key), head.get(f"{interval}_low"), head.get(f"{interval}_high"))


def audit_rates_table(rates: pd.DataFrame, by: str) -> pd.DataFrame:
    """One group per row: its faces, the model's error rate and the label audit's estimated
    label-error rate, each with its 95% interval, and how many labels were doubted
    (``evaluation.label_audit.audit_rates``). Side by side, because an error rate near the
    label-error rate may be the labels' as much as the model's."""
    columns = ["n", "error_rate", "error_rate_low", "error_rate_high", "label_error_rate",
               "label_error_rate_low", "label_error_rate_high", "n_doubted"]  # fmt: skip
    return readable(rates.set_index(by)[columns])


def sensitivity_table(audit: Mapping[str, Any]) -> pd.DataFrame:
    """The plain accuracy of the audited split beside its accuracy with the doubted labels set
    aside (``label_audit`` of metrics.json), labelled as the sensitivity figure it is: setting
    aside faces the model disagrees with raises accuracy by construction."""
    figure = audit["sensitivity"]
    split = figure.get("split", "test")
    plain = with_interval(figure, "accuracy")
    kept = with_interval(figure, "accuracy_without_doubted")
    set_aside = count(figure["n_set_aside"])
    rows = [
        (f"Accuracy on the {split} split (the headline)", plain, count(figure["n"])),
        (
            f"Sensitivity only: accuracy with the {set_aside} doubted labels set aside",
            kept,
            count(figure["n"] - figure["n_set_aside"]),
        ),
    ]
    return pd.DataFrame(rows, columns=["Figure", *HEADLINE_COLUMNS]).set_index("Figure")


def label_noise_table(audits: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per collection's label audit (``label_audit`` summaries): faces audited, labels
    doubted, the estimated label-error rate beside the model's error rate on the same faces, and
    the plain accuracy beside the sensitivity figure, each with its interval where the audit
    recorded one, so the two accuracies read alike. Collections without an audit are left out."""
    rows = []
    for name, audit in audits.items():
        if not audit:
            continue
        figure = audit["sensitivity"]
        n = audit["n"]
        rows.append(
            {
                "Collection": name,
                "Faces audited": count(n),
                "Labels doubted": count(audit["n_doubted"]),
                "Estimated label-error rate" + INTERVAL: with_interval(audit, "label_error_rate"),
                "Model's error rate, same faces": estimate(audit["error_rate"]),
                f"Accuracy, {figure['split']}" + INTERVAL: with_interval(figure, "accuracy"),
                "Sensitivity only: accuracy, doubted set aside" + INTERVAL: with_interval(
                    figure, "accuracy_without_doubted"
                ),
            }
        )
    return pd.DataFrame(rows).set_index("Collection") if rows else pd.DataFrame()
