"""Metrics overall and per subgroup, checked against numbers worked out by hand."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from facegen import config
from facegen.evaluation import metrics
from facegen.evaluation.calibration import expected_calibration_error, reliability_table
from facegen.evaluation.confident_errors import most_confident_errors
from facegen.evaluation.fairness import equal_rates_reference, fairness_summary
from facegen.evaluation.jsonable import to_jsonable
from facegen.evaluation.metrics import (
    bootstrap_interval,
    bootstrap_intervals,
    classification_summary,
)
from facegen.evaluation.subgroups import SUBGROUP_COLUMNS, subgroup_table
from facegen.evaluation.summary import evaluate_predictions

# --- classification_summary -----------------------------------------------------------------------

# Eight faces, five male (0) and three female (1).
EIGHT_TRUE = np.array([0, 0, 0, 0, 0, 1, 1, 1])
EIGHT_PROB = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.9, 0.8, 0.4])
# Predictions at 0.5:   0    0    0    1    1    1    1    0
# -> TN = 3 (rows 0-2), FP = 2 (rows 3, 4), TP = 2 (rows 5, 6), FN = 1 (row 7).


def test_summary_of_eight_faces_matches_the_hand_computation():
    summary = classification_summary(EIGHT_TRUE, EIGHT_PROB)
    assert summary["n"] == 8
    assert summary["accuracy"] == pytest.approx(5 / 8)  # TN + TP = 5
    # male: precision TN/(TN+FN) = 3/4, recall TN/(TN+FP) = 3/5, F1 = 2*.75*.6/1.35 = 2/3
    assert summary["male"]["precision"] == pytest.approx(3 / 4)
    assert summary["male"]["recall"] == pytest.approx(3 / 5)
    assert summary["male"]["f1"] == pytest.approx(2 / 3)
    assert summary["male"]["support"] == 5
    # female: precision TP/(TP+FP) = 2/4, recall TP/(TP+FN) = 2/3, F1 = 2*.5*(2/3)/(7/6) = 4/7
    assert summary["female"]["precision"] == pytest.approx(1 / 2)
    assert summary["female"]["recall"] == pytest.approx(2 / 3)
    assert summary["female"]["f1"] == pytest.approx(4 / 7)
    assert summary["female"]["support"] == 3
    # macro: (3/4 + 1/2)/2 = 5/8, (3/5 + 2/3)/2 = 19/30, (2/3 + 4/7)/2 = 13/21
    assert summary["macro"]["precision"] == pytest.approx(5 / 8)
    assert summary["macro"]["recall"] == pytest.approx(19 / 30)
    assert summary["macro"]["f1"] == pytest.approx(13 / 21)
    assert summary["macro"]["support"] == 8
    assert summary["balanced_accuracy"] == pytest.approx(19 / 30)
    # AUC: of the 3 x 5 (female, male) pairs, the female scores higher in 5 + 5 + 3 = 13.
    assert summary["roc_auc"] == pytest.approx(13 / 15)
    json.dumps(summary, allow_nan=False)  # plain Python all the way down
    assert type(summary["n"]) is int
    assert type(summary["accuracy"]) is float


def test_summary_uses_the_threshold_and_reports_no_auc_for_one_class():
    # At 0.65 row 3 (p = 0.6) becomes a correct "male": 6 of 8 right.
    assert classification_summary(EIGHT_TRUE, EIGHT_PROB, threshold=0.65)["accuracy"] == 0.75
    # p == threshold counts as female.
    assert classification_summary([1], [0.5])["accuracy"] == 1.0
    one_class = classification_summary([0, 0, 0], [0.1, 0.2, 0.9])
    assert one_class["roc_auc"] is None
    assert one_class["accuracy"] == pytest.approx(2 / 3)
    assert one_class["balanced_accuracy"] == pytest.approx(2 / 3)  # the male recall alone
    assert one_class["female"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


@pytest.mark.parametrize(
    ("y_true", "y_prob", "message"),
    [
        ([0, 1, 1], [0.2, 0.7], "lengths differ"),
        ([0, 1], [0.2, 1.2], "y_prob"),
        ([0, 1], [-0.1, 0.5], "y_prob"),
        ([0, 1], [float("nan"), 0.5], "y_prob"),
        ([0, 2], [0.2, 0.7], "y_true"),
        ([], [], "empty"),
    ],
)
def test_bad_input_is_refused_with_a_reason(y_true, y_prob, message):
    with pytest.raises(ValueError, match=message):
        classification_summary(y_true, y_prob)


def test_bad_threshold_and_bootstrap_arguments_are_refused():
    with pytest.raises(ValueError, match="threshold"):
        classification_summary([0, 1], [0.2, 0.7], threshold=1.5)
    with pytest.raises(ValueError, match="unknown metric"):
        bootstrap_interval([0, 1], [0, 1], metric="auc")
    with pytest.raises(ValueError, match="lengths differ"):
        bootstrap_interval([0, 1], [0])
    with pytest.raises(ValueError, match="y_pred"):
        bootstrap_interval([0, 1], [0.2, 0.7])  # probabilities where predictions belong
    with pytest.raises(ValueError, match="level"):
        bootstrap_interval([0, 1], [0, 1], level=95)


# --- bootstrap_interval ---------------------------------------------------------------------------


def _predictions_with_accuracy(n: int, right: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random labels with exactly ``right`` of ``n`` predictions correct."""
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 2, n)
    y_pred = y_true.copy()
    wrong = rng.permutation(n)[: n - right]
    y_pred[wrong] = 1 - y_pred[wrong]
    return y_true, y_pred


