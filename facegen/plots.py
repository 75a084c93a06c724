"""Every figure of the notebooks and reports: one function per figure, one look for all.

Each function returns a ``matplotlib.figure.Figure`` and never shows or closes it, so a notebook
can display it and a script can save it with the same call. Figures are sized to stay readable
when saved at 110 dpi: labels in plain English rather than column names, counts written on the
bars where a reader would otherwise have to guess them from an axis, tick labels rotated only
when they would collide. No backend is chosen here; tests and scripts set ``MPLBACKEND=Agg``.

The module draws only (matplotlib, seaborn, scikit-learn's curve helpers) and never imports
TensorFlow, so plotting saved predictions stays fast.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Hashable, Sequence
from itertools import pairwise
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

from facegen import config

LABELS = {
    "gender": "Gender",
    "ethnicity": "Ethnicity",
    "age_band": "Age band",
    "age": "Age",
    "split": "Split",
}
"""Column name -> the words a reader sees on an axis or in a title."""

METRIC_LABELS = {
    "accuracy": "Accuracy",
    "error_rate": "Error rate",
    "recall_male": "Recall (male)",
    "recall_female": "Recall (female)",
    "precision_female": "Precision (female)",
    "f1_macro": "Macro F1",
    "share": "Share of faces",
}

SPLIT_LABELS = {"train": "Train", "val": "Validation", "test": "Test"}
UNKNOWN = "unknown"

PALETTE_NAME = "colorblind"
PALETTE = sns.color_palette(PALETTE_NAME)
GENDER_COLOURS = {"male": PALETTE[0], "female": PALETTE[1]}
NEUTRAL = "0.35"  # reference lines (chance, overall, best epoch): visible, never the main story

FACE_CELL = 1.3  # inches per face: 48 px shown at ~140 px when saved at 110 dpi
_FACE_GAP = 0.08  # inches between neighbouring faces
_TITLE_LINE = 0.16  # inches per line of 8 pt title above a face
_KNOWN_ORDERS = (config.GENDERS, config.ETHNICITIES, config.AGE_BAND_LABELS, config.SPLIT_NAMES)


# --- look and labels ------------------------------------------------------------------------------


def set_style() -> None:
    """Apply the project's look; every figure function calls it so figures never drift apart.

    Called per figure rather than once at import so that importing the module changes nothing
    and a notebook that tweaked rcParams in between still gets the same figures as the report.
    """
    sns.set_theme(style="whitegrid", context="notebook", palette=PALETTE_NAME)


def label(column: str) -> str:
    """'age_band' -> 'Age band'; unknown columns get a readable version of their name."""
    return LABELS.get(column, column.replace("_", " ").capitalize())


def _metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric.replace("_", " ").capitalize())


def display_name(value: Any) -> str:
    """How a category reads on a figure: 'male' -> 'Male', 'val' -> 'Validation', NaN -> unknown."""
    if value is None or (np.ndim(value) == 0 and pd.isna(value)):
        return UNKNOWN
    if isinstance(value, str):
        if value in config.GENDERS:
            return value.capitalize()
        return SPLIT_LABELS.get(value, value)
    return str(value)


def _order(values: pd.Series, observed: bool = True) -> list[Hashable]:
    """Categories in their defined order (category dtype, else the project's known label orders).

    Sorting alphabetically would put 'Asian' before 'White' and '13-19' before '3-12'; the order
    of config is the one every table and figure of the project uses.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = list(values.cat.categories)
    else:
        present = set(values.dropna().unique())
        known = next((order for order in _KNOWN_ORDERS if present <= set(order)), None)
        categories = list(known) if known and present else sorted(present, key=str)
    if observed:
        seen = set(values.dropna().unique())
        categories = [category for category in categories if category in seen]
    return categories


def _fit_ticklabels(fig: Figure) -> None:
    """Rotate an axes' x tick labels only when, laid flat, two neighbours would nearly touch.

    The layout is run first (once for the whole figure) so the test uses each axes' final width,
    not matplotlib's default margins, which are narrower and would rotate labels that fit.
    Lengths are in points; "nearly touch" is closer than half an em.
    """
    try:
        renderer = fig.canvas.get_renderer()
    except AttributeError:  # a backend without a renderer: estimate from character counts
        renderer = None
    engine = fig.get_layout_engine()
    if renderer is not None and engine is not None:
        engine.execute(fig)
    for ax in fig.axes:
        labels = [tick for tick in ax.get_xticklabels() if tick.get_text()]
        if len(labels) < 2:
            continue
        em = labels[0].get_fontsize()
        if renderer is None:
            widths = [len(tick.get_text()) * em * 0.6 for tick in labels]
            axes_width = fig.get_figwidth() * ax.get_position().width * 72
        else:
            to_points = 72 / fig.dpi
            widths = [tick.get_window_extent(renderer).width * to_points for tick in labels]
            axes_width = ax.get_window_extent(renderer).width * to_points
        closest = max((left + right) / 2 for left, right in pairwise(widths))
        if closest + em / 2 > axes_width / len(labels):
            plt.setp(labels, rotation=30, ha="right", rotation_mode="anchor")


def _blank(ax: Axes) -> None:
    """An axes that shows only its image and its labels: no ticks, spines or grid."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _show_face(ax: Axes, image: np.ndarray, interpolation: str | None = None) -> None:
    """Grayscale as gray on a fixed 0-255 scale (so contrast is not stretched); BGR as RGB."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    floating = image.dtype.kind == "f"
    top = 1.0 if floating and np.nanmax(image, initial=0) <= 1 else 255.0
    if image.ndim == 3:
        rgb = image[..., 2::-1]  # OpenCV's BGR -> matplotlib's RGB
        if floating:
            rgb = np.clip(rgb / top, 0, 1)
        ax.imshow(rgb, interpolation=interpolation)
    else:
        ax.imshow(image, cmap="gray", vmin=0, vmax=top, interpolation=interpolation)
    _blank(ax)


def _face_axes(
    nrows: int,
    ncols: int,
    cell: float = FACE_CELL,
    title_lines: int = 0,
    label_width: float = 0.0,
    suptitle: bool = False,
) -> tuple[Figure, np.ndarray]:
    """A figure of (nrows, ncols) square face cells of ``cell`` inches, laid out by hand.

    Sizes are all known here, so a fixed layout is exact, and it is many times faster than the
    constrained layout over dozens of image axes. ``title_lines`` of 8 pt text fit above each
    face, ``label_width`` inches of row label to the left of each row.
    """
    title_space = _TITLE_LINE * title_lines + (0.04 if title_lines else 0.0)
    margin = 0.05
    top = (0.45 if suptitle else margin) + title_space
    left = margin + label_width
    width = left + ncols * cell + (ncols - 1) * _FACE_GAP + margin
    height = top + nrows * cell + (nrows - 1) * (_FACE_GAP + title_space) + margin
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(width, height),
        squeeze=False,
        gridspec_kw={
            "left": left / width,
            "right": 1 - margin / width,
            "top": 1 - top / height,
            "bottom": margin / height,
            "wspace": _FACE_GAP / cell,
            "hspace": (_FACE_GAP + title_space) / cell,
        },
    )
    return fig, axes


