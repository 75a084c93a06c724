"""Figures: right panels, labels in plain English, annotations that match the data, PNGs that save.

Everything is drawn from a small synthetic frame; no real face is needed. Text artists are read
back from the figures, so a count written on a bar is checked against the count in the data.
"""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import re
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.text import Text
from sklearn.metrics import average_precision_score, roc_auc_score

from facegen import config
from facegen.data.frame import age_band
from facegen.evaluation.calibration import expected_calibration_error, reliability_table
from facegen.evaluation.confident_errors import most_confident_errors
from facegen.evaluation.subgroups import subgroup_table
from facegen.reporting import plots
from facegen.reporting.plots.faces import FACE_CELL

N = 200
UNKNOWN_ETHNICITY = (3, 50, 111)  # rows whose race field is missing


def make_frame(n: int = N, seed: int = 0) -> pd.DataFrame:
    """A UTKFace-like frame: the label columns with the dtypes the data layer gives them."""
    rng = np.random.default_rng(seed)
    ages = rng.integers(1, 91, n)
    race = rng.integers(0, len(config.ETHNICITIES), n)
    race[[row for row in UNKNOWN_ETHNICITY if row < n]] = -1
    return pd.DataFrame(
        {
            "file": [f"{i:04d}.jpg" for i in range(n)],
            "age": pd.array(ages, dtype="Int64"),
            "gender": pd.Categorical.from_codes(
                rng.integers(0, 2, n), categories=list(config.GENDERS)
            ),
            "ethnicity": pd.Categorical.from_codes(race, categories=list(config.ETHNICITIES)),
            "age_band": age_band(ages),
            "split": rng.choice(list(config.SPLIT_NAMES), n, p=config.SPLIT_FRACTIONS),
        }
    )


def make_images(n: int = N, seed: int = 1) -> np.ndarray:
    """Random 48x48 faces whose top-left pixel is the row number, so a shown face is traceable."""
    images = np.random.default_rng(seed).integers(0, 256, (n, 48, 48), dtype=np.uint8)
    images[:, 0, 0] = np.arange(n) % 256
    return images