def test_all_correct_gives_a_point_interval_at_one():
    y_true, y_pred = _predictions_with_accuracy(50, 50)
    assert bootstrap_interval(y_true, y_pred) == (1.0, 1.0)


def test_two_samples_one_wrong_span_zero_to_one():
    # Resampled accuracy is 0, 1/2 or 1 with probability 1/4, 1/2, 1/4: about 250 of 1000
    # resamples sit at each end, so both the 2.5th and the 97.5th percentile land on them.
    assert bootstrap_interval([0, 1], [0, 0], n_boot=1000) == (0.0, 1.0)


def test_empty_input_gives_nan():
    low, high = bootstrap_interval([], [])
    assert math.isnan(low) and math.isnan(high)


def test_interval_contains_the_estimate_and_is_seeded():
    y_true, y_pred = _predictions_with_accuracy(400, 320)  # accuracy 0.8
    low, high = bootstrap_interval(y_true, y_pred, seed=1)
    # Normal approximation: 0.8 +- 1.96 * sqrt(0.8 * 0.2 / 400) = 0.8 +- 0.039.
    assert low < 0.8 < high
    assert 0.74 < low < 0.78 and 0.82 < high < 0.86
    assert bootstrap_interval(y_true, y_pred, seed=1) == (low, high)
    assert bootstrap_interval(y_true, y_pred, seed=2) != (low, high)
    # A lower level gives a narrower interval inside the wider one.
    low_80, high_80 = bootstrap_interval(y_true, y_pred, seed=1, level=0.8)
    assert low <= low_80 < high_80 <= high


def test_width_shrinks_like_one_over_root_n():
    # Same accuracy (0.8), sixteen times the data: the width should shrink about four-fold.
    small = bootstrap_interval(*_predictions_with_accuracy(100, 80), n_boot=2000, seed=3)
    large = bootstrap_interval(*_predictions_with_accuracy(1600, 1280), n_boot=2000, seed=3)
    ratio = (small[1] - small[0]) / (large[1] - large[0])
    assert 3 < ratio < 5


def test_each_metric_reads_the_right_confusion_cells():
    # Five males all predicted male, five females all predicted male: TN = 5, FN = 5.
    y_true = np.array([0] * 5 + [1] * 5)
    y_pred = np.zeros(10, dtype=int)
    assert bootstrap_interval(y_true, y_pred, "recall_male") == (1.0, 1.0)  # TN/(TN+FP)
    assert bootstrap_interval(y_true, y_pred, "recall_female") == (0.0, 0.0)  # TP/(TP+FN)
    assert bootstrap_interval(y_true, y_pred, "f1_female") == (0.0, 0.0)  # 0/(0+0+FN)
    # No female is ever predicted, so precision_female is undefined in every resample.
    assert all(math.isnan(v) for v in bootstrap_interval(y_true, y_pred, "precision_female"))
    # precision_male = TN/(TN+FN) is the resampled male share: around 0.5, strictly inside (0, 1).
    low, high = bootstrap_interval(y_true, y_pred, "precision_male")
    assert 0 < low < 0.5 < high < 1
    # Four males, one wrongly called female: TN = 3, FP = 1.
    males = np.zeros(4, dtype=int)
    called = np.array([0, 0, 0, 1])
    assert bootstrap_interval(males, called, "precision_male") == (1.0, 1.0)  # FN is always 0
    assert bootstrap_interval(males, called, "precision_female") == (0.0, 0.0)  # 0 / FP, or nan
    assert all(math.isnan(v) for v in bootstrap_interval(males, called, "recall_female"))
    low, high = bootstrap_interval(males, called, "f1_male")  # 2TN/(2TN+FP): 0 only if TN = 0
    assert 0 <= low < 6 / 7 < high == 1.0


def test_drawing_in_blocks_does_not_change_the_interval(monkeypatch):
    y_true, y_pred = _predictions_with_accuracy(300, 240)
    whole = bootstrap_interval(y_true, y_pred, "f1_female", n_boot=500, seed=5)
    monkeypatch.setattr(metrics, "_BOOTSTRAP_BLOCK_CELLS", 7 * 300)  # blocks of 7 resamples
    assert bootstrap_interval(y_true, y_pred, "f1_female", n_boot=500, seed=5) == whole


