"""The model card: what a reader of one run sees first."""

import json
import re

from facegen.reporting.model_card import render_model_card

HEADLINE = {
    "test_accuracy": 0.9123, "test_accuracy_low": 0.9011, "test_accuracy_high": 0.9234,
    "f1_macro": 0.911, "roc_auc": 0.97, "n_test": 2319, "expected_calibration_error": 0.021,
    "worst_subgroup": "age_band 3-12", "worst_subgroup_accuracy": 0.61, "worst_subgroup_n": 88,
}  # fmt: skip


def _row(column: str, group: str, accuracy: float, n: int) -> dict:
    return {
        column: group, "n": n, "accuracy": accuracy, "accuracy_low": accuracy - 0.05,
        "accuracy_high": accuracy + 0.05, "recall_male": 0.9, "recall_female": 0.8,
    }  # fmt: skip


def _write_run(run_dir, metrics: dict, **files: dict) -> None:
    """A run folder of tiny JSON files: metrics.json plus whichever others a test needs."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    for name, content in files.items():
        (run_dir / f"{name}.json").write_text(json.dumps(content))


def _summary(markdown: str) -> str:
    """The paragraph right under the title."""
    return markdown.split("\n\n")[1]


def test_the_model_card_sets_the_measured_eod_beside_a_fair_models(tmp_path):
    fairness = {
        "worst_group": "Asian", "worst_group_accuracy": 0.86, "best_group": "White",
        "best_group_accuracy": 0.93, "accuracy_gap": 0.07, "equalized_odds_difference": 0.105,
    }  # fmt: skip
    metrics = {
        "fairness": {
            "ethnicity": {**fairness, "eod_equal_rates_95th": 0.098, "eod_p_value": 0.031},
            "gender x ethnicity": {**fairness, "eod_equal_rates_95th": 0.1, "eod_p_value": 0.0005},
            "age_band": fairness,  # a run from before the reference existed
        }
    }
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    markdown, _ = render_model_card(tmp_path)
    assert "| 0.105 | 0.098 | 0.031 |" in markdown
    assert "| 0.105 | – | – |" in markdown
    assert "| 0.105 | 0.100 | <0.001 |" in markdown
    assert "consistent with equal error rates" in markdown
    summary = _summary(markdown)
    assert "ethnicity 0.105, larger than a model with equal error rates shows" in summary
    assert "groups this size (p = 0.031)" in summary
    assert "groups this size (p < 0.001)" in markdown
    assert "age band 0.105, not yet set beside a fair model's" in summary


def test_the_summary_opens_the_card_with_accuracy_interval_and_weakest_groups(tmp_path):
    subgroups = {
        "age_band": [_row("age_band", "3-12", 0.61, 88), _row("age_band", "20-29", 0.95, 700)],
        "ethnicity": [_row("ethnicity", "White", 0.93, 900), _row("ethnicity", "Others", 0.84, 99)],
    }  # fmt: skip
    _write_run(tmp_path, {"headline": HEADLINE, "subgroups": subgroups})
    markdown, page = render_model_card(tmp_path)
    summary = _summary(markdown)
    assert "2,319 test faces" in summary
    assert "91.2% of the time (95% interval 90.1% – 92.3%)" in summary
    assert "age band 3-12 at 61.0% (n = 88, 95% interval 56.0% – 66.0%)" in summary
    assert "ethnicity Others at 84.0% (n = 99" in summary
    assert 3 <= len(summary.splitlines()) <= 5
    # In the tables, each accuracy with its interval in one cell, and n a whole number.
    assert "| Age band | n | Accuracy [95% interval] | Recall (male) |" in markdown
    assert "| 3-12 | 88 | 61.0% [56.0%, 66.0%] | 90.0% | 80.0% |" in markdown
    assert "91.2%" in page and "<h1>Model card" in page
    headings = re.findall(r"^#+ (.*)$", markdown, flags=re.MULTILINE)
    assert headings[-1] == "Limits and conclusions"
    assert not [h for h in headings[1:] if "_" in h]  # written for people, not keys


def test_an_old_run_without_subgroup_tables_falls_back_on_the_headline(tmp_path):
    _write_run(tmp_path, {"headline": HEADLINE})
    markdown, _ = render_model_card(tmp_path)
    assert "It does worst for age band 3-12 at 61.0% (n = 88)." in _summary(markdown)


def test_what_a_run_did_not_record_prints_a_dash(tmp_path):
    headline = {k: v for k, v in HEADLINE.items() if k not in ("f1_macro", "roc_auc")}
    training = {"epochs_run": 3, "best_epoch": 2, "best_val_accuracy": float("nan")}
    _write_run(tmp_path, {"headline": headline}, training=training)
    markdown, _ = render_model_card(tmp_path)
    assert "macro F1 –, ROC AUC –," in markdown
    assert "validation accuracy –)" in markdown
    assert "– parameters" in markdown  # not "0 parameters"
    assert "nan" not in markdown.lower()


def test_an_empty_run_folder_still_renders_a_card(tmp_path):
    markdown, _ = render_model_card(tmp_path)
    assert f"# Model card: facegen run {tmp_path.name}" in markdown
    assert "Accuracy by group was not recorded" in markdown
    assert "Intended use" in markdown


def test_hostile_names_are_escaped_in_the_html_card(tmp_path):
    hostile = "<script>alert(1)</script>"
    subgroups = {"ethnicity": [_row("ethnicity", f"A|{hostile}", 0.5, 3)]}
    _write_run(tmp_path, {"headline": HEADLINE, "subgroups": subgroups},
               manifest={"run_id": hostile})  # fmt: skip
    markdown, page = render_model_card(tmp_path)
    assert "| A\\|<script>" in markdown  # a "|" in a name does not split the table cell
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_card_states_each_external_collections_test_half(tmp_path):
    head = {
        "external_n": 4001, "external_accuracy": 0.781, "external_accuracy_low": 0.768,
        "external_accuracy_high": 0.794, "external_recall_female": 0.72,
        "external_recall_male": 0.83, "external_recall_gap": 0.11, "external_recall_gap_low": 0.08,
        "external_recall_gap_high": 0.14, "external_aligned_share": 0.982,
    }  # fmt: skip
    external = {"collections": {"fairface": {"val": {}, "test": head}}, "headline": head}
    _write_run(tmp_path / "run", {"headline": HEADLINE}, external=external)
    markdown, _ = render_model_card(tmp_path / "run")
    assert (
        "fairface, 4,001 faces of its test half) it does 78.1% (95% interval 76.8% – 79.4%); it "
        "recognises 72.0% of the women and 83.0% of the men there." in _summary(markdown)
    )
    assert "| fairface | 4,001 | 78.1% [76.8%, 79.4%] | 72.0% | 83.0% | 11.0% [8.0%, 14.0%] |" in (
        markdown
    )
    _write_run(tmp_path / "plain", {"headline": HEADLINE})
    assert "No collection other than UTKFace" in render_model_card(tmp_path / "plain")[0]


def test_the_card_says_where_the_model_decides_and_what_its_score_is(tmp_path):
    figures = {"accuracy": 0.926, "recall_female": 0.9, "recall_male": 0.95}
    after = {"accuracy": 0.9226, "recall_female": 0.9226, "recall_male": 0.9226}
    decision = {"offset": 0.32, "threshold": 0.4207, "validation_before": figures,
                "validation_after": after, "note": ""}  # fmt: skip
    _write_run(tmp_path, {"headline": HEADLINE}, training={"decision_point": decision})
    markdown, _ = render_model_card(tmp_path)
    assert "recall on the validation split was 90.0% for women and 95.0% for men" in markdown
    assert "rather than the network's own probability" in markdown
    assert "0.5 on it is 0.421 on the unmoved network, for a single view" in markdown

    _write_run(tmp_path, {"headline": HEADLINE}, training={})  # a run from before the move
    assert "decision point" not in render_model_card(tmp_path)[0]