def make_predictions(frame: pd.DataFrame, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Labels from the frame and probabilities that are right about 80% of the time."""
    rng = np.random.default_rng(seed)
    y_true = frame["gender"].cat.codes.to_numpy().astype(np.int64)
    correct = rng.random(len(frame)) < 0.8
    confidence = rng.uniform(0.5, 1.0, len(frame))
    p_female = np.where(y_true == 1, confidence, 1 - confidence)
    y_prob = np.where(correct, p_female, 1 - p_female)
    return y_true, y_prob


def make_history(epochs: int = 12) -> pd.DataFrame:
    epoch = np.arange(epochs)
    val_accuracy = 0.7 + 0.2 * (1 - np.exp(-epoch / 3)) - 0.003 * np.maximum(epoch - 7, 0)
    return pd.DataFrame(
        {
            "epoch": epoch,
            "loss": 0.7 * np.exp(-epoch / 4) + 0.1,
            "accuracy": 0.6 + 0.35 * (1 - np.exp(-epoch / 3)),
            "val_loss": 0.7 * np.exp(-epoch / 4) + 0.15 + 0.01 * np.maximum(epoch - 7, 0),
            "val_accuracy": val_accuracy,
            "learning_rate": 1e-3,
        }
    )


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_frame()


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return make_images()


@pytest.fixture(scope="module")
def predictions(frame) -> tuple[np.ndarray, np.ndarray]:
    return make_predictions(frame)


def texts(ax) -> list[str]:
    """Every text drawn inside an axes (annotations, bar labels), in drawing order."""
    return [artist.get_text() for artist in ax.texts]


def ticks(ax, axis: str = "x") -> list[str]:
    labels = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    return [label.get_text() for label in labels]


def legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    assert legend is not None, "expected a legend"
    return [text.get_text() for text in legend.get_texts()]


def _overlapping(labels: list[Text], renderer) -> list[tuple[str, str]]:
    """Pairs of flat tick labels whose boxes touch (rotated ones have overlapping boxes anyway)."""
    shown = [
        label
        for label in labels
        if label.get_visible() and label.get_text() and label.get_rotation() in (0, 90)
    ]
    boxes = [label.get_window_extent(renderer) for label in shown]
    return [
        (shown[i].get_text(), shown[j].get_text())
        for i in range(len(boxes))
        for j in range(i + 1, len(boxes))
        if boxes[i].overlaps(boxes[j])
    ]


def saved(fig: Figure, tmp_path: Path, name: str = "figure") -> Path:
    """Save at the report's 110 dpi, check no tick labels collide, and close."""
    assert isinstance(fig, Figure)
    path = tmp_path / f"{name}.png"
    fig.savefig(path, dpi=110)
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        for axis_labels in (ax.get_xticklabels(), ax.get_yticklabels()):
            assert not _overlapping(axis_labels, renderer), f"{name}: tick labels overlap"
    plt.close(fig)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


# --- style and names ------------------------------------------------------------------------------


def test_labels_are_plain_english():
    assert plots.label("age_band") == "Age band"
    assert plots.label("gender") == "Gender"
    assert plots.label("ethnicity") == "Ethnicity"
    assert plots.display_name("female") == "Female"
    assert plots.display_name("val") == "Validation"
    assert plots.display_name(np.nan) == "unknown"
    assert plots.display_name("3-12") == "3-12"


def test_plots_stays_light():
    """Notebooks that only read saved predictions import the plots; TensorFlow takes seconds.
    Imported in a fresh interpreter (this one may have TensorFlow from other tests), whatever
    submodule or dependency would bring it in."""
    script = (
        "import sys, facegen.reporting.plots; "
        "print(sorted({'tensorflow', 'keras', 'tf_keras'} & set(sys.modules)))"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


# --- the data -------------------------------------------------------------------------------------


def test_label_distributions_annotates_the_true_counts(tmp_path):
    frame = make_frame(n=2500)  # big enough for thousands separators
    fig = plots.label_distributions(frame)
    gender_ax, ethnicity_ax, band_ax = fig.axes
    assert [ax.get_title() for ax in fig.axes] == ["Gender", "Ethnicity", "Age band"]
    assert ticks(gender_ax) == ["Male", "Female"]
    assert ticks(ethnicity_ax) == [*config.ETHNICITIES, "unknown"]
    assert ticks(band_ax) == list(config.AGE_BAND_LABELS)
    expected_gender = frame["gender"].value_counts().reindex(list(config.GENDERS))
    assert texts(gender_ax) == [f"{count:,}" for count in expected_gender]
    assert any("," in text for text in texts(gender_ax))
    expected_ethnicity = frame["ethnicity"].value_counts().reindex(list(config.ETHNICITIES))
    assert texts(ethnicity_ax) == [
        *(f"{count:,}" for count in expected_ethnicity),
        str(len(UNKNOWN_ETHNICITY)),
    ]
    expected_bands = frame["age_band"].value_counts().reindex(list(config.AGE_BAND_LABELS))
    assert texts(band_ax) == [f"{count:,}" for count in expected_bands]
    assert [patch.get_height() for patch in band_ax.patches] == expected_bands.tolist()
    saved(fig, tmp_path)


def test_label_distributions_keeps_empty_categories_and_shows_no_unknown_bar_without_nans(
    tmp_path,
):
    frame = make_frame()
    frame = frame[frame["ethnicity"].notna() & (frame["ethnicity"] != "Others")]
    fig = plots.label_distributions(frame)
    ethnicity_ax = fig.axes[1]
    assert ticks(ethnicity_ax) == list(config.ETHNICITIES)
    assert texts(ethnicity_ax)[-1] == "0"
    plt.close(fig)


def test_age_histogram_stacks_gender_and_marks_the_bands(frame, tmp_path):
    fig = plots.age_histogram(frame)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "Age (years)"
    assert ax.get_ylabel() == "Faces"
    assert legend_texts(ax) == ["Male", "Female"]
    assert texts(ax) == list(config.AGE_BAND_LABELS)
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert sorted(line.get_xdata()[0] for line in dashed) == [low for low, _ in config.AGE_BANDS]
    # Every face is in exactly one bar of one layer.
    assert sum(patch.get_height() for patch in ax.patches) == pytest.approx(len(frame))
    widths = {round(patch.get_width(), 9) for patch in ax.patches}
    assert widths == {2.0}  # 58 bins over 0..116: whole ages never straddle a bin edge
    saved(fig, tmp_path)


def test_crosstab_heatmap_counts_in_category_order(frame, tmp_path):
    fig = plots.crosstab_heatmap(frame, "ethnicity", "age_band")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Age band"
    assert ax.get_ylabel() == "Ethnicity"
    assert ticks(ax, "y") == list(config.ETHNICITIES)  # unknown dropped
    observed_bands = [band for band in config.AGE_BAND_LABELS if (frame["age_band"] == band).any()]
    assert ticks(ax) == observed_bands
    expected = pd.crosstab(frame["ethnicity"], frame["age_band"]).reindex(
        index=list(config.ETHNICITIES), columns=observed_bands, fill_value=0
    )
    assert texts(ax) == [f"{count:,}" for count in expected.to_numpy().ravel()]
    saved(fig, tmp_path)


def test_crosstab_heatmap_row_shares_are_percentages_summing_to_one(frame, tmp_path):
    fig = plots.crosstab_heatmap(frame, "gender", "ethnicity", normalize="index")
    ax = fig.axes[0]
    assert ticks(ax, "y") == ["Male", "Female"]
    values = [float(text.rstrip("%")) for text in texts(ax)]
    assert all(text.endswith("%") for text in texts(ax))
    per_row = np.reshape(values, (2, len(config.ETHNICITIES))).sum(axis=1)
    assert per_row == pytest.approx([100, 100], abs=0.3)
    assert "Share" in ax.get_title()
    saved(fig, tmp_path)
    with pytest.raises(ValueError, match="normalize"):
        plots.crosstab_heatmap(frame, "gender", "ethnicity", normalize="all")


def test_face_grid_lays_out_grayscale_and_converts_bgr(images, tmp_path):
    fig = plots.face_grid(images[:10], titles=[f"#{i}" for i in range(10)], ncols=4, title="Faces")
    assert len(fig.axes) == 12  # 3 rows of 4, the last two cells empty
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 10
    assert [ax.get_title() for ax in shown] == [f"#{i}" for i in range(10)]
    assert all(not ax.axison for ax in fig.axes)
    np.testing.assert_array_equal(shown[3].images[0].get_array(), images[3])
    assert fig.get_suptitle() == "Faces"
    saved(fig, tmp_path, "gray")

    bgr = np.zeros((2, 20, 30, 3), dtype=np.uint8)
    bgr[..., 0] = 255  # pure blue in OpenCV's order
    fig = plots.face_grid(bgr)
    rgb = np.asarray(fig.axes[0].images[0].get_array())
    assert rgb[0, 0].tolist() == [0, 0, 255]
    saved(fig, tmp_path, "colour")


def test_subgroup_face_grid_samples_each_group_reproducibly(frame, images, tmp_path):
    fig = plots.subgroup_face_grid(images, frame, "ethnicity", per_group=5, seed=3)
    groups = list(config.ETHNICITIES)
    assert len(fig.axes) == len(groups) * 5
    row_labels = [ax.get_ylabel() for ax in fig.axes[::5]]
    counts = frame["ethnicity"].value_counts()
    assert row_labels == [f"{group}\nn={counts[group]:,}" for group in groups]
    for group, row_start in zip(groups, range(0, len(fig.axes), 5), strict=True):
        for ax in fig.axes[row_start : row_start + 5]:
            face = np.asarray(ax.images[0].get_array())
            assert frame["ethnicity"].iloc[int(face[0, 0])] == group  # the face is from its group
    first = [np.asarray(ax.images[0].get_array())[0, 0] for ax in fig.axes]
    saved(fig, tmp_path)
    again = plots.subgroup_face_grid(images, frame, "ethnicity", per_group=5, seed=3)
    assert [np.asarray(ax.images[0].get_array())[0, 0] for ax in again.axes] == first
    plt.close(again)


def test_subgroup_face_grid_follows_positions_not_index_labels(frame, images, tmp_path):
    shuffled = frame.sample(frac=1.0, random_state=0)  # index labels no longer match positions
    fig = plots.subgroup_face_grid(images, shuffled, "gender", per_group=3)
    assert [ax.get_ylabel().split("\n")[0] for ax in fig.axes[::3]] == ["Male", "Female"]
    for ax, gender in zip(fig.axes, ["male"] * 3 + ["female"] * 3, strict=True):
        position = int(np.asarray(ax.images[0].get_array())[0, 0])
        assert shuffled["gender"].iloc[position] == gender
    saved(fig, tmp_path)


def test_preprocessing_steps_titles_carry_each_images_size(tmp_path):
    rng = np.random.default_rng(0)
    originals = [rng.integers(0, 256, (180, 200, 3), dtype=np.uint8) for _ in range(2)]
    originals[1] = originals[1][:150, :120]
    grays = [image[..., 0] for image in originals]
    finals = [rng.integers(0, 256, (48, 48), dtype=np.uint8) for _ in range(2)]
    fig = plots.preprocessing_steps(originals, grays, finals, titles=["first", "second"])
    assert len(fig.axes) == 6
    assert [ax.get_title() for ax in fig.axes] == [
        "Original (200x180)",
        "Grayscale",
        "Aligned model input (48x48)",
        "Original (120x150)",
        "Grayscale",
        "Aligned model input (48x48)",
    ]
    assert [fig.axes[0].get_ylabel(), fig.axes[3].get_ylabel()] == ["first", "second"]
    saved(fig, tmp_path)
    with pytest.raises(ValueError, match="as many"):
        plots.preprocessing_steps(originals, grays[:1], finals)


def test_split_balance_bars_are_shares_within_each_split(frame, tmp_path):
    fig = plots.split_balance(frame, "age_band")
    (ax,) = fig.axes
    bands = [band for band in config.AGE_BAND_LABELS if (frame["age_band"] == band).any()]
    assert ticks(ax) == bands
    assert ax.get_xlabel() == "Age band"
    sizes = frame["split"].value_counts()
    assert legend_texts(ax) == [
        f"{name} (n={sizes[split]:,})"
        for split, name in zip(config.SPLIT_NAMES, ["Train", "Validation", "Test"], strict=True)
    ]
    heights = np.reshape([patch.get_height() for patch in ax.patches], (3, len(bands)))
    assert heights.sum(axis=1) == pytest.approx([1, 1, 1])
    test_rows = frame[frame["split"] == "test"]
    expected = (test_rows["age_band"].value_counts(normalize=True)).reindex(bands, fill_value=0)
    assert heights[2] == pytest.approx(expected.to_numpy())
    assert ax.yaxis.get_major_formatter()(0.25, 0) == "25%"
    saved(fig, tmp_path)


def test_long_tick_labels_are_rotated_and_short_ones_are_not(frame, tmp_path):
    groups = [f"a rather long group name number {i}" for i in range(8)]
    frame = frame.assign(group=[groups[i % 8] for i in range(len(frame))])
    fig = plots.split_balance(frame, "group")
    (ax,) = fig.axes
    assert ticks(ax) == groups  # not a known label set: sorted as text
    assert {label.get_rotation() for label in ax.get_xticklabels()} == {30}
    assert ax.get_xlabel() == "Group"
    saved(fig, tmp_path, "long")
    fig = plots.split_balance(frame, "ethnicity")
    assert {label.get_rotation() for label in fig.axes[0].get_xticklabels()} == {0}
    plt.close(fig)


def test_split_balance_needs_a_split(frame):
    with pytest.raises(ValueError, match="split"):
        plots.split_balance(frame.drop(columns="split"), "gender")


# --- training -------------------------------------------------------------------------------------


def test_training_curves_mark_the_best_validation_epoch(tmp_path):
    history = make_history()
    best = history.loc[history["val_accuracy"].idxmax()]
    fig = plots.training_curves(history)
    loss_ax, accuracy_ax = fig.axes
    assert [loss_ax.get_title(), accuracy_ax.get_title()] == ["Loss", "Accuracy"]
    assert loss_ax.get_xlabel() == accuracy_ax.get_xlabel() == "Epoch"
    for ax in fig.axes:
        labels = legend_texts(ax)
        assert labels[:2] == ["Training", "Validation"]
        assert f"{best['val_accuracy']:.3f}" in labels[2]
        assert f"epoch {int(best['epoch'])}" in labels[2]
        marker = [line for line in ax.lines if line.get_linestyle() == "--"]
        assert [line.get_xdata()[0] for line in marker] == [best["epoch"]]
    saved(fig, tmp_path)


# --- predictions ----------------------------------------------------------------------------------


def test_confusion_matrix_cells_give_count_and_row_share(tmp_path):
    y_true = np.array([0] * 6 + [1] * 4)
    y_pred = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 0])
    fig = plots.confusion_matrix_plot(y_true, y_pred)
    ax = fig.axes[0]
    assert ticks(ax) == ["Male", "Female"]
    assert ticks(ax, "y") == ["Male", "Female"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Predicted", "True")
    assert texts(ax) == ["5\n(83.3%)", "1\n(16.7%)", "1\n(25.0%)", "3\n(75.0%)"]
    assert "80.0%" in ax.get_title()
    saved(fig, tmp_path)
    # Notebooks pass thresholded probabilities (booleans) and names work too.
    fig = plots.confusion_matrix_plot(y_true, y_pred.astype(bool))
    assert texts(fig.axes[0]) == ["5\n(83.3%)", "1\n(16.7%)", "1\n(25.0%)", "3\n(75.0%)"]
    plt.close(fig)
    names = np.array(config.GENDERS)
    fig = plots.confusion_matrix_plot(names[y_true], names[y_pred])
    assert texts(fig.axes[0])[0] == "5\n(83.3%)"
    plt.close(fig)
    with pytest.raises(ValueError, match="0 \\(male\\) and 1"):
        plots.confusion_matrix_plot(y_true, y_pred + 1)


def test_roc_pr_curves_report_auc_ap_and_prevalence(predictions, tmp_path):
    y_true, y_prob = predictions
    fig = plots.roc_pr_curves(y_true, y_prob)
    roc_ax, pr_ax = fig.axes
    assert roc_ax.get_title() == "ROC curve"
    assert "Precision-recall" in pr_ax.get_title()
    assert f"AUC = {roc_auc_score(y_true, y_prob):.3f}" in legend_texts(roc_ax)[0]
    assert "Chance" in legend_texts(roc_ax)
    pr_legend = legend_texts(pr_ax)
    assert f"AP = {average_precision_score(y_true, y_prob):.3f}" in pr_legend[0]
    assert f"{y_true.mean():.3f}" in pr_legend[1]
    saved(fig, tmp_path)
    with pytest.raises(ValueError, match="both classes"):
        plots.roc_pr_curves(np.zeros(5, int), np.linspace(0, 1, 5))


# --- per subgroup ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ethnicity_table(frame, predictions) -> pd.DataFrame:
    return subgroup_table(frame, *predictions, by="ethnicity", n_boot=200)


def test_subgroup_accuracy_has_intervals_counts_and_overall(ethnicity_table, tmp_path):
    table = ethnicity_table
    fig = plots.subgroup_accuracy(table, "ethnicity", overall=0.8)
    (ax,) = fig.axes
    assert ticks(ax, "y") == list(config.ETHNICITIES)  # table order, top to bottom
    assert ax.get_xlabel() == "Accuracy"
    assert ax.get_ylabel() == "Ethnicity"
    assert any(isinstance(container, ErrorbarContainer) for container in ax.containers)
    drawn = [text for text in texts(ax) if text.startswith("n=")]
    assert drawn == [f"n={n:,}" for n in table["n"]]
    assert any("overall" in text for text in texts(ax))
    assert [line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == "--"] == [0.8]
    low, high = ax.get_xlim()
    assert low <= table["accuracy_low"].min() - 0.04
    assert 1.0 <= high <= 1.05
    saved(fig, tmp_path)


def test_subgroup_accuracy_other_metric_without_interval(ethnicity_table, tmp_path):
    fig = plots.subgroup_accuracy(ethnicity_table, "ethnicity", metric="recall_female")
    (ax,) = fig.axes
    assert ax.get_xlabel() == "Recall (female)"
    assert not any(isinstance(container, ErrorbarContainer) for container in ax.containers)
    saved(fig, tmp_path)


def test_intersection_heatmap_annotates_value_and_n_and_leaves_gaps_blank(
    frame, predictions, tmp_path
):
    table = subgroup_table(frame, *predictions, by=["ethnicity", "age_band"], n_boot=50)
    dropped = table.iloc[0]
    table = table.iloc[1:]
    fig = plots.intersection_heatmap(table, "ethnicity", "age_band")
    ax = fig.axes[0]
    assert ticks(ax, "y") == list(config.ETHNICITIES)
    assert ticks(ax)[0] == dropped["age_band"]  # kept: the band has other ethnicities
    annotated = [text for text in texts(ax) if text]
    assert len(annotated) == len(table)
    assert all(re.fullmatch(r"\d\.\d\d\nn=[\d,]+", text) for text in annotated)
    first = table.iloc[0]
    assert f"{first['accuracy']:.2f}\nn={first['n']:,}" in annotated
    # The same table read back from JSON (plain strings, None for NaN) draws the same cells.
    plain = table.astype(object).where(table.notna(), None)
    again = plots.intersection_heatmap(plain, "ethnicity", "age_band")
    assert [text for text in texts(again.axes[0]) if text] == annotated
    plt.close(again)
    mesh = ax.collections[0]
    cells = len(ticks(ax)) * len(ticks(ax, "y"))
    assert np.ma.count_masked(mesh.get_array()) == cells - len(table)  # gaps blank, not 0
    assert mesh.norm.vmin == pytest.approx(table["accuracy"].min())
    assert mesh.norm.vmax == pytest.approx(table["accuracy"].max())
    saved(fig, tmp_path)


def test_reliability_diagram_titles_the_ece_and_counts_the_bins(predictions, tmp_path):
    y_true, y_prob = predictions
    table = reliability_table(y_true, y_prob)
    ece = expected_calibration_error(y_true, y_prob)
    fig = plots.reliability_diagram(table, ece)
    top, bottom = fig.axes
    assert f"ECE = {ece:.3f}" in top.get_title()
    assert plots.reliability_diagram(table, 0.0341).axes[0].get_title().endswith("ECE = 0.034)")
    assert top.get_ylabel() == "Accuracy"
    assert "Confidence" in bottom.get_xlabel()
    assert texts(bottom) == [f"{n:,}" for n in table["n"]]
    diagonal = [line for line in top.lines if line.get_linestyle() == "--"]
    assert diagonal and list(diagonal[0].get_xdata()) == list(diagonal[0].get_ydata())
    saved(fig, tmp_path)
    plt.close("all")


def test_error_gallery_titles_each_error_and_shows_its_face(frame, images, predictions, tmp_path):
    errors = most_confident_errors(frame, *predictions, by="gender", k=3)
    fig = plots.error_gallery(images, errors, "gender")
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == len(errors)
    assert [ax.get_ylabel() for ax in fig.axes[::3]] == ["Male", "Female"]
    for ax, error in zip(shown, errors.itertuples(), strict=True):
        true, predicted = error.true[0].upper(), error.predicted[0].upper()
        assert ax.get_title() == f"{true}→{predicted} {error.confidence:.2f}"
        np.testing.assert_array_equal(ax.images[0].get_array(), images[error.row])
    assert all(ax.get_title()[0] == "M" for ax in fig.axes[:3])
    saved(fig, tmp_path)


def test_error_gallery_without_errors_says_so(images, tmp_path):
    empty = pd.DataFrame(columns=["gender", "row", "file", "true", "predicted", "confidence"])
    fig = plots.error_gallery(images, empty, "gender")
    assert any(text == "No errors" for ax in fig.axes for text in texts(ax))
    saved(fig, tmp_path)


def test_face_rows_grow_with_the_number_of_groups(frame, images):
    # A row per group must keep its size as groups are added, not shrink to fit a fixed figure.
    small = plots.subgroup_face_grid(images, frame, "gender", per_group=2)
    large = plots.subgroup_face_grid(images, frame, "age_band", per_group=2)
    ratio = large.get_figheight() / small.get_figheight()
    assert ratio > 2.5  # 7 rows against 2, plus the same title band
    face = large.axes[0].get_position()
    assert face.width * large.get_figwidth() == pytest.approx(FACE_CELL)
    assert face.height * large.get_figheight() == pytest.approx(FACE_CELL)
    plt.close(small)
    plt.close(large)