def _text_width(lines: Sequence[str], fontsize: float) -> float:
    """Rough width in inches of the longest line (~0.6 em a character), to reserve room."""
    longest = max((len(line) for text in lines for line in str(text).split("\n")), default=0)
    return longest * fontsize * 0.6 / 72


def _face_rows(
    rows: Sequence[tuple[str, Sequence[np.ndarray], Sequence[str] | None]],
    ncols: int,
    title: str,
    cell: float = FACE_CELL,
) -> Figure:
    """A grid with one labelled row of faces per group; shorter rows leave blank cells."""
    ncols = max(1, ncols)
    has_titles = any(titles for _, _, titles in rows)
    label_width = _text_width([name for name, _, _ in rows], 10) + 0.15
    fig, axes = _face_axes(
        len(rows), ncols, cell, int(has_titles), label_width=label_width, suptitle=True
    )
    for (name, faces, titles), row_axes in zip(rows, axes, strict=True):
        for position, ax in enumerate(row_axes):
            if position < len(faces):
                _show_face(ax, faces[position])
                if titles:
                    ax.set_title(titles[position], fontsize=8, pad=2)
            else:
                ax.set_axis_off()
        row_axes[0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=10)
    _face_suptitle(fig, title)
    return fig


def _face_suptitle(fig: Figure, title: str) -> None:
    """The title in the band _face_axes reserved for it, whatever the figure's height."""
    fig.suptitle(title, y=1 - 0.06 / fig.get_figheight(), va="top")


def _no_data(text: str, title: str | None = None) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 2), layout="constrained")
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=14, transform=ax.transAxes)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


