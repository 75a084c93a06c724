"""What separates UTKFace's test split from other collections.

``factor_table`` asks what limits a collection: accuracy by a property of the face (framing,
sharpness, pose, age, ethnicity), each with its count and interval. The collections side by side,
as a reader sees them, are ``reporting.tables.comparison_table``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from facegen.evaluation.subgroups import subgroup_table


def sharpness(faces: np.ndarray) -> np.ndarray:
    """Variance of the Laplacian per face: low for blurred or upscaled faces."""
    import cv2

    return np.array([cv2.Laplacian(face.astype(np.float64), cv2.CV_64F).var() for face in faces])


def quartile_bins(values: np.ndarray, name: str) -> pd.Categorical:
    """Values cut at their quartiles, labelled 'Q1 (lowest)' ... 'Q4 (highest)'."""
    labels = [f"{name} Q1 (lowest)", f"{name} Q2", f"{name} Q3", f"{name} Q4 (highest)"]
    return pd.qcut(values, 4, labels=labels, duplicates="drop")


def factor_table(
    rows: pd.DataFrame, factors: list[str], *, n_boot: int = 500, seed: int = 0
) -> pd.DataFrame:
    """Accuracy, recall per gender and counts by each factor column of ``rows`` in turn.

    ``rows`` needs ``gender`` and ``p_female``; each factor is a categorical column. One table,
    a block of rows per factor, so which factor moves accuracy most is seen at a glance.
    """
    labels = (rows["gender"] == "female").to_numpy(dtype=np.int8)
    blocks = []
    for factor in factors:
        table = subgroup_table(rows, labels, rows["p_female"].to_numpy(), factor,
                               n_boot=n_boot, seed=seed)  # fmt: skip
        table = table.rename(columns={factor: "group"}).assign(factor=factor)
        blocks.append(table)
    joined = pd.concat(blocks, ignore_index=True)
    joined["group"] = joined["group"].astype(str)
    columns = ["factor", "group", "n", "accuracy", "accuracy_low", "accuracy_high",
               "recall_female", "recall_male"]  # fmt: skip
    return joined[columns].set_index(["factor", "group"])


TURN_BINS = ((0.0, "frontal"), (0.1, "slightly turned"), (0.25, "turned"))
"""Head-turn bands (``faces.framing.head_turn``, in eye distances): lower bound and name."""


def turn_bins(turn: np.ndarray) -> pd.Categorical:
    """Head turn as bands; a face framed whole (no landmarks) is 'no landmarks'."""
    names = [name for _, name in TURN_BINS] + ["no landmarks"]
    edges = [lower for lower, _ in TURN_BINS][1:]
    codes = np.searchsorted(edges, np.nan_to_num(turn, nan=0.0), side="right")
    codes = np.where(np.isnan(turn), len(TURN_BINS), codes)
    return pd.Categorical.from_codes(codes, categories=names, ordered=True)


TURNED = TURN_BINS[-1][0]
"""The head turn from which a face counts as turned."""

IMAGE_MEASURES = {
    "sharpness": sharpness,
    "brightness": lambda faces: faces.mean(axis=(1, 2)),
    "contrast": lambda faces: faces.std(axis=(1, 2)),
}
"""Properties of a model input that photography changes: each maps (n, h, w) faces to n values."""

LIMIT_FACTORS = ("framing", "head_turn", *IMAGE_MEASURES, "age_band", "ethnicity")


def image_measures(faces: np.ndarray) -> dict[str, np.ndarray]:
    """Each of ``IMAGE_MEASURES`` over ``faces``, computed once."""
    faces = np.asarray(faces, dtype=np.float64)
    return {name: measure(faces) for name, measure in IMAGE_MEASURES.items()}


def _medians(measured: dict[str, np.ndarray], turn: np.ndarray | None) -> dict[str, float]:
    medians = {name: float(np.median(values)) for name, values in measured.items()}
    if turn is not None:
        medians["turned (share)"] = float(np.mean(np.asarray(turn, dtype=float) >= TURNED))
    return medians


def input_medians(faces: np.ndarray, turn: np.ndarray | None = None) -> dict[str, float]:
    """The median of each image measure over ``faces``, and the share of turned heads."""
    return _medians(image_measures(faces), turn)


def limits(
    rows: pd.DataFrame,
    faces: np.ndarray,
    reference: dict[str, float],
    *,
    name: str,
    n_boot: int = 500,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What limits a collection: its inputs' medians beside ``reference`` (UTKFace's, from
    ``input_medians``), and a ``factor_table`` over ``LIMIT_FACTORS``.

    ``rows`` are a scored half's rows (``gender``, ``p_female``, ``framing``, ``turn``, labels);
    ``faces`` their model inputs. Image measures are cut at the collection's own quartiles.
    """
    rows = rows.copy()
    measured = image_measures(faces)
    for measure, values in measured.items():
        rows[measure] = quartile_bins(values, measure)
    rows["head_turn"] = turn_bins(rows["turn"].to_numpy(dtype=float))
    rows["framing"] = pd.Categorical(rows["framing"])
    medians = pd.DataFrame(
        {name: _medians(measured, rows["turn"]), "UTKFace test": reference}
    ).rename_axis("median of the model's input")
    return medians, factor_table(rows, list(LIMIT_FACTORS), n_boot=n_boot, seed=seed)
