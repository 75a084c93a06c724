"""Who is in the data: label distributions, ages, cross-tabs and split balance."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from facegen import config
from facegen.reporting.plots.style import (
    GENDER_COLOURS,
    NEUTRAL,
    PALETTE,
    UNKNOWN,
    category_order,
    display_name,
    fit_ticklabels,
    label,
    set_style,
    value_counts,
)


def label_distributions(frame: pd.DataFrame) -> Figure:
    """Counts of gender, ethnicity and age band side by side, each bar labelled with its count.

    Categories with no face are kept (a zero bar is a finding); unknowns get their own bar so
    the three panels add up to the same number of faces.
    """
    set_style()
    columns = ("gender", "ethnicity", "age_band")
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), width_ratios=(2, 5, 7), layout="constrained")
    for ax, column in zip(axes, columns, strict=True):
        counts = value_counts(frame[column])
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
    fit_ticklabels(fig)  # last: it needs the final titles and labels
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
    row_order, col_order = category_order(known[row]), category_order(known[col])
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
    fit_ticklabels(fig)  # last: it needs the final titles and labels
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
    groups = category_order(known[by])
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
    fit_ticklabels(fig)  # last: it needs the final titles and labels
    return fig