# --- the data -------------------------------------------------------------------------------------


def _counts(values: pd.Series) -> pd.Series:
    """Counts per category in category order, unknowns last (only when there are any)."""
    counts = values.value_counts(dropna=True).reindex(_order(values, observed=False), fill_value=0)
    counts.index = [display_name(value) for value in counts.index]
    missing = int(values.isna().sum())
    if missing:
        counts[UNKNOWN] = missing
    return counts.astype(np.int64)


def label_distributions(frame: pd.DataFrame) -> Figure:
    """Counts of gender, ethnicity and age band side by side, each bar labelled with its count.

    Categories with no face are kept (a zero bar is a finding); unknowns get their own bar so
    the three panels add up to the same number of faces.
    """
    set_style()
    columns = ("gender", "ethnicity", "age_band")
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), width_ratios=(2, 5, 7), layout="constrained")
    for ax, column in zip(axes, columns, strict=True):
        counts = _counts(frame[column])
        colours = [
            GENDER_COLOURS.get(name.lower(), PALETTE[0]) if name != UNKNOWN else "0.7"
            for name in counts.index
        ]
        bars = ax.bar(counts.index, counts.to_numpy(), color=colours, width=0.7)
        ax.bar_label(bars, labels=[f"{count:,}" for count in counts], padding=2, fontsize=9)
        ax.set_ylim(0, max(1, counts.max()) * 1.15)  # room for the count above the tallest bar
        ax.yaxis.set_major_formatter("{x:,.0f}")
        ax.set_title(label(column))
        ax.set_xlabel("")
        ax.grid(axis="x", visible=False)
    axes[0].set_ylabel("Faces")
    fig.suptitle(f"Faces per label ({len(frame):,} in all)")
    _fit_ticklabels(fig)  # last: it needs the final titles and labels
    return fig


def age_histogram(frame: pd.DataFrame, bins: int = 58) -> Figure:
    """Ages by gender, stacked, with the age-band edges drawn so band sizes can be read off.

    The range is fixed at 0..MAX_AGE so the default 58 bins are exactly two years wide: ages
    are whole numbers, and uneven bins would draw a comb of alternating bar heights.
    """
    set_style()
    known = frame[["age", "gender"]].dropna()
    data = pd.DataFrame(
        {
            "Age": known["age"].astype("float64").to_numpy(),
            "Gender": [display_name(value) for value in known["gender"]],
        }
    )
    upper = max(float(config.MAX_AGE), float(data["Age"].max()) if len(data) else 0.0)
    fig, ax = plt.subplots(figsize=(11, 4.8), layout="constrained")
    sns.histplot(
        data=data,
        x="Age",
        hue="Gender",
        hue_order=[display_name(gender) for gender in config.GENDERS],
        palette=[GENDER_COLOURS[gender] for gender in config.GENDERS],
        multiple="stack",
        bins=bins,
        binrange=(0, upper),
        edgecolor="white",
        linewidth=0.3,
        ax=ax,
    )
    top = ax.get_ylim()[1]
    ax.set_ylim(0, top * 1.2)  # headroom for the band names
    for lower, name in config.AGE_BANDS:
        ax.axvline(lower, color=NEUTRAL, linestyle="--", linewidth=0.9)
        ax.text(
            lower + 0.8,
            0.98,
            name,
            transform=ax.get_xaxis_transform(),
            rotation=90,
            ha="left",
            va="top",
            fontsize=9,
            color=NEUTRAL,
        )
    ax.set_xlim(0, upper)
    ax.grid(axis="x", visible=False)  # vertical lines are the band edges, nothing else
    ax.yaxis.set_major_formatter("{x:,.0f}")
    ax.set_xlabel("Age (years)")
    ax.set_ylabel("Faces")
    ax.set_title(f"Age by gender ({len(data):,} faces; dashed lines start the age bands)")
    return fig