# --- subgroup_table -------------------------------------------------------------------------------


def _frame(genders, ethnicities, index=None) -> pd.DataFrame:
    n = len(genders)
    return pd.DataFrame(
        {
            "file": [f"face{i}.jpg" for i in range(n)],
            "gender": pd.Categorical(genders, categories=list(config.GENDERS)),
            "ethnicity": pd.Categorical(ethnicities, categories=list(config.ETHNICITIES)),
            "age_band": pd.Categorical(
                ["20-29"] * n, categories=list(config.AGE_BAND_LABELS), ordered=True
            ),
        },
        index=index,
    )


# Black rows come first in the frame, but White comes first in config.ETHNICITIES.
GROUP_TRUE = np.array([1, 0, 0, 0, 1, 1, 0, 1])
GROUP_PROB = np.array([0.9, 0.8, 0.1, 0.2, 0.7, 0.4, 0.9, 0.9])
# Predictions:          1    1    0    0    1    0    1    1
# Correct:              y    n    y    y    y    n    n    y
GROUP_FRAME = _frame(
    [config.GENDERS[y] for y in GROUP_TRUE],
    ["Black", "Black", "White", "White", "White", "White", None, None],
)


def test_subgroup_table_matches_the_hand_computation():
    table = subgroup_table(GROUP_FRAME, GROUP_TRUE, GROUP_PROB, "ethnicity", n_boot=200)
    assert list(table.columns) == ["ethnicity", *SUBGROUP_COLUMNS]
    # Category order, and the two rows of unknown ethnicity form no group.
    assert list(table["ethnicity"].astype(str)) == ["White", "Black"]
    assert table["ethnicity"].cat.categories.tolist() == list(config.ETHNICITIES)
    white, black = table.iloc[0], table.iloc[1]
    # White: TN = 2 (rows 2, 3), TP = 1 (row 4), FN = 1 (row 5), FP = 0.
    assert white["n"] == 4
    assert white["accuracy"] == pytest.approx(3 / 4)
    assert white["error_rate"] == pytest.approx(1 / 4)
    assert white["recall_male"] == pytest.approx(1.0)  # 2 / 2
    assert white["recall_female"] == pytest.approx(1 / 2)  # 1 / 2
    assert white["precision_female"] == pytest.approx(1.0)  # 1 / 1
    # F1 female = 2*1/(2+0+1) = 2/3, F1 male = 2*2/(4+0+1) = 4/5, mean 11/15.
    assert white["f1_macro"] == pytest.approx(11 / 15)
    assert white["share"] == pytest.approx(4 / 8)  # of all rows, unknowns included
    # Black: TP = 1 (row 0), FP = 1 (row 1).
    assert black["n"] == 2
    assert black["accuracy"] == pytest.approx(1 / 2)
    assert black["recall_male"] == pytest.approx(0.0)
    assert black["recall_female"] == pytest.approx(1.0)
    assert black["precision_female"] == pytest.approx(1 / 2)
    # F1 female = 2/(2+1+0) = 2/3, F1 male = 0/(0+0+1) = 0, mean 1/3.
    assert black["f1_macro"] == pytest.approx(1 / 3)
    assert black["share"] == pytest.approx(2 / 8)
    for row in (white, black):
        assert 0 <= row["accuracy_low"] <= row["accuracy"] <= row["accuracy_high"] <= 1


def test_subgroup_table_min_count_and_seed():
    table = subgroup_table(GROUP_FRAME, GROUP_TRUE, GROUP_PROB, "ethnicity", min_count=3)
    assert list(table["ethnicity"].astype(str)) == ["White"]
    first = subgroup_table(GROUP_FRAME, GROUP_TRUE, GROUP_PROB, "ethnicity", seed=7)
    again = subgroup_table(GROUP_FRAME, GROUP_TRUE, GROUP_PROB, "ethnicity", seed=7)
    pd.testing.assert_frame_equal(first, again)


def test_subgroup_table_by_two_columns_leaves_undefined_rates_undefined():
    table = subgroup_table(GROUP_FRAME, GROUP_TRUE, GROUP_PROB, ["gender", "ethnicity"], n_boot=100)
    keys = list(zip(table["gender"].astype(str), table["ethnicity"].astype(str), strict=True))
    # Gender order first (male, female), then ethnicity order (White, Black).
    assert keys == [("male", "White"), ("male", "Black"), ("female", "White"), ("female", "Black")]
    assert table["n"].tolist() == [2, 1, 2, 1]
    assert table["accuracy"].tolist() == pytest.approx([1.0, 0.0, 0.5, 1.0])
    males, females = table.iloc[:2], table.iloc[2:]
    assert males["recall_female"].isna().all()  # no female in a male group
    assert females["recall_male"].isna().all()
    assert table["f1_macro"].isna().all()  # one true class per group
    assert table["share"].sum() == pytest.approx(6 / 8)


