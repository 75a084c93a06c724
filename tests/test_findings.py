"""The sentences each page opens with: built from its own figures, compared like with like."""

import json
import math

import pandas as pd

from facegen.reporting.findings import (
    evaluation_conclusions,
    evaluation_summary,
    percent,
    training_summary,
)
from facegen.reporting.tables import decision_point_table, headline_table, readable
from facegen.runs.manifest import previous_run


def _run(root, name, status="complete", profile="full", accuracy=0.9):
    folder = root / name
    folder.mkdir(parents=True)
    manifest = {
        "run_id": name,
        "status": status,
        "parameters": {"profile": profile},
        "headline": {"test_accuracy": accuracy},
        "training": {"best_val_accuracy": accuracy},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def _metrics(accuracy=0.9162, low=0.905, high=0.927):
    table = pd.DataFrame(
        {
            "age_band": ["0-2", "20-29", "60+"],
            "n": [50, 800, 0],
            "accuracy": [0.6, 0.95, math.nan],
            "accuracy_low": [0.45, 0.93, math.nan],
            "accuracy_high": [0.73, 0.96, math.nan],
        }
    )
    ethnicity = pd.DataFrame(
        {"ethnicity": ["Asian", "White"], "n": [300, 900], "accuracy": [0.86, 0.93],
         "accuracy_low": [0.82, 0.91], "accuracy_high": [0.9, 0.95]}
    )  # fmt: skip
    return {
        "headline": {
            "test_accuracy": accuracy, "test_accuracy_low": low, "test_accuracy_high": high,
            "n_test": 2315, "f1_macro": 0.915, "equalized_odds_difference_ethnicity": 0.105,
            "children_0_12_accuracy": 0.729, "children_0_12_n": 336,
        },
        "subgroups": {"age_band": table, "ethnicity": ethnicity},
        "fairness": {"ethnicity": {"eod_equal_rates_median": 0.059, "eod_p_value": 0.032}},
    }  # fmt: skip


def test_the_previous_run_is_the_newest_other_complete_run_of_the_same_profile(tmp_path):
    _run(tmp_path, "20260101-000000-full-seed42", accuracy=0.91)
    _run(tmp_path, "20260102-000000-smoke-seed42", profile="smoke")
    _run(tmp_path, "20260103-000000-full-seed42", status="failed")
    mine = _run(tmp_path, "20260104-000000-full-seed42")
    assert previous_run(mine)["run_id"] == "20260101-000000-full-seed42"
    assert previous_run(tmp_path / "20260101-000000-full-seed42")["run_id"] == mine.name


def test_the_evaluation_summary_states_accuracy_interval_weakest_groups_and_change():
    text = evaluation_summary(_metrics(), {"run_id": "before", "headline": {"test_accuracy": 0.9}})
    assert "91.6%" in text and "90.5% to 92.7%" in text
    assert "age band 0-2: 60.0% [45.0%, 73.0%], n=50" in text
    assert "ethnicity Asian" in text and "60+" not in text  # an empty group is no weakest group
    assert "+1.62 points, larger than half this run's interval" in text
    same = evaluation_summary(_metrics(), {"run_id": "b", "headline": {"test_accuracy": 0.914}})
    assert "not a measurable change" in same
    assert "No earlier complete run" in evaluation_summary(_metrics(), None)


def test_conclusions_and_training_summary_use_the_figures_given():
    assert "72.9% for ages 0-12, n=336" in evaluation_conclusions(_metrics())
    summary = {
        "best_val_accuracy": 0.9123, "best_epoch": 10, "epochs_run": 12, "train_seconds": 449.9,
        "train_images_per_second": 434.0, "strategy": "CPU", "parameters": 391657,
    }  # fmt: skip
    text = training_summary(summary, {"run_id": "r0", "training": {"best_val_accuracy": 0.91}})
    assert "91.2%** at epoch 10 of 12" in text and "+0.23 points" in text
    assert "Decision point" not in text  # a run from before the decision point


def test_the_training_summary_and_table_state_what_the_decision_point_did():
    before = {"accuracy": 0.9261, "recall_female": 0.9, "recall_male": 0.95}
    after = {"accuracy": 0.9226, "recall_female": 0.9226, "recall_male": 0.9226}
    decision = {"offset": 0.32, "threshold": 0.4207, "validation_before": before,
                "validation_after": after, "note": ""}  # fmt: skip
    summary = {
        "best_val_accuracy": 0.9157, "best_epoch": 11, "epochs_run": 12, "train_seconds": 219.3,
        "train_images_per_second": 1038.4, "strategy": "CPU", "parameters": 391657,
        "decision_point": decision,
    }  # fmt: skip
    text = training_summary(summary)
    assert "women 90.0% → 92.3%, men 95.0% → 92.3%, accuracy 92.6% → 92.3%" in text
    assert "network score of 0.421 instead of 0.5" in text
    table = decision_point_table(decision)
    assert table.loc["At 0.5", "Recall, men"] == "0.950"
    assert table.loc["At the model's own point", "Recall, women"] == "0.923"

    left = {**decision, "offset": 0.0, "note": "left at 0.5: the validation split has one gender"}
    assert "Decision point left at 0.5: the validation split has one gender." in training_summary(
        {**summary, "decision_point": left}
    )


def test_missing_figures_read_as_a_dash():
    assert percent(None) == "–" and percent(math.nan) == "–" and percent(0.5) == "50.0%"


def test_tables_read_in_words():
    table = readable(
        pd.DataFrame({"n": [1], "accuracy_low": [0.5]}, index=pd.Index(["x"], name="age_band"))
    )
    assert list(table.columns) == ["Faces", "Accuracy, 95% low"]
    assert table.index.names == ["Age band"]
    words = headline_table({"children_0_12_accuracy_low": 0.1, "test_accuracy": 0.9}).index
    assert list(words) == ["Test accuracy", "Children 0-12: accuracy, 95% low"]


def test_the_threshold_conclusion_says_how_much_of_the_gap_is_the_thresholds():
    from facegen.reporting.findings import threshold_conclusions

    table = pd.DataFrame(
        [
            {"collection": "ff", "threshold": "0.5", "accuracy": 0.792, "recall_gap": 0.179},
            {"collection": "ff", "threshold": "chosen", "accuracy": 0.794, "recall_gap": 0.066},
        ]
    )
    (line,) = threshold_conclusions(table)
    assert "from 17.9 to 6.6 points at an accuracy of 79.4% (against 79.2%)" in line
    assert "mostly" in line
