"""Results as plain JSON: NumPy and pandas values converted, NaN as null, unknown types refused."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd

from facegen.evaluation.subgroups import group_name


def _jsonable_key(key: Any) -> str | int | float | bool | None:
    """JSON keys must be strings; json.dumps converts plain numbers itself, not NumPy ones."""
    key = key.item() if isinstance(key, np.generic) else key
    if key is None or isinstance(key, (str, int, float, bool)):
        return key
    return group_name(key) if isinstance(key, tuple) else str(key)


def to_jsonable(obj: Any) -> Any:
    """``obj`` as plain Python that ``json.dumps`` accepts with ``allow_nan=False``.

    NumPy scalars and arrays become numbers and lists, DataFrames a list of records, Series a
    list, NaN, infinities and pandas' missing markers None (JSON has no NaN; Python's json
    would write an invalid ``NaN`` token). Anything it does not know raises TypeError rather
    than being silently stringified.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, pd.DataFrame):
        return to_jsonable(obj.astype(object).to_dict(orient="records"))
    if isinstance(obj, (pd.Series, pd.Index, pd.Categorical)):
        return to_jsonable(list(obj.astype(object)))
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, Mapping):
        return {_jsonable_key(key): to_jsonable(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(value) for value in obj]
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, pd.Timestamp):
        return obj.isoformat()
    raise TypeError(f"cannot make {type(obj).__name__} JSON-serialisable: {obj!r}")