def crosstab_heatmap(
    frame: pd.DataFrame, row: str, col: str, normalize: str | None = None
) -> Figure:
    """Counts of every ``row`` x ``col`` combination, or each row's shares with normalize="index".

    Row shares answer "within this gender, how are ethnicities spread?", which raw counts hide
    when the rows differ in size. Rows with either value unknown are left out.
    """
    if normalize not in (None, "index"):
        raise ValueError(f"normalize must be None or 'index', got {normalize!r}")
    set_style()
    known = frame[[row, col]].dropna()
    row_order, col_order = _order(known[row]), _order(known[col])
    counts = (
        pd.crosstab(known[row].astype(object), known[col].astype(object))
        .reindex(index=row_order, columns=col_order, fill_value=0)
        .astype(np.int64)
    )
    counts.index = [display_name(value) for value in counts.index]
    counts.columns = [display_name(value) for value in counts.columns]
    shares = normalize == "index"
    data = counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0) if shares else counts
    fig, ax = plt.subplots(
        figsize=(1.0 * len(col_order) + 3.0, 0.6 * len(row_order) + 1.8), layout="constrained"
    )
    sns.heatmap(
        data,
        annot=True,
        fmt=".1%" if shares else ",d",
        cmap="Blues",
        vmin=0,
        linewidths=0.5,
        linecolor="white",
        annot_kws={"fontsize": 9},
        cbar_kws={
            "label": "Share of the row" if shares else "Faces",
            "format": PercentFormatter(1.0, decimals=0) if shares else "{x:,.0f}",
        },
        ax=ax,
    )
    ax.set_xlabel(label(col))
    ax.set_ylabel(label(row))
    ax.tick_params(axis="y", rotation=0)
    what = f"Share of each {label(col).lower()} within each {label(row).lower()}"
    ax.set_title(what if shares else f"Faces by {label(row).lower()} and {label(col).lower()}")
    _fit_ticklabels(fig)  # last: it needs the final titles and labels
    return fig


def face_grid(
    images: np.ndarray,
    titles: list[str] | None = None,
    ncols: int = 8,
    title: str | None = None,
    cell: float = FACE_CELL,
) -> Figure:
    """Faces in a grid: grayscale (N, H, W) as stored, or BGR colour (N, H, W, 3) as seen."""
    set_style()
    images = np.asarray(images)
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"{len(titles)} titles for {len(images)} images")
    if len(images) == 0:
        return _no_data("No images", title)
    ncols = max(1, min(ncols, len(images)))
    nrows = math.ceil(len(images) / ncols)
    if titles:
        # Wrap rather than let a long title run into its neighbour's (8 pt, ~0.6 em a character).
        width = max(4, int(cell * 72 / (8 * 0.6)) - 1)
        titles = [textwrap.fill(str(text), width, max_lines=2, placeholder="…") for text in titles]
    lines = max((text.count("\n") + 1 for text in titles), default=0) if titles else 0
    fig, axes = _face_axes(nrows, ncols, cell, lines, suptitle=bool(title))
    for position, ax in enumerate(axes.flat):
        if position >= len(images):
            ax.set_axis_off()
            continue
        _show_face(ax, images[position])
        ax.set_axis_off()
        if titles:
            ax.set_title(titles[position], fontsize=8, pad=2)
    if title:
        _face_suptitle(fig, title)
    return fig


def subgroup_face_grid(
    images: np.ndarray, frame: pd.DataFrame, by: str, per_group: int = 6, seed: int = 0
) -> Figure:
    """A random handful of faces per group of ``by``, one row each, to see what a label means.

    ``images[i]`` is the face of ``frame.iloc[i]``. Faces are drawn without replacement with
    ``np.random.default_rng(seed)``, group after group, so the same seed shows the same faces.
    """
    set_style()
    if len(images) != len(frame):
        raise ValueError(f"{len(images)} images for {len(frame)} rows")
    if per_group < 1:
        raise ValueError(f"per_group must be at least 1, got {per_group}")
    rng = np.random.default_rng(seed)
    values = frame[by].reset_index(drop=True)
    rows = []
    for group in _order(values):
        members = np.flatnonzero((values == group).to_numpy(dtype=bool, na_value=False))
        picked = rng.choice(members, size=min(per_group, len(members)), replace=False)
        rows.append((f"{display_name(group)}\nn={len(members):,}", images[picked], None))
    if not rows:
        return _no_data(f"No faces with a known {label(by).lower()}")
    return _face_rows(rows, per_group, f"Random faces by {label(by).lower()}")