def test_subgroup_table_refuses_misaligned_input():
    with pytest.raises(ValueError, match="lengths differ"):
        subgroup_table(GROUP_FRAME.iloc[:5], GROUP_TRUE, GROUP_PROB, "ethnicity")
    with pytest.raises(ValueError, match="no column"):
        subgroup_table(GROUP_FRAME, GROUP_TRUE, GROUP_PROB, "race")


# --- fairness_summary -----------------------------------------------------------------------------

# Six Black faces, four Asian, one of unknown ethnicity (wrong, so it would matter if counted).
FAIR_TRUE = np.array([1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 1])
FAIR_PRED = np.array([1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0])
FAIR_FRAME = _frame([config.GENDERS[y] for y in FAIR_TRUE], ["Black"] * 6 + ["Asian"] * 4 + [None])


def test_fairness_summary_matches_the_hand_computation():
    result = fairness_summary(FAIR_FRAME, FAIR_TRUE, FAIR_PRED.astype(float), "ethnicity")
    # Black: right on 4 of 6; TPR 2/3 (rows 0, 1 of 0-2), FPR 1/3 (row 5 of 3-5).
    # Asian: right on 3 of 4; TPR 1/2 (row 6 of 6-7), FPR 0 (rows 8, 9).
    assert result["worst_group"] == "Black"
    assert result["worst_group_accuracy"] == pytest.approx(2 / 3)
    assert result["best_group"] == "Asian"
    assert result["best_group_accuracy"] == pytest.approx(3 / 4)
    assert result["accuracy_gap"] == pytest.approx(3 / 4 - 2 / 3)  # 1/12
    # max(|2/3 - 1/2|, |1/3 - 0|) = max(1/6, 1/3) = 1/3
    assert result["equalized_odds_difference"] == pytest.approx(1 / 3)
    by_group = result["by_group"]
    assert list(by_group["ethnicity"].astype(str)) == ["Black", "Asian"]  # category order
    assert by_group["count"].tolist() == [6, 4]
    assert by_group["true_positive_rate"].tolist() == pytest.approx([2 / 3, 1 / 2])
    assert by_group["false_positive_rate"].tolist() == pytest.approx([1 / 3, 0])
    assert by_group["selection_rate"].tolist() == pytest.approx([3 / 6, 1 / 4])
    assert type(result["accuracy_gap"]) is float


def test_equal_rates_reference_of_two_one_by_one_groups_matches_the_hand_computation():
    # Two groups, each one woman and one man; overall TPR = FPR = 1/2 (one of each right).
    # A fair model's TPR gap is 0 or 1 with probability 1/2 each, so is its FPR gap:
    # EOD = 1 unless both gaps are 0, P = 1 - 1/4 = 3/4.
    y_true = np.array([1, 0, 1, 0])
    y_pred = np.array([1, 1, 0, 0])
    groups = np.array(["a", "a", "b", "b"])
    reference = equal_rates_reference(y_true, y_pred, groups, observed=1.0, n_sim=20000)
    assert reference["eod_p_value"] == pytest.approx(0.75, abs=0.02)
    assert reference["eod_equal_rates_median"] == 1.0
    # EOD 0 is matched by every draw, EOD 1 by 3 in 4; nothing exceeds 1.
    assert equal_rates_reference(y_true, y_pred, groups, 0.0, n_sim=99)["eod_p_value"] == 1.0
    assert equal_rates_reference(y_true, y_pred, groups, 1.01, n_sim=99)["eod_p_value"] == 1 / 100


def test_equal_rates_reference_refuses_unknown_groups_and_a_missing_observation():
    y_true, y_pred = np.array([1, 0, 1, 0]), np.array([1, 0, 0, 1])
    with pytest.raises(ValueError, match="missing values"):
        equal_rates_reference(y_true, y_pred, np.array(["a", "a", None, "b"]), 0.5)
    result = equal_rates_reference(y_true, y_pred, np.array(["a", "a", "b", "b"]), float("nan"))
    assert math.isnan(result["eod_p_value"])


def test_the_fairness_reference_uses_only_the_rows_of_known_groups():
    # Unknown ethnicity rows are dropped and unused categories are no groups; the reference must
    # then equal the one computed by hand on the remaining rows.
    rng = np.random.default_rng(3)
    n = 400
    ethnicity = rng.choice(["White", "Black", "Asian", None], size=n, p=[0.4, 0.3, 0.2, 0.1])
    y_true = rng.integers(0, 2, n)
    y_prob = np.where(rng.random(n) < 0.85, y_true, 1 - y_true).astype(float)
    frame = _frame([config.GENDERS[y] for y in y_true], list(ethnicity))
    result = fairness_summary(frame, y_true, y_prob, "ethnicity", seed=7)
    known = np.array([e is not None for e in ethnicity])
    expected = equal_rates_reference(
        y_true[known], y_prob[known] >= 0.5, ethnicity[known], result["equalized_odds_difference"],
        seed=7,
    )  # fmt: skip
    assert {k: result[k] for k in expected} == expected
    assert 0 < result["eod_p_value"] <= 1
    headline = evaluate_predictions(frame, y_true, y_prob, n_boot=50)["headline"]
    assert headline["equalized_odds_difference_ethnicity_p_value"] == pytest.approx(
        fairness_summary(frame, y_true, y_prob, "ethnicity")["eod_p_value"]
    )


