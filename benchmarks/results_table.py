"""The benchmarks' results tables: one row per key, replaced when measured again, written
atomically, so a sweep that records each trial as it finishes never leaves half a table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from facegen.atomic import atomic_write_text


def record_row(
    path: Path,
    row: dict[str, Any],
    keys: Sequence[str],
    columns: Sequence[str],
    order: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> Path:
    """Add ``row`` to the CSV at ``path``, replacing the row with the same ``keys``; ``order``
    sorts the table (default: by the keys)."""
    table = pd.read_csv(path) if path.exists() else pd.DataFrame(columns=list(columns))
    same = pd.Series(True, index=table.index)
    for key in keys:
        same &= table[key] == row[key]
    table = pd.concat([table[~same], pd.DataFrame([{c: row.get(c) for c in columns}])])
    table = order(table) if order else table.sort_values(list(keys))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, table[list(columns)].to_csv(index=False, lineterminator="\n"))
    return path