def preprocessing_steps(
    originals: list[np.ndarray],
    grays: list[np.ndarray],
    finals: list[np.ndarray],
    titles: list[str] | None = None,
) -> Figure:
    """Each example through the pipeline: the photo, its grayscale, and what the model sees.

    All three are drawn at the same size, so the model input shows its real coarseness (nearest
    neighbour, no smoothing); the sizes in the titles are each image's own.
    """
    set_style()
    if not len(originals) == len(grays) == len(finals):
        raise ValueError(
            f"need as many of each: {len(originals)} originals, {len(grays)} grayscale, "
            f"{len(finals)} model inputs"
        )
    if titles is not None and len(titles) != len(originals):
        raise ValueError(f"{len(titles)} titles for {len(originals)} examples")
    if not originals:
        return _no_data("No examples")
    fig, axes = plt.subplots(
        len(originals),
        3,
        figsize=(3 * 2.2 + (1.6 if titles else 0.3), len(originals) * 2.5 + 0.5),
        squeeze=False,
        layout="constrained",
    )
    for index, (row_axes, original, gray, final) in enumerate(
        zip(axes, originals, grays, finals, strict=True)
    ):
        height, width = np.asarray(original).shape[:2]
        final_height, final_width = np.asarray(final).shape[:2]
        steps = (
            (original, f"Original ({width}x{height})", None),
            (gray, "Grayscale", None),
            (final, f"Model input ({final_width}x{final_height})", "nearest"),
        )
        for ax, (image, name, interpolation) in zip(row_axes, steps, strict=True):
            _show_face(ax, image, interpolation)
            ax.set_title(name, fontsize=10)
        if titles:
            row_axes[0].set_ylabel(titles[index], rotation=0, ha="right", va="center")
    fig.suptitle("Preprocessing, step by step")
    return fig


def split_balance(frame: pd.DataFrame, by: str) -> Figure:
    """Share of each group of ``by`` within train, validation and test, as grouped bars.

    A stratified split gives each group the same share in every split; bars of different
    heights within a group would mean the test numbers describe a different population.
    """
    set_style()
    if "split" not in frame.columns:
        raise ValueError("frame has no 'split' column; split the data first")
    known = frame[[by, "split"]].dropna()
    groups = _order(known[by])
    splits = [name for name in config.SPLIT_NAMES if (known["split"] == name).any()]
    fig, ax = plt.subplots(figsize=(max(8.5, 1.1 * len(groups) + 5.0), 4.6), layout="constrained")
    width = 0.8 / max(1, len(splits))
    positions = np.arange(len(groups))
    for index, split in enumerate(splits):
        values = known.loc[known["split"] == split, by]
        shares = values.value_counts(normalize=True).reindex(groups, fill_value=0.0)
        ax.bar(
            positions + (index - (len(splits) - 1) / 2) * width,
            shares.to_numpy(),
            width=width,
            color=PALETTE[index],
            label=f"{display_name(split)} (n={len(values):,})",
        )
    ax.set_xticks(positions, [display_name(group) for group in groups])
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel(label(by))
    ax.set_ylabel("Share of the split")
    ax.grid(axis="x", visible=False)
    ax.legend(title="Split", loc="upper left", bbox_to_anchor=(1.01, 1.0))  # never over a bar
    ax.set_title(f"{label(by)} mix per split (equal bars = well stratified)")
    _fit_ticklabels(fig)  # last: it needs the final titles and labels
    return fig


# --- training -------------------------------------------------------------------------------------


def training_curves(history: pd.DataFrame) -> Figure:
    """Loss and accuracy per epoch, training against validation, with the best epoch marked.

    The marker is the epoch with the highest validation accuracy, the one a checkpoint that
    monitors it would keep, so the gap to the last epoch shows what early stopping saved.
    """
    set_style()
    missing = [column for column in ("epoch", "loss", "accuracy") if column not in history]
    if missing:
        raise ValueError(f"history has no column(s) {missing}; it has {list(history.columns)}")
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
    epochs = history["epoch"].to_numpy()
    best = None
    if "val_accuracy" in history and history["val_accuracy"].notna().any():
        best = history.loc[history["val_accuracy"].idxmax()]
    for ax, metric, name in zip(axes, ("loss", "accuracy"), ("Loss", "Accuracy"), strict=True):
        ax.plot(epochs, history[metric], marker="o", markersize=3, label="Training")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], marker="o", markersize=3, label="Validation")
        if best is not None:
            ax.axvline(
                best["epoch"],
                color=NEUTRAL,
                linestyle="--",
                linewidth=1,
                label=f"Best val accuracy {best['val_accuracy']:.3f} (epoch {best['epoch']:g})",
            )
        ax.set_title(name)
        ax.set_xlabel("Epoch")
        ax.set_ylabel(name)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend()
    fig.suptitle("Training curves")
    return fig


# --- predictions ----------------------------------------------------------------------------------


