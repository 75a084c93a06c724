"""The label audit: it finds labels flipped on purpose, flags few where none were, and reports
its rates with the evaluation's own intervals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict

from facegen.evaluation.jsonable import to_jsonable
from facegen.evaluation.label_audit import (
    AUDIT_COLUMNS,
    accuracy_without_doubted,
    audit_labels,
    audit_rates,
    audit_splits,
    doubted_share_interval,
)
from facegen.evaluation.subgroups import subgroup_table

N = 2000


def _faces(seed: int, separation: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Two classes of 5-d points, apart along one axis by ``separation`` standard deviations on
    each side (2.0: a model errs on about 2% of them), and their true labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, N)
    points = rng.normal(size=(N, 5))
    points[:, 0] += separation * (2 * labels - 1)
    return points, labels


def _out_of_fold(points: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """P(label 1) for each point from a model that never saw it (5 folds), as the audit needs."""
    model = LogisticRegression()
    return cross_val_predict(model, points, labels, cv=5, method="predict_proba")[:, 1]


def _flipped(labels: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``labels`` with ``share`` of them flipped on purpose, and which ones."""
    rng = np.random.default_rng(seed + 1000)
    flipped = np.zeros(labels.size, dtype=bool)
    flipped[rng.choice(labels.size, round(share * labels.size), replace=False)] = True
    return np.where(flipped, 1 - labels, labels), flipped


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_it_finds_most_labels_flipped_on_purpose_with_few_false_flags(seed):
    points, labels = _faces(seed)
    given, flipped = _flipped(labels, 0.05, seed)
    audit = audit_labels(given, _out_of_fold(points, given))
    doubted = audit["doubted"].to_numpy()
    assert (doubted & flipped).sum() >= 0.85 * flipped.sum()  # found: 92 or 93 of 100
    assert (doubted & ~flipped).sum() <= 0.2 * doubted.sum()  # false flags: 12 to 14 of ~106
    # The estimated label-error rate is near the 5% flipped.
    assert 0.04 <= doubted.mean() <= 0.07


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_it_flags_few_faces_where_no_label_was_flipped(seed):
    points, labels = _faces(seed)
    audit = audit_labels(labels, _out_of_fold(points, labels))
    assert audit["doubted"].mean() <= 0.01  # 3 to 10 of 2,000


def test_it_cannot_tell_an_ambiguous_face_from_a_wrong_label():
    """Where the classes overlap (a model errs on 15% of clean points), confident learning flags
    several percent of labels that are right: its estimate is an upper bound on label noise where
    the model is weak, which is why the pages set it beside the error rate, never alone."""
    points, labels = _faces(0, separation=1.0)
    audit = audit_labels(labels, _out_of_fold(points, labels))
    assert audit["doubted"].mean() > 0.03


def test_one_row_per_face_in_order_with_the_documented_columns():
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1] * 5)
    probability = np.where(labels == 1, 0.9, 0.1)
    probability[[3, 8, 13]] = [0.02, 0.97, 0.01]  # three labels the model disputes, in order
    audit = audit_labels(labels, probability)
    assert list(audit.columns) == list(AUDIT_COLUMNS) and len(audit) == len(labels)
    assert audit["given_label"].tolist() == labels.tolist()
    assert np.allclose(audit["probability"], probability)
    expected_quality = np.where(labels == 1, probability, 1 - probability)
    assert np.allclose(audit["label_quality"], expected_quality)
    assert audit["doubted"].dtype == bool
    assert np.flatnonzero(audit["doubted"]).tolist() == [3, 8, 13]
    # Ranked by label quality among the doubted: 13 (0.01) before 3 (0.02) before 8 (0.03).
    assert audit["doubt_rank"].dtype == "Int64"
    assert audit.loc[[13, 3, 8], "doubt_rank"].tolist() == [1, 2, 3]
    assert audit.loc[~audit["doubted"], "doubt_rank"].isna().all()


def test_one_class_only_flags_nothing_and_bad_inputs_are_refused():
    audit = audit_labels(np.zeros(20, int), np.linspace(0, 1, 20))
    assert not audit["doubted"].any() and audit["doubt_rank"].isna().all()
    assert audit_labels(np.zeros(0, int), np.zeros(0)).empty
    with pytest.raises(ValueError, match="only 0"):
        audit_labels(np.array([0, 2]), np.array([0.1, 0.9]))
    with pytest.raises(ValueError, match="lengths differ"):
        audit_labels(np.array([0, 1]), np.array([0.1]))
    with pytest.raises(ValueError, match="probabilities"):
        audit_labels(np.array([0, 1]), np.array([0.1, 1.5]))


