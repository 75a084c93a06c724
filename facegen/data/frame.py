"""The labelled frame every face source produces: one row per file, the same columns and
statuses whatever the collection, so quality, duplicates, split and evaluation read any source.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from facegen import config

OK = "ok"


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