def _binary(values: Any, name: str) -> np.ndarray:
    """0/1 labels; 'male'/'female' names are accepted too, anything else is a bug upstream."""
    array = np.asarray(values)
    if array.dtype.kind in "OUS":
        codes = {gender: code for code, gender in enumerate(config.GENDERS)}
        try:
            array = np.array([codes[value] for value in array])
        except KeyError as error:
            raise ValueError(
                f"{name} holds {error.args[0]!r}, not one of {config.GENDERS}"
            ) from None
    if array.ndim != 1 or (array.size and not np.isin(array, (0, 1)).all()):
        raise ValueError(f"{name} must be a 1-D array of 0 (male) and 1 (female)")
    return array.astype(np.int64)


def confusion_matrix_plot(y_true: Any, y_pred: Any) -> Figure:
    """True against predicted gender; each cell gives its count and its share of the true class.

    Cells are coloured by that row share, so the two classes can be compared even when one of
    them is much larger.
    """
    set_style()
    labels, predictions = _binary(y_true, "y_true"), _binary(y_pred, "y_pred")
    if len(labels) != len(predictions):
        raise ValueError(f"{len(labels)} labels for {len(predictions)} predictions")
    counts = np.zeros((2, 2), dtype=np.int64)
    np.add.at(counts, (labels, predictions), 1)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros((2, 2)), where=totals > 0)
    text = np.array(
        [[f"{counts[i, j]:,}\n({shares[i, j]:.1%})" for j in range(2)] for i in range(2)]
    )
    names = [display_name(gender) for gender in config.GENDERS]
    fig, ax = plt.subplots(figsize=(5.6, 4.6), layout="constrained")
    sns.heatmap(
        shares,
        annot=text,
        fmt="",
        cmap="Blues",
        vmin=0,
        vmax=1,
        xticklabels=names,
        yticklabels=names,
        linewidths=1,
        linecolor="white",
        annot_kws={"fontsize": 12},
        cbar_kws={"label": "Share of the true class", "format": PercentFormatter(1.0, decimals=0)},
        ax=ax,
    )
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True")
    ax.tick_params(axis="y", rotation=0)
    accuracy = np.trace(counts) / counts.sum() if counts.sum() else math.nan
    ax.set_title(f"Confusion matrix ({counts.sum():,} faces, accuracy {accuracy:.1%})")
    return fig


def roc_pr_curves(y_true: Any, y_prob: Any) -> Figure:
    """ROC and precision-recall curves for female as the positive class.

    The precision-recall panel carries the prevalence line because its chance level is the
    share of females, not 0.5, and that share differs between subgroups.
    """
    set_style()
    labels = _binary(y_true, "y_true")
    probabilities = np.asarray(y_prob, dtype=np.float64)
    if len(labels) != len(probabilities):
        raise ValueError(f"{len(labels)} labels for {len(probabilities)} probabilities")
    if len(np.unique(labels)) < 2:
        raise ValueError("ROC and precision-recall need both classes in y_true")
    fpr, tpr, _ = roc_curve(labels, probabilities)
    precision, recall, _ = precision_recall_curve(labels, probabilities, pos_label=1)
    average_precision = average_precision_score(labels, probabilities)
    prevalence = labels.mean()
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(11, 5), layout="constrained")
    roc_ax.plot(fpr, tpr, linewidth=2, label=f"Model (AUC = {auc(fpr, tpr):.3f})")
    roc_ax.plot([0, 1], [0, 1], color=NEUTRAL, linestyle="--", linewidth=1, label="Chance")
    roc_ax.set_xlabel("False positive rate (males called female)")
    roc_ax.set_ylabel("True positive rate (females found)")
    roc_ax.set_title("ROC curve")
    pr_ax.step(
        recall, precision, where="post", linewidth=2, label=f"Model (AP = {average_precision:.3f})"
    )
    pr_ax.axhline(
        prevalence, color=NEUTRAL, linestyle="--", linewidth=1, label=f"Prevalence {prevalence:.3f}"
    )
    pr_ax.set_xlabel("Recall (female)")
    pr_ax.set_ylabel("Precision (female)")
    pr_ax.set_title("Precision-recall curve (female)")
    for ax, corner in ((roc_ax, "lower right"), (pr_ax, "lower left")):
        ax.set_xlim(-0.01, 1.01)
        ax.set_ylim(-0.01, 1.01)
        ax.set_aspect("equal")
        ax.legend(loc=corner)
    return fig


