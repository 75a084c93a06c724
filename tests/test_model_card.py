"""The model card: what a reader of one run sees first."""

import json

from facegen.reporting.model_card import render_model_card


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
