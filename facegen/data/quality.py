"""The data-quality report: what was found, what is used, and why anything was not.

It is built from the ``status`` and ``note`` columns that the dataset and feature steps fill in,
so it can never disagree with what training actually used.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from facegen.data.frame import RowStatus


@dataclass(frozen=True)
class QualityReport:
    """Counts by decision, plus one row per file that was excluded or kept with a note."""

    found: int
    used: int
    excluded: pd.Series  # reason -> number of files
    kept_with_notes: pd.Series  # note -> number of files
    duplicate_groups: int
    duplicate_files: int
    conflicting_groups: int
    details: pd.DataFrame  # file, decision, note
    near_duplicate_groups: int | None = None  # None until the split step has grouped them
    near_duplicate_files: int | None = None

    def summary(self) -> pd.DataFrame:
        """One table of every count, for a notebook or the manifest."""
        rows = [("files found", self.found), ("files used", self.used)]
        rows += [(f"excluded: {reason}", n) for reason, n in self.excluded.items()]
        rows += [(f"kept, {note}", n) for note, n in self.kept_with_notes.items()]
        rows += [
            ("byte-identical groups", self.duplicate_groups),
            ("files in byte-identical groups", self.duplicate_files),
            ("groups with conflicting labels", self.conflicting_groups),
        ]
        if self.near_duplicate_groups is not None:
            rows += [
                ("near-duplicate groups (kept in one split)", self.near_duplicate_groups),
                ("files in near-duplicate groups", self.near_duplicate_files),
            ]
        return pd.DataFrame(rows, columns=["item", "files"]).set_index("item")

    def to_dict(self) -> dict:
        return {
            "found": self.found,
            "used": self.used,
            "excluded": {k: int(v) for k, v in self.excluded.items()},
            "kept_with_notes": {k: int(v) for k, v in self.kept_with_notes.items()},
            "duplicate_groups": self.duplicate_groups,
            "duplicate_files": self.duplicate_files,
            "conflicting_groups": self.conflicting_groups,
            "near_duplicate_groups": self.near_duplicate_groups,
            "near_duplicate_files": self.near_duplicate_files,
        }

    def __str__(self) -> str:
        width = max(len(item) for item in self.summary().index)
        lines = ["Data quality"]
        lines += [f"  {item:<{width}}  {n:>6,}" for item, n in self.summary()["files"].items()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.summary().to_html()


def _kind_of_note(note: str) -> str:
    """Collapse per-file notes ('identical to X') into kinds that can be counted."""
    kinds = []
    for part in filter(None, (p.strip() for p in note.split(";"))):
        if part.startswith("identical to"):
            continue  # the copy's own status already says it is a duplicate
        if part.startswith("copies give ages"):
            part = "copies differ in age within one band (kept one)"
        kinds.append(part)
    return "; ".join(kinds)


def quality_report(frame: pd.DataFrame) -> QualityReport:
    """Summarise the decisions recorded in ``frame`` (the rules: ``facegen.data.utkface`` and
    ``facegen.data.duplicates``)."""
    used = frame["status"].eq(RowStatus.OK)
    excluded = frame.loc[~used, "status"].value_counts().sort_index()
    kinds = frame.loc[used, "note"].map(_kind_of_note)
    kept_with_notes = kinds[kinds.ne("")].value_counts().sort_index()
    duplicates = frame[frame["dup_group"].ge(0)]
    conflicting = duplicates["status"].eq(RowStatus.CONFLICTING_DUPLICATE)
    details = frame.loc[~used | frame["note"].ne(""), ["file", "status", "note"]].rename(
        columns={"status": "decision"}
    )
    details["decision"] = details["decision"].replace({RowStatus.OK: "kept"})
    near = {}
    if "near_dup_group" in frame:
        sizes = frame["near_dup_group"].dropna().value_counts()
        near = {
            "near_duplicate_groups": int((sizes > 1).sum()),
            "near_duplicate_files": int(sizes[sizes > 1].sum()),
        }
    return QualityReport(
        found=len(frame),
        used=int(used.sum()),
        excluded=excluded,
        kept_with_notes=kept_with_notes,
        duplicate_groups=int(duplicates["dup_group"].nunique()),
        duplicate_files=len(duplicates),
        conflicting_groups=int(duplicates.loc[conflicting, "dup_group"].nunique()),
        details=details.reset_index(drop=True),
        **near,
    )