# --- per subgroup ---------------------------------------------------------------------------------


def subgroup_accuracy(
    table: pd.DataFrame, by: str, overall: float | None = None, metric: str = "accuracy"
) -> Figure:
    """``metric`` per group of an ``evaluate.subgroup_table``, with its 95% interval and size.

    Groups stay in table order (the category order) rather than sorted by score, so the same
    figure for another model or split can be compared row by row. The interval comes from the
    ``{metric}_low``/``{metric}_high`` columns when the table has them (it does for accuracy).
    """
    set_style()
    if table.empty:
        return _no_data("No groups", f"{_metric_label(metric)} by {label(by).lower()}")
    values = table[metric].to_numpy(dtype=np.float64)
    names = [display_name(value) for value in table[by]]
    positions = np.arange(len(table))
    interval = f"{metric}_low" in table and f"{metric}_high" in table
    fig, ax = plt.subplots(figsize=(8.5, 0.45 * len(table) + 1.9), layout="constrained")
    if interval:
        low = table[f"{metric}_low"].to_numpy(dtype=np.float64)
        high = table[f"{metric}_high"].to_numpy(dtype=np.float64)
        # A percentile interval need not contain the point estimate; never draw a negative bar.
        errors = np.vstack([np.clip(values - low, 0, None), np.clip(high - values, 0, None)])
        ax.errorbar(
            values,
            positions,
            xerr=errors,
            fmt="o",
            color=PALETTE[0],
            ecolor=PALETTE[0],
            capsize=4,
            markersize=7,
            label="95% interval",
        )
    else:
        low = values
        ax.plot(values, positions, "o", color=PALETTE[0], markersize=7)
    lowest = np.nanmin(np.concatenate([low, values, [overall if overall is not None else 1.0]]))
    ax.set_xlim(max(0.0, lowest - 0.05) if np.isfinite(lowest) else 0.0, 1.01)
    ax.set_ylim(len(table) - 0.5, -1.1)  # top to bottom in table order, a free slot on top
    ax.set_yticks(positions, names)
    if "n" in table:
        for position, n in zip(positions, table["n"], strict=True):
            ax.text(
                1.02,
                position,
                f"n={int(n):,}",
                transform=ax.get_yaxis_transform(),
                va="center",
                fontsize=9,
            )
    if overall is not None:
        ax.axvline(overall, color=NEUTRAL, linestyle="--", linewidth=1)
        ax.text(overall, -0.8, f" overall {overall:.3f}", va="center", fontsize=9, color=NEUTRAL)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(_metric_label(metric))
    ax.set_ylabel(label(by))
    suffix = " with 95% intervals" if interval else ""
    ax.set_title(f"{_metric_label(metric)} by {label(by).lower()}{suffix}")
    return fig


def intersection_heatmap(
    table: pd.DataFrame, row: str, col: str, value: str = "accuracy"
) -> Figure:
    """``value`` for every ``row`` x ``col`` group of a two-column subgroup table, with counts.

    Each cell carries its n because intersections get small fast and a pale cell of fifteen
    faces is noise. Combinations missing from the table stay blank rather than reading as 0.
    The colour scale spans the data, not 0..1, so differences of a few points stay visible.
    """
    set_style()
    row_order, col_order = _order(table[row]), _order(table[col])
    data = np.full((len(row_order), len(col_order)), np.nan)
    text = np.full(data.shape, "", dtype=object)
    row_index = {key: index for index, key in enumerate(row_order)}
    col_index = {key: index for index, key in enumerate(col_order)}
    numbers = pd.to_numeric(table[value], errors="coerce").to_numpy(dtype=np.float64)
    counts = table["n"].to_numpy() if "n" in table else [None] * len(table)
    for key_row, key_col, number, n in zip(table[row], table[col], numbers, counts, strict=True):
        if pd.isna(key_row) or pd.isna(key_col):
            continue
        i, j = row_index[key_row], col_index[key_col]
        data[i, j] = number
        score = f"{number:.2f}" if math.isfinite(number) else "n/a"
        text[i, j] = score if n is None else f"{score}\nn={int(n):,}"
    finite = data[np.isfinite(data)]
    vmin, vmax = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    if vmax - vmin < 0.01:
        vmin, vmax = vmin - 0.005, vmax + 0.005
    fig, ax = plt.subplots(
        figsize=(1.05 * len(col_order) + 3.2, 0.75 * len(row_order) + 1.8), layout="constrained"
    )
    sns.heatmap(
        pd.DataFrame(
            data,
            index=[display_name(key) for key in row_order],
            columns=[display_name(key) for key in col_order],
        ),
        annot=text,
        fmt="",
        cmap="viridis",
        vmin=vmin,
        vmax=vmax,
        linewidths=0.5,
        linecolor="white",
        annot_kws={"fontsize": 9},
        cbar_kws={"label": _metric_label(value)},
        ax=ax,
    )
    ax.set_xlabel(label(col))
    ax.set_ylabel(label(row))
    ax.tick_params(axis="y", rotation=0)
    ax.set_title(f"{_metric_label(value)} by {label(row).lower()} and {label(col).lower()}")
    _fit_ticklabels(fig)  # last: it needs the final titles and labels
    return fig