def test_equal_rates_reference_shrinks_with_group_size_and_flags_a_real_gap():
    rng = np.random.default_rng(1)

    def faces(n_per_group, tpr_b):
        y_true = np.tile([1, 0], n_per_group)
        groups = np.repeat(["a", "b"], n_per_group)
        tpr = np.where(groups == "a", 0.9, tpr_b)
        y_pred = np.where(y_true == 1, rng.random(len(y_true)) < tpr, rng.random(len(y_true)) < 0.1)
        return y_true, y_pred, groups

    small = equal_rates_reference(*faces(100, 0.9), observed=0.0)
    large = equal_rates_reference(*faces(20000, 0.9), observed=0.0)
    assert large["eod_equal_rates_median"] < small["eod_equal_rates_median"] / 5
    y_true, y_pred, groups = faces(2000, 0.7)  # group b's TPR 20 points lower: not chance
    eod = fairness_summary(
        pd.DataFrame({"ethnicity": groups}), y_true, y_pred.astype(float), "ethnicity"
    )
    assert eod["equalized_odds_difference"] > eod["eod_equal_rates_95th"]
    assert eod["eod_p_value"] < 0.01


def test_equal_rates_reference_is_undefined_when_a_group_holds_one_class():
    result = fairness_summary(FAIR_FRAME, FAIR_TRUE, FAIR_PRED.astype(float), "gender")
    assert math.isnan(result["eod_p_value"]) and math.isnan(result["eod_equal_rates_median"])


def test_fairness_summary_on_an_intersection_names_both_parts():
    result = fairness_summary(
        FAIR_FRAME, FAIR_TRUE, FAIR_PRED.astype(float), ["gender", "ethnicity"]
    )
    # female/Black 2 of 3, male/Black 2 of 3, female/Asian 1 of 2, male/Asian 2 of 2.
    assert result["worst_group"] == "female / Asian"
    assert result["worst_group_accuracy"] == pytest.approx(1 / 2)
    assert result["best_group"] == "male / Asian"
    assert result["accuracy_gap"] == pytest.approx(1 / 2)
    assert list(result["by_group"].columns[:2]) == ["gender", "ethnicity"]
    assert len(result["by_group"]) == 4


