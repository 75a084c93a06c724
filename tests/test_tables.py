"""Tables a reader takes in at a glance: a figure and its interval in one cell, counts whole."""

import math
import re

import numpy as np
import pandas as pd

from facegen import config
from facegen.evaluation.summary import evaluate_predictions
from facegen.reporting.tables import (
    class_table,
    fairness_table,
    headline_table,
    readable,
    with_interval,
)
from facegen.reporting.templates import estimate

FIGURE = r"-?\d\.\d{3}"
CELL = re.compile(rf"^{FIGURE}( \[{FIGURE}, {FIGURE}\])?( \(p [=<] \d\.\d{{3}}\))?$")
COUNT = re.compile(r"^\d{1,3}(,\d{3})*$")


def test_a_figure_and_its_interval_share_one_cell():
    assert estimate(0.9167, 0.9051, 0.9268) == "0.917 [0.905, 0.927]"
    assert estimate(0.9167, 0.9051, 0.9268, percent=True) == "91.7% [90.5%, 92.7%]"
    assert estimate(-0.01, -0.05, 0.02) == "-0.010 [-0.050, 0.020]"
    assert estimate(0.5) == estimate(0.5, None, 0.7) == estimate(0.5, math.nan, 0.7) == "0.500"
    assert estimate(None) == estimate(math.nan, 0.1, 0.2) == estimate(True) == "–"
    assert estimate(1209) == estimate(np.int64(1209)) == "1,209"  # a count, never "1209.0"
    assert estimate(np.float64(0.6), np.float32(0.5), 1) == "0.600 [0.500, 1.000]"


def test_a_headline_figure_reads_through_the_same_formatter():
    head = {"test_accuracy": 0.9167, "test_accuracy_low": 0.9051, "test_accuracy_high": 0.9268,
            "n_test": 2315, "roc_auc": math.nan}  # fmt: skip
    assert with_interval(head, "test_accuracy") == "0.917 [0.905, 0.927]"
    assert with_interval(head, "test_accuracy", None) == "0.917"
    assert with_interval(head, "n_test") == "2,315"
    assert with_interval(head, "roc_auc") == with_interval(head, "recall_gap") == "–"


def _evaluation(n: int = 600, seed: int = 0) -> dict:
    """evaluate_predictions on faces of every age band and ethnicity: what 04 shows."""
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 2, n)
    y_prob = np.clip(y_true * 0.6 + rng.normal(0.2, 0.25, n), 0, 1)
    frame = pd.DataFrame(
        {
            "age_band": pd.Categorical(rng.choice(config.AGE_BAND_LABELS, n),
                                       categories=list(config.AGE_BAND_LABELS), ordered=True),
            "ethnicity": pd.Categorical(rng.choice(config.ETHNICITIES, n),
                                        categories=list(config.ETHNICITIES)),
            "gender": pd.Categorical([config.GENDERS[y] for y in y_true],
                                     categories=list(config.GENDERS)),
        }
    )  # fmt: skip
    return evaluate_predictions(frame, y_true, y_prob, n_boot=50, seed=seed)


def test_the_headline_table_is_a_screen_long_with_intervals_in_the_cell_and_whole_counts():
    metrics = _evaluation()
    head = metrics["headline"]
    assert len(head) > 30  # metrics.json keeps every figure and each end of its interval
    assert {"test_accuracy_low", "test_accuracy_high", "recall_gap_low"} <= set(head)
    table = headline_table(head)
    assert len(table) <= 15
    assert list(table.columns) == ["Value [95% interval]", "Faces"]
    assert not [row for row in table.index if "95%" in row or "_" in row]
    assert all(CELL.match(cell) for cell in table.iloc[:, 0]), table
    assert all(COUNT.match(n) for n in table["Faces"] if n)
    accuracy = table.loc["Test accuracy"]
    assert accuracy.iloc[0] == estimate(
        head["test_accuracy"], head["test_accuracy_low"], head["test_accuracy_high"]
    )
    assert accuracy["Faces"] == "600"
    assert table.loc["Accuracy, children 0-12", "Faces"] == f"{head['children_0_12_n']:,}"
    worst = f"Accuracy, weakest subgroup: {head['worst_subgroup'].replace('_', ' ')}"
    assert table.loc[worst, "Faces"] == str(head["worst_subgroup_n"])
    p = head["equalized_odds_difference_ethnicity_p_value"]
    assert (
        table.loc["Equalized-odds difference by ethnicity"]
        .iloc[0]
        .endswith(f" (p = {p:.3f})" if p >= 0.001 else " (p < 0.001)")
    )


def test_the_headline_table_shows_a_key_it_does_not_know_and_skips_figures_not_measured():
    head = {"test_accuracy": 0.9167, "test_accuracy_low": 0.9051, "test_accuracy_high": 0.9268,
            "n_test": 2315, "some_new_figure": 0.25, "children_0_12_accuracy_low": 0.1}  # fmt: skip
    table = headline_table(head)
    assert table.loc["Test accuracy"].tolist() == ["0.917 [0.905, 0.927]", "2,315"]
    assert table.loc["Some new figure"].tolist() == ["0.250", ""]
    assert "Accuracy, children 0-12" not in table.index  # no figure, no row
    assert list(table.index) == [
        "Test accuracy", "Some new figure", "Children 0-12: accuracy, 95% low",
    ]  # fmt: skip


def test_readable_tables_put_each_interval_beside_its_figure_and_count_whole_faces():
    table = pd.DataFrame(
        {
            "n": [1209.0, 0.0],
            "accuracy": [0.6, math.nan],
            "accuracy_low": [0.45, math.nan],
            "accuracy_high": [0.73, math.nan],
            "recall_male": [0.9, math.nan],
            "eod_p_value": [0.0004, 0.2],
        },
        index=pd.Index(["0-2", "60+"], name="age_band"),
    )
    shown = readable(table)
    assert list(shown.columns) == [
        "Faces", "Accuracy [95% interval]", "Recall (male)", "p-value of the EOD",
    ]  # fmt: skip
    assert shown.index.names == ["Age band"]
    assert shown.loc["0-2"].tolist() == ["1,209", "0.600 [0.450, 0.730]", "0.900", "<0.001"]
    assert shown.loc["60+"].tolist() == ["0", "–", "–", "0.200"]


def test_the_evaluation_pages_other_tables_read_the_same_way():
    metrics = _evaluation()
    classes = class_table(metrics["overall"])
    assert list(classes.index) == ["Male", "Female", "Macro average"]
    assert list(classes.columns) == ["Precision", "Recall", "F1", "Faces"]
    assert classes["Faces"].tolist() == [
        f"{metrics['overall'][c]['support']:,}" for c in ("male", "female", "macro")
    ]
    assert all(re.fullmatch(FIGURE, cell) for cell in classes["F1"])
    fairness = fairness_table(metrics["fairness"])
    assert list(fairness.columns) == ["Ethnicity", "Age band"]
    assert fairness.loc["Weakest group", "Ethnicity"] in config.ETHNICITIES
    assert re.fullmatch(FIGURE, fairness.loc["Accuracy gap", "Age band"])
    groups = readable(metrics["subgroups"]["ethnicity"].set_index("ethnicity"))
    assert all(COUNT.match(n) for n in groups["Faces"])
    assert all(CELL.match(cell) for cell in groups["Accuracy [95% interval]"])