# --- calibration and errors -----------------------------------------------------------------------


def reliability_diagram(table: pd.DataFrame, ece: float) -> Figure:
    """Accuracy per confidence bin against the diagonal of perfect calibration, with bin sizes.

    Bars below the diagonal mean overconfidence. The count panel matters because most
    predictions land in the top bin, and a wild bar over a dozen faces is not a trend.
    """
    set_style()
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(7, 7), height_ratios=(3, 1), sharex=True, layout="constrained"
    )
    filled = table[table["n"] > 0]
    widths = (filled["bin_high"] - filled["bin_low"]).to_numpy()
    top.bar(
        filled["bin_low"],
        filled["accuracy"],
        width=widths,
        align="edge",
        color=PALETTE[0],
        edgecolor="white",
        label="Accuracy in the bin",
    )
    # Hatch only, no fill: where accuracy beats confidence the gap lies inside the blue bar,
    # and a filled overlay there would read as a shorter bar.
    top.bar(
        filled["bin_low"],
        (filled["mean_confidence"] - filled["accuracy"]).to_numpy(),
        bottom=filled["accuracy"],
        width=widths,
        align="edge",
        facecolor="none",
        edgecolor=PALETTE[3],
        hatch="///",
        linewidth=0,
        label="Gap to mean confidence",
    )
    low, high = float(table["bin_low"].min()), float(table["bin_high"].max())
    top.plot([low, high], [low, high], color=NEUTRAL, linestyle="--", label="Perfect calibration")
    top.set_xlim(low, high)
    top.set_ylim(0, 1.02)
    top.set_ylabel("Accuracy")
    top.legend(loc="lower right", framealpha=0.95)  # bar bottoms carry no information
    top.set_title(f"Reliability diagram (ECE = {ece:.3f})")
    bars = bottom.bar(
        table["bin_low"],
        table["n"],
        width=(table["bin_high"] - table["bin_low"]).to_numpy(),
        align="edge",
        color="0.6",
        edgecolor="white",
    )
    bottom.bar_label(bars, labels=[f"{int(n):,}" for n in table["n"]], padding=1, fontsize=8)
    bottom.set_ylim(0, max(1, int(table["n"].max())) * 1.35)
    bottom.yaxis.set_major_formatter("{x:,.0f}")
    bottom.set_ylabel("Faces")
    bottom.set_xlabel("Confidence (probability given to the predicted class)")
    return fig


def error_gallery(
    images: np.ndarray, errors: pd.DataFrame, by: str, ncols: int | None = None
) -> Figure:
    """The most confident mistakes of each group of ``by``, one row per group.

    Each face is titled "F→M 0.97": true gender, predicted gender, and the probability the model
    gave its wrong answer. ``images[r]`` is the face of the error whose ``row`` is r.
    """
    set_style()
    if errors.empty:
        return _no_data("No errors", f"Most confident errors by {label(by).lower()}")
    ncols = ncols or int(errors[by].value_counts(dropna=True).max())
    rows = []
    for group in _order(errors[by]):
        chosen = errors[(errors[by] == group).to_numpy(dtype=bool, na_value=False)].head(ncols)
        titles = [
            f"{str(true)[0].upper()}→{str(predicted)[0].upper()} {confidence:.2f}"
            for true, predicted, confidence in zip(
                chosen["true"], chosen["predicted"], chosen["confidence"], strict=True
            )
        ]
        faces = [images[int(row)] for row in chosen["row"]]
        rows.append((display_name(group), faces, titles))
    return _face_rows(rows, ncols, f"Most confident errors by {label(by).lower()}")