def _mixed_groups(seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """300 faces: ethnicities of every size, unknowns, an unused category ("Indian") and an
    "Others" group of two women only, whose false-positive rate is undefined."""
    rng = np.random.default_rng(seed)
    ethnicity = rng.choice(["White", "Black", "Asian", None], size=298, p=[0.5, 0.3, 0.15, 0.05])
    y_true = np.concatenate([rng.integers(0, 2, 298), [1, 1]])
    y_prob = np.where(rng.random(300) < 0.85, y_true, 1 - y_true) * 0.8 + 0.1
    frame = _frame([config.GENDERS[y] for y in y_true], [*ethnicity, "Others", "Others"])
    frame["age_band"] = pd.Categorical(
        rng.choice(config.AGE_BAND_LABELS[:4], size=300),
        categories=list(config.AGE_BAND_LABELS),
        ordered=True,
    )
    return frame, y_true, y_prob


@pytest.mark.parametrize("sensitive", ["ethnicity", "age_band", "gender", ["gender", "ethnicity"]])
def test_fairness_summary_equals_fairlearns_figures_digit_for_digit(sensitive):
    from fairlearn.metrics import (
        MetricFrame,
        count,
        equalized_odds_difference,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score

    frame, y_true, y_prob = _mixed_groups(11)
    result = fairness_summary(frame, y_true, y_prob, sensitive)
    columns = [sensitive] if isinstance(sensitive, str) else sensitive
    known = frame[columns].notna().all(axis=1).to_numpy()
    features = frame.loc[known, columns].astype(str).reset_index(drop=True)
    features = features[columns[0]] if len(columns) == 1 else features
    y_pred = (y_prob >= 0.5).astype(int)
    expected_eod = equalized_odds_difference(
        y_true[known], y_pred[known], sensitive_features=features
    )
    assert result["equalized_odds_difference"] == expected_eod  # equal, not approximately
    metrics = {"accuracy": accuracy_score, "selection_rate": selection_rate,
               "true_positive_rate": true_positive_rate,
               "false_positive_rate": false_positive_rate, "count": count}  # fmt: skip
    by_group = MetricFrame(
        metrics=metrics, y_true=y_true[known], y_pred=y_pred[known], sensitive_features=features
    ).by_group.dropna(how="all")  # fairlearn lists unseen intersections too, all NaN
    ours = result["by_group"]
    keys = [tuple(str(part) for part in row) for row in ours[columns].itertuples(index=False)]
    assert sorted(keys) == sorted(k if isinstance(k, tuple) else (k,) for k in by_group.index)
    for key, (_, row) in zip(keys, ours.iterrows(), strict=True):
        theirs = by_group.loc[key if len(columns) > 1 else key[0]]
        assert [row[name] for name in metrics] == [theirs[name] for name in metrics], key


def test_a_groups_interval_depends_only_on_its_own_rows():
    frame, y_true, y_prob = _mixed_groups(12)
    table = subgroup_table(frame, y_true, y_prob, "ethnicity", n_boot=300, seed=4)
    for _, row in table.iterrows():
        alone = (frame["ethnicity"] == row["ethnicity"]).to_numpy()
        own = subgroup_table(frame[alone], y_true[alone], y_prob[alone], "ethnicity", n_boot=300,
                             seed=4).iloc[0]  # fmt: skip
        assert (own["accuracy_low"], own["accuracy_high"]) == (
            row["accuracy_low"],
            row["accuracy_high"],
        )


# --- calibration ----------------------------------------------------------------------------------


def test_ece_of_four_faces_in_two_bins():
    # All female. Confidence max(p, 1-p): 0.6 right, 0.7 wrong | 0.9 right, 0.8 wrong.
    y_true = [1, 1, 1, 1]
    y_prob = [0.6, 0.3, 0.9, 0.2]
    table = reliability_table(y_true, y_prob, n_bins=2)
    assert table["bin_low"].tolist() == [0.5, 0.75]
    assert table["bin_high"].tolist() == [0.75, 1.0]
    assert table["n"].tolist() == [2, 2]
    assert table["mean_confidence"].tolist() == pytest.approx([0.65, 0.85])
    assert table["accuracy"].tolist() == pytest.approx([0.5, 0.5])
    # 2/4 * |0.5 - 0.65| + 2/4 * |0.5 - 0.85| = 0.075 + 0.175
    assert expected_calibration_error(y_true, y_prob, n_bins=2) == pytest.approx(0.25)


def test_overconfident_model_has_the_expected_ece():
    # Says 92% female every time; right 6 times out of 10: ECE = |0.6 - 0.92| = 0.32.
    y_true = [1] * 6 + [0] * 4
    assert expected_calibration_error(y_true, [0.92] * 10) == pytest.approx(0.32)
    table = reliability_table(y_true, [0.92] * 10)
    assert table["n"].tolist() == [0] * 8 + [10, 0]  # [0.9, 0.95) holds them all
    assert table["accuracy"].isna().sum() == 9  # empty bins are NaN, not 0


def test_perfectly_calibrated_model_has_ece_near_zero():
    rng = np.random.default_rng(0)
    n = 200_000
    confidence = rng.uniform(0.5, 1.0, n)
    correct = rng.random(n) < confidence  # P(correct | confidence c) = c
    y_true = rng.integers(0, 2, n)
    predicted = np.where(correct, y_true, 1 - y_true)
    y_prob = np.where(predicted == 1, confidence, 1 - confidence)
    assert expected_calibration_error(y_true, y_prob) < 0.02
    # The same predictions, each made 10 points more confident, are off by about 0.1.
    sharper = np.clip(np.where(predicted == 1, y_prob + 0.1, y_prob - 0.1), 0, 1)
    assert 0.07 < expected_calibration_error(y_true, sharper) < 0.11


def test_reliability_bins_include_both_ends():
    table = reliability_table([0, 1, 1], [0.5, 1.0, 0.0], n_bins=5)
    assert table["n"].sum() == 3
    assert table["n"].iloc[0] == 1 and table["n"].iloc[-1] == 2
    # A confidence on an inner edge opens the upper bin: [0.5, 0.75) and [0.75, 1].
    assert reliability_table([1, 0], [0.75, 0.25], n_bins=2)["n"].tolist() == [0, 2]
    assert math.isnan(expected_calibration_error([], []))


# --- most_confident_errors ------------------------------------------------------------------------


def test_most_confident_errors_picks_the_surest_mistakes_per_group():
    y_true = np.array([0, 0, 0, 1, 1, 0, 0, 1, 0])
    y_prob = np.array([0.95, 0.7, 0.8, 0.9, 0.45, 0.1, 0.3, 0.02, 0.99])
    # wrong?            yes  yes  yes  no   yes   no   no   yes   yes
    frame = _frame(
        [config.GENDERS[y] for y in y_true],
        ["Black"] * 3 + ["White"] * 2 + ["Asian"] * 2 + ["White", None],
        index=range(100, 109),
    )
    table = most_confident_errors(frame, y_true, y_prob, "ethnicity", k=2)
    assert list(table.columns) == ["ethnicity", "row", "file", "true", "predicted", "confidence"]
    # White first (category order): row 107 (conf 0.98), then 104 (0.55); Asian made no mistake;
    # the unknown-ethnicity row 108, surest of all, belongs to no group.
    # Black: rows 100 (0.95) and 102 (0.8); row 101 (0.7) is beyond k = 2.
    assert table["ethnicity"].astype(str).tolist() == ["White", "White", "Black", "Black"]
    assert table["row"].tolist() == [107, 104, 100, 102]
    assert table["file"].tolist() == ["face7.jpg", "face4.jpg", "face0.jpg", "face2.jpg"]
    assert table["true"].tolist() == ["female", "female", "male", "male"]
    assert table["predicted"].tolist() == ["male", "male", "female", "female"]
    assert table["confidence"].tolist() == pytest.approx([0.98, 0.55, 0.95, 0.8])
    assert len(most_confident_errors(frame, y_true, y_prob, "ethnicity", k=0)) == 0


# --- to_jsonable ----------------------------------------------------------------------------------


def test_to_jsonable_output_goes_through_json():
    table = subgroup_table(GROUP_FRAME, GROUP_TRUE, GROUP_PROB, ["gender", "ethnicity"], n_boot=50)
    value = {
        "count": np.int64(3),
        "rate": np.float32(0.5),
        "missing": np.float64("nan"),
        "infinite": float("inf"),
        "flag": np.bool_(True),
        "array": np.array([[1, 2], [3, 4]]),
        "pair": (1, pd.NA),
        np.int64(7): "numpy key",
        "table": table,
        "series": pd.Series([1.0, np.nan]),
    }
    result = to_jsonable(value)
    decoded = json.loads(json.dumps(result, allow_nan=False))
    assert decoded["count"] == 3 and decoded["rate"] == 0.5 and decoded["flag"] is True
    assert decoded["missing"] is None and decoded["infinite"] is None
    assert decoded["array"] == [[1, 2], [3, 4]]
    assert decoded["pair"] == [1, None]
    assert decoded["7"] == "numpy key"
    assert decoded["series"] == [1.0, None]
    assert decoded["table"][0]["gender"] == "male"
    assert decoded["table"][0]["ethnicity"] == "White"
    assert decoded["table"][0]["recall_female"] is None  # NaN in a male group
    assert decoded["table"][0]["n"] == 2
    fair = to_jsonable(fairness_summary(FAIR_FRAME, FAIR_TRUE, FAIR_PRED.astype(float), "gender"))
    assert json.loads(json.dumps(fair, allow_nan=False))["by_group"][0]["gender"] == "male"
    with pytest.raises(TypeError, match="object"):
        to_jsonable({"odd": object()})


def test_one_class_groups_have_no_precision():
    """Grouped by gender, each group holds one true class: its precision is 0 or 1 by
    construction, so the table says NaN rather than a number that looks like a finding."""
    frame = pd.DataFrame(
        {
            "gender": pd.Categorical(
                ["male", "male", "female", "female"], categories=["male", "female"]
            )
        }
    )
    table = subgroup_table(frame, [0, 0, 1, 1], [0.9, 0.1, 0.8, 0.2], "gender", n_boot=10)
    assert table["precision_female"].isna().all()
    assert table["accuracy"].tolist() == [0.5, 0.5]


# --- evaluate_predictions headline ----------------------------------------------------------------


def test_headline_names_children_over_60s_and_the_weakest_ethnicity():
    # Eight faces: rows 0-2 children (0-2, 3-12), rows 3-4 aged 60+, rows 5-7 adults.
    frame = pd.DataFrame(
        {
            "age_band": pd.Categorical(
                ["0-2", "3-12", "3-12", "60+", "60+", "20-29", "30-39", "40-59"],
                categories=list(config.AGE_BAND_LABELS),
                ordered=True,
            ),
            "ethnicity": pd.Categorical(
                ["White", "Black", "White", "Black", "White", "Black", "White", "Black"],
                categories=list(config.ETHNICITIES),
            ),
            "gender": pd.Categorical(
                [config.GENDERS[g] for g in EIGHT_TRUE], categories=list(config.GENDERS)
            ),
        }
    )
    # Correct rows (see EIGHT_PROB above): 0, 1, 2, 5, 6; wrong: 3, 4, 7.
    headline = evaluate_predictions(frame, EIGHT_TRUE, EIGHT_PROB, n_boot=50)["headline"]
    assert headline["children_0_12_accuracy"] == 1.0 and headline["children_0_12_n"] == 3
    assert headline["age_60_plus_accuracy"] == 0.0 and headline["age_60_plus_n"] == 2
    assert headline["age_60_plus_accuracy_low"] == headline["age_60_plus_accuracy_high"] == 0.0
    # White: rows 0, 2, 4, 6 -> 3 of 4 right; Black: rows 1, 3, 5, 7 -> 2 of 4 right.
    assert headline["worst_ethnicity"] == "Black" and headline["worst_ethnicity_accuracy"] == 0.5


def test_headline_recall_gap_is_men_minus_women_with_an_interval_around_it():
    # EIGHT: women recall 2/3 (rows 5, 6 of 5-7), men recall 3/5 (rows 0-2 of 0-4).
    frame = _frame([config.GENDERS[y] for y in EIGHT_TRUE], ["White"] * 4 + ["Black"] * 4)
    headline = evaluate_predictions(frame, EIGHT_TRUE, EIGHT_PROB, n_boot=200)["headline"]
    assert headline["recall_female"] == pytest.approx(2 / 3)
    assert headline["recall_male"] == pytest.approx(3 / 5)
    assert headline["recall_gap"] == pytest.approx(3 / 5 - 2 / 3)
    for name in ("recall_female", "recall_male", "recall_gap"):
        assert headline[f"{name}_low"] <= headline[name] <= headline[f"{name}_high"]
    assert headline["recall_gap_low"] < headline["recall_gap_high"]


# --- thresholds -----------------------------------------------------------------------------------


def _shifted_scores(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Faces from elsewhere: both genders' scores shifted towards 'male', so at 0.5 half the
    women are missed and almost no man is; the ranking itself is as good as before."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    logits = np.where(labels == 1, 0.0, -2.0) + rng.normal(0.0, 1.0, n)
    return labels, 1 / (1 + np.exp(-logits))


def test_a_balanced_threshold_chosen_on_one_half_helps_on_the_other():
    from facegen.evaluation.thresholds import balanced_threshold, with_threshold

    fit_labels, fit_scores = _shifted_scores(3000, seed=1)
    held_labels, held_scores = _shifted_scores(3000, seed=2)
    at_half = metrics.rates_from_counts(
        *metrics.confusion_counts(held_labels, (held_scores >= 0.5).astype(int))
    )
    chosen = with_threshold(balanced_threshold(fit_labels, fit_scores), held_labels, held_scores)

    def balanced(rates) -> float:
        return (float(rates["recall_female"]) + float(rates["recall_male"])) / 2

    assert balanced(at_half) < 0.76  # about 0.74: women recognised half the time
    assert balanced(chosen) > balanced(at_half) + 0.06  # about 0.83 with the threshold near 0.28
    assert abs(chosen["recall_gap"]) < abs(float(at_half["recall_gap"])) / 3
    assert chosen["recall_gap"] == pytest.approx(chosen["recall_male"] - chosen["recall_female"])


def test_limits_set_a_collections_inputs_beside_the_reference_and_break_accuracy_down():
    from facegen.evaluation.cross_dataset import LIMIT_FACTORS, input_medians, limits

    rng = np.random.default_rng(0)
    n = 200
    faces = rng.integers(0, 256, (n, 8, 8)).astype(np.uint8)
    rows = pd.DataFrame({
        "gender": pd.Categorical(rng.choice(["male", "female"], n), categories=["male", "female"]),
        "p_female": rng.random(n), "framing": np.where(np.arange(n) < 10, "whole image", "aligned"),
        "turn": np.where(np.arange(n) < 10, np.nan, rng.random(n) * 0.4),
        "age_band": pd.Categorical(rng.choice(["0-2", "20-29"], n)),
        "ethnicity": pd.Categorical(rng.choice(["A", "B"], n)),
    })  # fmt: skip
    reference = input_medians(faces[:50], rows["turn"][:50])
    medians, factors = limits(rows, faces, reference, name="mine", n_boot=20)
    assert list(medians.columns) == ["mine", "UTKFace test"]
    assert medians.loc["turned (share)", "mine"] == pytest.approx((rows["turn"] >= 0.25).mean())
    assert medians.loc["brightness", "mine"] == pytest.approx(np.median(faces.mean(axis=(1, 2))))
    assert tuple(factors.index.get_level_values("factor").unique()) == LIMIT_FACTORS
    assert factors.loc[("framing", "whole image"), "n"] == 10
    assert factors.loc[("head_turn", "no landmarks"), "n"] == 10


def test_several_intervals_from_one_set_of_resamples_equal_each_drawn_alone():
    rng = np.random.default_rng(5)
    y_true, y_pred = rng.integers(0, 2, 300), rng.integers(0, 2, 300)
    metrics = ("accuracy", "recall_female", "recall_male", "recall_gap")
    together = bootstrap_intervals(y_true, y_pred, metrics, n_boot=200, seed=3)
    for metric in metrics:
        assert together[metric] == bootstrap_interval(y_true, y_pred, metric, n_boot=200, seed=3)
    with pytest.raises(ValueError, match="unknown metric 'auc'"):
        bootstrap_intervals(y_true, y_pred, ("accuracy", "auc"))
