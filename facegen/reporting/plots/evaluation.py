"""How well the model does, and for whom."""

from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

from facegen import config
from facegen.reporting.plots.style import (
    NEUTRAL,
    PALETTE,
    binary_labels,
    category_order,
    display_name,
    fit_ticklabels,
    label,
    metric_label,
    no_data,
    set_style,
)


def confusion_matrix_plot(y_true: Any, y_pred: Any) -> Figure:
    """True against predicted gender; each cell gives its count and its share of the true class.

    Cells are coloured by that row share, so the two classes can be compared even when one of
    them is much larger.
    """
    set_style()
    labels, predictions = binary_labels(y_true, "y_true"), binary_labels(y_pred, "y_pred")
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
    labels = binary_labels(y_true, "y_true")
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
        return no_data("No groups", f"{metric_label(metric)} by {label(by).lower()}")
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
    ax.set_xlabel(metric_label(metric))
    ax.set_ylabel(label(by))
    suffix = " with 95% intervals" if interval else ""
    ax.set_title(f"{metric_label(metric)} by {label(by).lower()}{suffix}")
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
    row_order, col_order = category_order(table[row]), category_order(table[col])
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
        cbar_kws={"label": metric_label(value)},
        ax=ax,
    )
    ax.set_xlabel(label(col))
    ax.set_ylabel(label(row))
    ax.tick_params(axis="y", rotation=0)
    ax.set_title(f"{metric_label(value)} by {label(row).lower()} and {label(col).lower()}")
    fit_ticklabels(fig)  # last: it needs the final titles and labels
    return fig


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
    bottom.set_xlabel("Confidence (the model's output for the predicted class)")
    return fig