def _audited_groups(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """The flipped fixture with a group column: flips only in group 'b', none in 'a'."""
    points, labels = _faces(seed)
    group = np.where(np.arange(N) % 2 == 0, "a", "b")
    rng = np.random.default_rng(seed)
    flipped = (group == "b") & (rng.random(N) < 0.1)
    given = np.where(flipped, 1 - labels, labels)
    frame = pd.DataFrame({"group": pd.Categorical(group), "file": [f"{i}.jpg" for i in range(N)]})
    return frame, audit_labels(given, _out_of_fold(points, given)), flipped


def test_rates_per_group_put_the_label_errors_where_they_were_made():
    frame, audit, _ = _audited_groups()
    rates = audit_rates(frame, audit, "group", n_boot=200, seed=0).set_index("group")
    assert rates.loc["b", "label_error_rate_low"] > rates.loc["a", "label_error_rate_high"]
    assert rates.loc["a", "label_error_rate"] < 0.02 and rates.loc["b", "label_error_rate"] > 0.07
    for _, row in rates.iterrows():
        assert (
            row["label_error_rate_low"] <= row["label_error_rate"] <= row["label_error_rate_high"]
        )
        assert row["error_rate_low"] <= row["error_rate"] <= row["error_rate_high"]
    # The error rate is the evaluation's own, interval included.
    table = subgroup_table(frame, audit["given_label"], audit["probability"], "group", n_boot=200)
    assert np.allclose(rates["error_rate"], table["error_rate"])
    assert np.allclose(rates["error_rate_high"], 1 - table["accuracy_low"])
    assert rates["n_doubted"].sum() == audit["doubted"].sum()


def test_the_share_interval_is_the_bootstrap_of_the_flags():
    flags = np.array([True] * 10 + [False] * 90)
    share, low, high = doubted_share_interval(flags, n_boot=500, seed=0)
    assert share == 0.1 and 0.03 < low < 0.1 < high < 0.17
    assert np.isnan(doubted_share_interval(np.zeros(0, bool))[0])


def test_accuracy_without_doubted_sets_aside_exactly_the_doubted_faces():
    _, audit, _ = _audited_groups()
    figure = accuracy_without_doubted(audit, n_boot=200)
    predictions = audit["probability"] >= 0.5
    kept = ~audit["doubted"]
    assert figure["n_set_aside"] == audit["doubted"].sum()
    assert figure["accuracy"] == pytest.approx((predictions == audit["given_label"]).mean())
    expected = (predictions[kept] == audit["given_label"][kept]).mean()
    assert figure["accuracy_without_doubted"] == pytest.approx(expected)
    assert figure["accuracy_without_doubted"] > figure["accuracy"]
    low, high = figure["accuracy_without_doubted_low"], figure["accuracy_without_doubted_high"]
    assert low <= figure["accuracy_without_doubted"] <= high


def _two_splits(seed: int):
    """The flipped fixture as a run's validation and test halves, with subgroup columns."""
    points, labels = _faces(seed)
    given, flipped = _flipped(labels, 0.05, seed)
    probability = _out_of_fold(points, given)
    frame = pd.DataFrame(
        {
            "file": [f"{i}.jpg" for i in range(N)],
            "age": np.arange(N) % 90,
            "age_band": pd.Categorical(np.where(np.arange(N) % 3 == 0, "0-2", "20-29")),
            "ethnicity": pd.Categorical(np.where(np.arange(N) % 5 == 0, "Asian", "White")),
            "gender": pd.Categorical.from_codes(given, ["male", "female"]),
        }
    )
    half = N // 2
    parts = {
        "val": (frame.iloc[:half], given[:half], probability[:half]),
        "test": (frame.iloc[half:], given[half:], probability[half:]),
    }
    return parts, given, flipped, probability


def test_audit_splits_audits_the_splits_as_one_and_summarises_them():
    parts, given, flipped, probability = _two_splits(3)
    half = N // 2
    result = audit_splits(parts, n_boot=100, seed=0)
    alone = audit_labels(given, probability)
    assert result.faces["doubted"].tolist() == alone["doubted"].tolist()  # audited as one set
    assert result.faces["split"].tolist() == ["val"] * half + ["test"] * half
    assert (result.faces["doubted"] & flipped).sum() >= 0.85 * flipped.sum()
    summary = result.summary
    assert summary["splits"] == {"val": half, "test": half} and summary["n"] == N
    assert summary["n_doubted"] == alone["doubted"].sum()
    assert summary["label_error_rate_low"] <= summary["label_error_rate"]
    assert summary["label_error_rate"] <= summary["label_error_rate_high"]
    assert set(summary["by"]) == {"age_band", "ethnicity", "gender"}
    assert result.rates is summary["by"]  # one set of tables, not a copy that could drift
    assert summary["n_doubted_among_model_errors"] <= summary["n_model_errors"]
    # The model's error rate on the audited faces is stored, not left to each page to divide.
    assert summary["error_rate"] == pytest.approx(summary["n_model_errors"] / N)
    assert summary["error_rate_low"] <= summary["error_rate"] <= summary["error_rate_high"]
    sensitivity = summary["sensitivity"]
    assert sensitivity["split"] == "test" and sensitivity["n"] == half
    assert sensitivity["n_set_aside"] == alone["doubted"][half:].sum()
    json.dumps(to_jsonable(summary), allow_nan=False)  # goes into metrics.json as it is

    table = result.table()
    assert table["label_quality"].is_monotonic_increasing
    assert set(table["given_label"]) == {"male", "female"}
    assert {"file", "split", "probability", "doubted", "doubt_rank", "age_band"} <= set(table)
    worst = result.most_doubted(5)
    assert worst["doubt_rank"].tolist() == [1, 2, 3, 4, 5]
    assert (result.faces.loc[worst["row"], "file"].to_numpy() == worst["file"].to_numpy()).all()


# What the pages and the model card make of an audit.


@pytest.fixture(scope="module")
def audited():
    """An audit of two splits of the flipped fixture, with a face per row to show."""
    parts, *_ = _two_splits(4)
    images = (np.arange(N, dtype=np.int64) % 251).astype(np.uint8)[:, None, None] * np.ones(
        (1, 8, 8), np.uint8
    )  # face r is filled with r % 251, so a shown face says which row it is
    return audit_splits(parts, n_boot=100, seed=0), images


def test_the_doubted_faces_grid_shows_each_face_with_its_rank_label_and_score(audited):
    from facegen.reporting import plots

    audit, images = audited
    worst = audit.most_doubted(10)
    fig = plots.doubted_faces(images, worst, ncols=5)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 10
    for ax, row in zip(shown, worst.itertuples(), strict=True):
        letter = "F" if row.given_label == 1 else "M"
        assert ax.get_title() == f"#{row.doubt_rank} given {letter} · {row.probability:.2f}"
        assert int(np.asarray(ax.images[0].get_array())[0, 0]) == row.row % 251
    empty = plots.doubted_faces(images, worst.iloc[:0])
    assert "No label doubted" in " ".join(t.get_text() for t in empty.findobj(Text))


def test_the_tables_put_each_rate_beside_its_interval_and_name_the_sensitivity_figure(audited):
    from facegen.reporting.tables import audit_rates_table, label_noise_table, sensitivity_table

    audit, _ = audited
    table = audit_rates_table(audit.rates["age_band"], "age_band")
    assert list(table.columns) == [
        "Faces",
        "Model's error rate [95% interval]",
        "Estimated label-error rate [95% interval]",
        "Labels doubted",
    ]
    row = audit.rates["age_band"].iloc[0]
    assert table.iloc[0, 2] == (
        f"{row['label_error_rate']:.3f} [{row['label_error_rate_low']:.3f}, "
        f"{row['label_error_rate_high']:.3f}]"
    )
    sensitivity = sensitivity_table(audit.summary)
    assert sensitivity.index[0] == "Accuracy on the test split (the headline)"
    assert sensitivity.index[1].startswith("Sensitivity only: accuracy with the")
    summary = json.loads(json.dumps(to_jsonable(audit.summary)))  # as 05 reads metrics.json
    noise = label_noise_table({"UTKFace": summary, "other": audit.summary, "none": {}})
    assert list(noise.index) == ["UTKFace", "other"]
    assert noise.loc["UTKFace"].tolist() == noise.loc["other"].tolist()
    # Both accuracies carry their interval, and the headings say which do.
    figure = audit.summary["sensitivity"]
    assert noise.loc["other", "Accuracy, test [95% interval]"] == (
        f"{figure['accuracy']:.3f} [{figure['accuracy_low']:.3f}, {figure['accuracy_high']:.3f}]"
    )
    assert "Sensitivity only: accuracy, doubted set aside [95% interval]" in noise.columns
    assert "Model's error rate, same faces" in noise.columns


def test_the_pages_and_the_card_say_what_the_audit_found(audited, tmp_path):
    from facegen.reporting.findings import (
        cross_dataset_summary,
        evaluation_conclusions,
        evaluation_summary,
        label_audit_conclusions,
    )
    from facegen.reporting.model_card import render_model_card

    audit, _ = audited
    summary = audit.summary
    head = {"test_accuracy": 0.9, "n_test": 1000, "f1_macro": 0.9}
    table = audit.rates["age_band"]
    metrics = {
        "headline": head,
        "subgroups": {
            "age_band": table.assign(accuracy=0.9, accuracy_low=0.8, accuracy_high=0.95),
            "ethnicity": audit.rates["ethnicity"].assign(
                accuracy=0.9, accuracy_low=0.8, accuracy_high=0.95
            ),
        },
        "label_audit": summary,
    }
    found = evaluation_summary(metrics)
    doubted = f"{summary['n_doubted']:,} of {summary['n']:,} validation and test labels doubted"
    assert doubted in found and "Sensitivity only, not a result" in found
    # The model's error rate on the same faces stands beside the label-error rate, and the
    # doubted are counted among its errors without the tautology "N of them are among".
    error_rate = summary["n_model_errors"] / summary["n"]
    assert f"beside the model's error rate of {100 * error_rate:.1f}% on the same faces" in found
    among = summary["n_doubted_among_model_errors"]
    assert (
        f"it doubts the labels of {among:,} of those {summary['n_model_errors']:,} errors" in found
    )
    assert "of them are among" not in found
    assert "Test accuracy 90.0%" in found  # the headline stays the plain accuracy
    conclusions = evaluation_conclusions(metrics)
    assert "Where the model is weak the estimate is likely too high" in conclusions
    # The group it names is the one with the highest rate among groups of 30 faces or more.
    rates = pd.concat([audit.rates["age_band"], audit.rates["ethnicity"]], ignore_index=True)
    top = rates.loc[rates["label_error_rate"].idxmax()]
    assert f"({100 * top['label_error_rate']:.1f}% of {int(top['n']):,} faces" in conclusions
    assert "doubts most in" in label_audit_conclusions(summary, "other")
    assert label_audit_conclusions(None) == ""
    other = {f"external_{key}": 0.8 for key in ("accuracy", "accuracy_low", "accuracy_high",
             "recall_female", "recall_male", "recall_gap", "recall_gap_low", "recall_gap_high",
             "aligned_share")}  # fmt: skip
    other["external_n"] = 500
    page = cross_dataset_summary(head, {"other": other}, {"other": summary})
    assert f"{summary['n_doubted']:,} of other's {summary['n']:,} validation and test" in page
    assert "other's" not in cross_dataset_summary(head, {"other": other})
    del metrics["label_audit"]
    assert "Label audit" not in evaluation_summary(metrics)

    metrics["label_audit"] = summary
    (tmp_path / "metrics.json").write_text(json.dumps(to_jsonable(metrics)))
    markdown, _ = render_model_card(tmp_path)
    section = markdown.split("## Label audit")[1].split("## Limits")[0]
    assert f"doubts {summary['n_doubted']:,} of {summary['n']:,} labels" in section
    assert "Sensitivity only, not a result" in section and "stays the plain one" in section
    assert "| Age band | n | Model's error rate [95% interval] |" in section
    # Each table under its own heading, so the HTML card does not run them together.
    assert "### Estimated label-error rate by age band" in section
    assert "### Estimated label-error rate by ethnicity" in section
    assert f"It doubts the labels of {among:,} of the model's" in section
    assert f"an error rate of {100 * error_rate:.1f}% on the same faces" in section
    assert "of the doubted faces are among" not in section
    assert (
        f"doubts {summary['n_doubted']:,} of the {summary['n']:,} validation and test" in markdown
    )
    (tmp_path / "metrics.json").write_text(json.dumps({"headline": head}))
    markdown, _ = render_model_card(tmp_path)
    assert "This run did not audit its labels" in markdown


def test_audited_splits_read_as_a_reader_names_them():
    from facegen.reporting.templates import splits_in_words

    assert splits_in_words(["val", "test"]) == "validation and test"
    assert splits_in_words({"val": 10, "test": 12}) == "validation and test"
    assert splits_in_words(["test"]) == "test"
    assert splits_in_words([]) == ""
