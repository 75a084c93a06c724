"""One look for every figure: labels a reader understands, a colour-blind palette, orderings."""

from __future__ import annotations

from collections.abc import Hashable
from itertools import pairwise
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

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


KNOWN_ORDERS = (config.GENDERS, config.ETHNICITIES, config.AGE_BAND_LABELS, config.SPLIT_NAMES)


def set_style() -> None:
    """Apply the project's look; every figure function calls it so figures never drift apart.

    Called per figure rather than once at import so that importing the module changes nothing
    and a notebook that tweaked rcParams in between still gets the same figures as the report.
    """
    sns.set_theme(style="whitegrid", context="notebook", palette=PALETTE_NAME)


def label(column: str) -> str:
    """'age_band' -> 'Age band'; unknown columns get a readable version of their name."""
    return LABELS.get(column, column.replace("_", " ").capitalize())


def metric_label(metric: str) -> str:
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


def category_order(values: pd.Series, observed: bool = True) -> list[Hashable]:
    """Categories in their defined order (category dtype, else the project's known label orders).

    Sorting alphabetically would put 'Asian' before 'White' and '13-19' before '3-12'; the order
    of config is the one every table and figure of the project uses.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = list(values.cat.categories)
    else:
        present = set(values.dropna().unique())
        known = next((order for order in KNOWN_ORDERS if present <= set(order)), None)
        categories = list(known) if known and present else sorted(present, key=str)
    if observed:
        seen = set(values.dropna().unique())
        categories = [category for category in categories if category in seen]
    return categories


def fit_ticklabels(fig: Figure) -> None:
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


def blank(ax: Axes) -> None:
    """An axes that shows only its image and its labels: no ticks, spines or grid."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def no_data(text: str, title: str | None = None) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 2), layout="constrained")
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=14, transform=ax.transAxes)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


def value_counts(values: pd.Series) -> pd.Series:
    """Counts per category in category order, unknowns last (only when there are any)."""
    counts = values.value_counts(dropna=True).reindex(
        category_order(values, observed=False), fill_value=0
    )
    counts.index = [display_name(value) for value in counts.index]
    missing = int(values.isna().sum())
    if missing:
        counts[UNKNOWN] = missing
    return counts.astype(np.int64)


def binary_labels(values: Any, name: str) -> np.ndarray:
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
