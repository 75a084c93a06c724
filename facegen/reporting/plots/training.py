"""How training went, epoch by epoch."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from facegen.reporting.plots.style import NEUTRAL, set_style


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
