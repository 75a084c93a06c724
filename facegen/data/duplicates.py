"""Byte-identical copies, found by content hash: one copy is kept, and none when their labels
conflict, so no conflicting label reaches training (near-duplicates: ``near_duplicates``).
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pandas as pd

from facegen.data.frame import RowStatus


def fingerprint_file(path: str | os.PathLike) -> str:
    """Content hash: equal fingerprints mean byte-identical files."""
    with open(path, "rb") as handle:
        return hashlib.blake2b(handle.read(), digest_size=16).hexdigest()


def mark_duplicates(frame: pd.DataFrame) -> pd.DataFrame:
    """Collapse byte-identical files: keep one copy, or none when the copies disagree.

    Copies disagree when their gender, ethnicity or age band differ: we cannot know which label is
    right, and keeping either would put label noise into training or a wrong cell into the subgroup
    tables. Ages that differ within one band are kept (the first copy's age), with a note.
    A missing ethnicity does not conflict with a known one; the kept copy prefers full labels.
    """
    frame = frame.copy()
    usable = frame["status"].eq(RowStatus.OK)
    copies = frame[usable & frame["fingerprint"].duplicated(keep=False)]
    status, note, group = frame["status"].tolist(), frame["note"].tolist(), [-1] * len(frame)
    position = {label: i for i, label in enumerate(frame.index)}
    ordered = copies.assign(_missing=copies["ethnicity"].isna()).sort_values(["_missing", "file"])
    first_file = copies.groupby("fingerprint")["file"].min().sort_values()
    group_ids = {fingerprint: g for g, fingerprint in enumerate(first_file.index)}
    fields = ("gender", "ethnicity", "age_band")
    codes = pd.DataFrame({name: ordered[name].cat.codes for name in fields}).replace(-1, np.nan)
    distinct = codes.groupby(ordered["fingerprint"].to_numpy()).nunique()
    files, ages = frame["file"].tolist(), frame["age"].tolist()
    ordered_rows = [position[label] for label in ordered.index]
    for fingerprint, members in ordered.groupby("fingerprint", sort=False).indices.items():
        rows = [ordered_rows[i] for i in members]
        for row in rows:
            group[row] = group_ids[fingerprint]
        conflicts = [name for name in fields if distinct.at[fingerprint, name] > 1]
        if conflicts:
            for row in rows:
                status[row] = RowStatus.CONFLICTING_DUPLICATE
                note[row] = _join(note[row], f"copies disagree on {', '.join(conflicts)}")
            continue
        keep, *drop = rows
        for row in drop:
            status[row] = RowStatus.DUPLICATE_COPY
            note[row] = _join(note[row], f"identical to {files[keep]}")
        group_ages = sorted({ages[row] for row in rows})
        if len(group_ages) > 1:
            listed = ", ".join(str(a) for a in group_ages)
            note[keep] = _join(note[keep], f"copies give ages {listed} (kept {ages[keep]})")
    frame["status"], frame["note"], frame["dup_group"] = status, note, group
    return frame


def _join(existing: str, extra: str) -> str:
    return f"{existing}; {extra}" if existing else extra
