"""A leakage-free, stratified, seeded train/validation/test split.

Exact duplicates are collapsed before we get here (``dataset.mark_duplicates``). What remains are
near-duplicates: the same photo re-encoded or re-cropped, which a byte hash cannot see. We find
them with a perceptual hash and keep each such group on one side, then stratify whole groups by
gender x ethnicity x age band so every subgroup appears in every split in proportion.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from scipy.fft import dct
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

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


def perceptual_hashes(images: np.ndarray) -> np.ndarray:
    """64-bit pHash of each grayscale face (the algorithm of ``imagehash.phash``, batched).

    Shrink to 32x32, take the 2-D DCT, keep the 8x8 lowest frequencies and set a bit where a
    coefficient is above their median. Re-encoding or a slight re-crop moves few bits; a different
    face moves many. Batched in NumPy because per-image PIL calls take seconds on 23k faces.
    """
    if len(images) == 0:
        return np.zeros(0, np.uint64)
    small = np.stack([cv2.resize(im, (32, 32), interpolation=cv2.INTER_AREA) for im in images])
    coefficients = dct(dct(small.astype(np.float64), axis=1, norm=None), axis=2, norm=None)
    low = coefficients[:, :8, :8].reshape(len(images), 64)
    bits = low > np.median(low, axis=1, keepdims=True)
    return np.packbits(bits, axis=1).view(">u8").ravel().astype(np.uint64)


def near_duplicate_groups(
    images: np.ndarray,
    hashes: np.ndarray | None = None,
    *,
    max_bits: int = config.NEAR_DUPLICATE_MAX_BITS,
    min_correlation: float = config.NEAR_DUPLICATE_MIN_CORRELATION,
    block: int = 1024,
) -> np.ndarray:
    """Group ids such that the same photo, re-encoded or re-cropped, shares one id.

    Two stages, because aligned faces are alike: on UTKFace a pHash distance of 4-6 bits already
    links different people, and chaining those links merges dozens of strangers. So the hash only
    proposes pairs (within ``max_bits``) and the pixels decide: the pair is kept when the
    zero-mean normalised correlation of the two faces is at least ``min_correlation``.
    """
    n = len(images)
    hashes = perceptual_hashes(images) if hashes is None else hashes
    pixels = images.reshape(n, -1).astype(np.float32)
    pixels -= pixels.mean(axis=1, keepdims=True)
    pixels /= np.linalg.norm(pixels, axis=1, keepdims=True) + 1e-6
    sources, targets = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for start in range(0, n, block):
        distance = np.bitwise_count(hashes[start : start + block, None] ^ hashes[None, start:])
        i, j = np.nonzero(distance <= max_bits)
        upper = j > i  # columns start at ``start`` too, so j > i means a later face
        i, j = i[upper] + start, j[upper] + start
        similar = np.einsum("ij,ij->i", pixels[i], pixels[j]) >= min_correlation
        sources.append(i[similar])
        targets.append(j[similar])
    rows, cols = np.concatenate(sources), np.concatenate(targets)
    graph = coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels


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
