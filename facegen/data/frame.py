"""The labelled frame every face source produces: one row per file, the same columns and
statuses whatever the collection, so quality, duplicates, split and evaluation read any source.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import pandas as pd

from facegen import config


class RowStatus(StrEnum):
    """A row's ``status``: ``OK`` (the file is used) or why it is left out, in the words the
    quality report and its per-file decisions show. Every source uses these, so the report reads
    any collection alike. ``INVALID_LABEL`` is followed by the labels out of range
    ("label out of range: gender 3")."""

    OK = "ok"
    NOT_A_UTKFACE_NAME = "name does not follow {age}_{gender}_{race}_{datetime}"
    INVALID_LABEL = "label out of range"
    DUPLICATE_COPY = "duplicate copy (another identical file kept)"
    CONFLICTING_DUPLICATE = "identical files with conflicting labels"
    UNREADABLE = "unreadable image"
    MISSING_FILE = "file not found"
    UNKNOWN_GENDER = "gender label not understood"
    UNKNOWN_AGE = "age label not understood"


FRAME_COLUMNS = (
    "file",
    "path",
    "age",
    "gender",
    "ethnicity",
    "age_band",
    "size_bytes",
    "fingerprint",
    "dup_group",
    "status",
    "note",
)


def age_band(ages: pd.Series | np.ndarray) -> pd.Categorical:
    """Bin ages into the project's one set of age bands (``config.AGE_BANDS``)."""
    edges = [lower for lower, _ in config.AGE_BANDS][1:]
    codes = np.searchsorted(edges, np.asarray(ages, dtype=float), side="right")
    codes = np.where(pd.isna(np.asarray(ages, dtype=float)), -1, codes)
    return pd.Categorical.from_codes(codes, categories=list(config.AGE_BAND_LABELS), ordered=True)
