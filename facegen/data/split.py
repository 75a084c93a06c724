"""The seeded, stratified train/validation/test split, saved as CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from facegen import config
from facegen.atomic import atomic_write_text

SPLIT_COLUMNS = (
    "file",
    "fingerprint",
    "near_dup_group",
    "split",
    "gender",
    "ethnicity",
    "age_band",
    "age",
)


def strata(frame: pd.DataFrame) -> pd.Series:
    """The stratification key: gender x ethnicity x age band (unknown ethnicity is a value)."""
    ethnicity = frame["ethnicity"].astype(object).where(frame["ethnicity"].notna(), "unknown")
    return (
        frame["gender"].astype(str)
        + "|"
        + ethnicity.astype(str)
        + "|"
        + frame["age_band"].astype(str)
    )


def assign_splits(
    frame: pd.DataFrame,
    groups: np.ndarray,
    seed: int = config.SEED,
    fractions: tuple[float, float, float] = config.SPLIT_FRACTIONS,
) -> pd.Series:
    """Return 'train' / 'val' / 'test' per row; rows of one group always share a split.

    Within each stratum, groups are shuffled with the seed and laid end to end on a circle of
    the stratum's size, starting at a random point; a group goes to test, val or train by where
    its midpoint falls (systematic sampling). Each stratum is thereby split 80/10/10 to within
    one group, and a stratum too small for a test member still lands there with the right
    probability. A group's stratum is that of its first file. Rows are ordered by file name
    first, so the same seed gives the same split whatever order the files came in.
    """
    train, val, test = fractions
    if min(fractions) < 0 or abs(train + val + test - 1) > 1e-9:
        raise ValueError(f"split fractions {fractions} must be non-negative and sum to 1")
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(
        {
            "file": frame["file"].to_numpy(),
            "group": np.asarray(groups),
            "stratum": strata(frame).to_numpy(),
        }
    ).sort_values("file", kind="stable")
    by_group = table.groupby("group", sort=True).agg(
        stratum=("stratum", "first"), size=("file", "size")
    )
    split_of_group = pd.Series("train", index=by_group.index, dtype=object)
    for _, members in by_group.groupby("stratum", sort=True):
        order = members.iloc[rng.permutation(len(members))]
        total = order["size"].sum()
        midpoint = order["size"].cumsum() - order["size"] / 2
        position = (midpoint + rng.uniform(0, total)) % total / total
        split_of_group[order.index] = np.where(
            position < test, "test", np.where(position < test + val, "val", "train")
        )
    result = split_of_group.reindex(np.asarray(groups)).to_numpy()
    return pd.Series(result, index=frame.index, name="split")


def write_split(frame: pd.DataFrame, path: str | Path) -> Path:
    """Save the split as CSV, sorted by file, so the same split is the same bytes."""
    table = frame[list(SPLIT_COLUMNS)].sort_values("file")
    atomic_write_text(path, table.to_csv(index=False, lineterminator="\n"))
    return Path(path)


def read_split(path: str | Path) -> pd.DataFrame:
    """Read a split CSV written by ``write_split``, restoring the label categories."""
    table = pd.read_csv(
        path, dtype={"file": str, "fingerprint": str, "split": str}, keep_default_na=True
    )
    table["gender"] = pd.Categorical(table["gender"], categories=list(config.GENDERS))
    table["ethnicity"] = pd.Categorical(table["ethnicity"], categories=list(config.ETHNICITIES))
    table["age_band"] = pd.Categorical(
        table["age_band"], categories=list(config.AGE_BAND_LABELS), ordered=True
    )
    table["age"] = table["age"].astype("Int64")
    return table
