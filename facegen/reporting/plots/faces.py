"""Figures made of faces: grids sized so each 48 px face stays legible under its caption."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from facegen import config
from facegen.reporting.plots.style import (
    blank,
    category_order,
    display_name,
    label,
    no_data,
    set_style,
)

FACE_CELL = 1.3  # inches per face: 48 px shown at ~140 px when saved at 110 dpi


_FACE_GAP = 0.08  # inches between neighbouring faces


_TITLE_LINE = 0.16  # inches per line of 8 pt title above a face


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
    blank(ax)


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
        return no_data("No images", title)
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
    for group in category_order(values):
        members = np.flatnonzero((values == group).to_numpy(dtype=bool, na_value=False))
        picked = rng.choice(members, size=min(per_group, len(members)), replace=False)
        rows.append((f"{display_name(group)}\nn={len(members):,}", images[picked], None))
    if not rows:
        return no_data(f"No faces with a known {label(by).lower()}")
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
        return no_data("No examples")
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
            (final, f"Aligned model input ({final_width}x{final_height})", "nearest"),
        )
        for ax, (image, name, interpolation) in zip(row_axes, steps, strict=True):
            _show_face(ax, image, interpolation)
            ax.set_title(name, fontsize=10)
        if titles:
            row_axes[0].set_ylabel(titles[index], rotation=0, ha="right", va="center")
    fig.suptitle("Preprocessing, step by step")
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
        return no_data("No errors", f"Most confident errors by {label(by).lower()}")
    ncols = ncols or int(errors[by].value_counts(dropna=True).max())
    rows = []
    for group in category_order(errors[by]):
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


def doubted_faces(
    images: np.ndarray, doubted: pd.DataFrame, ncols: int = 8, title: str | None = None
) -> Figure:
    """The faces a label audit doubts most, most doubted first, in ``face_grid``'s layout.

    Each face is titled "#1 given F · 0.03": its rank among the doubted, the label it was given
    and the model's score for *female* (0.5 decides), so a reader sees at once what the audit
    disputes and judges the face for themselves. ``doubted`` is ``LabelAudit.most_doubted``'s
    table (``row``, ``doubt_rank``, ``given_label`` as 0/1, ``probability``); ``images[r]`` is the
    face of the row whose ``row`` is r.
    """
    set_style()
    title = title or "The faces whose labels the audit doubts most"
    if doubted.empty:
        return no_data("No label doubted", title)
    letters = np.asarray([name[0].upper() for name in config.GENDERS], dtype=object)
    titles = [
        f"#{rank} given {letters[given]} · {probability:.2f}"
        for rank, given, probability in zip(
            doubted["doubt_rank"], doubted["given_label"], doubted["probability"], strict=True
        )
    ]
    faces = np.stack([images[int(row)] for row in doubted["row"]])
    return face_grid(faces, titles, ncols=ncols, title=title)
