"""Labelled face collections that are not UTKFace, read into one frame for cross-dataset evaluation.

Three layouts are understood, so a user can bring faces from anywhere:

- **FairFace**: a folder holding ``fairface_label_*.csv`` (``file,age,gender,race,...``), or that
  CSV itself. Its age bins were damaged by a spreadsheet before one copy was published
  (``03-Sep`` is 3-9, ``Oct-19`` is 10-19); they are read back, and any other unknown bin is
  reported, never guessed.
- **Folders per class**: ``female/`` and ``male/`` under the path, images anywhere below.
- **A plain CSV**: ``file,gender`` with optional ``age`` (years) and ``ethnicity`` columns.

A collection keeps its own ethnicity groups and age bins: mapping FairFace's seven groups onto
UTKFace's five would hide exactly the differences we measure. Rows that cannot be used (a file
that does not exist, a label that is not a gender) get a status and stay in the frame, so they
are counted and reported rather than silently dropped.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from facegen import config
from facegen.data.frame import RowStatus, age_band
from facegen.errors import BadInputError, UsageError

GENDER_WORDS = {
    "male": "male", "m": "male", "man": "male", "men": "male",
    "female": "female", "f": "female", "woman": "female", "women": "female",
}  # fmt: skip

FAIRFACE_AGE_BINS = ("0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70+")
FAIRFACE_RACES = (
    "White", "Black", "East Asian", "Southeast Asian", "Indian", "Middle Eastern",
    "Latino_Hispanic",
)  # fmt: skip
# What a spreadsheet made of FairFace's bins, read back; and its own spelling of the last bin.
FAIRFACE_AGE_REPAIRS = {"03-Sep": "3-9", "Oct-19": "10-19", "more than 70": "70+"}


class CollectionError(BadInputError):
    """A collection facegen cannot read or score; the message says what it expects."""


class CollectionNotFoundError(UsageError, CollectionError):
    """The path given for a collection is not there."""


@dataclass(frozen=True)
class Collection:
    """One external collection: where it is, its layout, and one row per listed face."""

    name: str
    root: Path
    layout: str  # "fairface", "folders" or "csv"
    frame: pd.DataFrame

    @property
    def usable(self) -> pd.DataFrame:
        return self.frame[self.frame["status"] == RowStatus.OK]

    def problems(self) -> pd.Series:
        """How many listed faces could not be used, by reason."""
        return self.frame.loc[self.frame["status"] != RowStatus.OK, "status"].value_counts()


def read_collection(path: str | os.PathLike, name: str | None = None) -> Collection:
    """Read any of the three layouts at ``path``; the layout is recognised, not configured."""
    path = Path(path).expanduser()
    if not path.exists():
        raise CollectionNotFoundError(f"{path}: no such file or folder")
    if path.is_file():
        (frame, layout), root = _read_csv_file(path), path.parent
    else:
        root = path
        labels = sorted(path.glob("fairface_label_*.csv"))
        if labels:
            frame, layout = _read_csv_file(labels[0])
        elif _class_folders(path):
            frame, layout = _read_class_folders(path), "folders"
        else:
            csvs = sorted(path.glob("*.csv"))
            if len(csvs) != 1:
                raise CollectionError(
                    f"{path}: expected fairface_label_*.csv, female/ and male/ folders, or one "
                    "CSV with file,gender columns"
                )
            frame, layout = _read_csv_file(csvs[0])
    return Collection(name or _default_name(path), root, layout, frame)


def _default_name(path: Path) -> str:
    return path.stem if path.is_file() else path.name


def _is_fairface(header: pd.DataFrame) -> bool:
    return {"file", "age", "gender", "race"} <= set(header.columns)


def _read_csv_file(path: Path) -> tuple[pd.DataFrame, str]:
    """The collection's frame and its layout, "fairface" or "csv", from one read of the file."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    if _is_fairface(table):
        return _fairface_frame(table, path.parent), "fairface"
    if not {"file", "gender"} <= set(table.columns):
        raise CollectionError(
            f"{path}: a collection CSV needs the columns file and gender (optional: age, "
            f"ethnicity); it has {', '.join(table.columns) or 'none'}"
        )
    return _plain_frame(table, path.parent), "csv"


def _fairface_frame(table: pd.DataFrame, root: Path) -> pd.DataFrame:
    bins = table["age"].str.strip().replace(FAIRFACE_AGE_REPAIRS)
    known_bin = bins.isin(FAIRFACE_AGE_BINS)
    frame = _frame(table["file"], root, table["gender"], table["race"].str.strip())
    frame["age_band"] = pd.Categorical(
        bins.where(known_bin), categories=list(FAIRFACE_AGE_BINS), ordered=True
    )
    races = [r for r in FAIRFACE_RACES if r in set(frame["ethnicity"].dropna())]
    extra = sorted(set(frame["ethnicity"].dropna()) - set(FAIRFACE_RACES))
    frame["ethnicity"] = pd.Categorical(frame["ethnicity"], categories=races + extra)
    bad_age = ~known_bin & (frame["status"] == RowStatus.OK)
    frame.loc[bad_age, "status"] = RowStatus.UNKNOWN_AGE
    frame.loc[bad_age, "note"] = "age bin " + table.loc[bad_age, "age"].map(repr)
    return frame


def _plain_frame(table: pd.DataFrame, root: Path) -> pd.DataFrame:
    ethnicity = table["ethnicity"].str.strip() if "ethnicity" in table else None
    frame = _frame(table["file"], root, table["gender"], ethnicity)
    if "age" in table:
        ages = pd.to_numeric(table["age"].str.strip(), errors="coerce")
        bad = table["age"].str.strip().ne("") & (ages.isna() | (ages < 0) | (ages > config.MAX_AGE))
        ages = ages.where(~bad)
        frame["age"] = ages.round().astype("Int64")
        frame["age_band"] = age_band(ages.to_numpy(dtype=float, na_value=np.nan))
        flagged = bad & (frame["status"] == RowStatus.OK)
        frame.loc[flagged, "status"] = RowStatus.UNKNOWN_AGE
        frame.loc[flagged, "note"] = "age " + table.loc[flagged, "age"].map(repr)
    return frame


def _frame(files: pd.Series, root: Path, genders: pd.Series, ethnicity: pd.Series | None):
    words = genders.str.strip().str.lower().map(GENDER_WORDS)
    paths = [root / name for name in files]
    frame = pd.DataFrame(
        {
            "file": files.to_numpy(),
            "path": [str(p) for p in paths],
            "gender": pd.Categorical(words, categories=list(config.GENDERS)),
            "ethnicity": (
                ethnicity.replace("", np.nan).to_numpy()
                if ethnicity is not None
                else np.full(len(files), np.nan, dtype=object)
            ),
            "age": pd.array([pd.NA] * len(files), dtype="Int64"),
            "age_band": pd.Categorical([np.nan] * len(files), categories=[]),
            "status": RowStatus.OK,
            "note": "",
        }
    )
    exists = np.array([p.is_file() for p in paths], dtype=bool)
    frame.loc[~exists, "status"] = RowStatus.MISSING_FILE
    unknown = words.isna().to_numpy() & exists
    frame.loc[unknown, "status"] = RowStatus.UNKNOWN_GENDER
    frame.loc[unknown, "note"] = "gender " + genders[unknown].map(repr)
    if ethnicity is not None:
        frame["ethnicity"] = pd.Categorical(frame["ethnicity"])
    return frame


def _class_folders(path: Path) -> dict[str, Path]:
    found = {child.name.lower(): child for child in path.iterdir() if child.is_dir()}
    return (
        {g: found[g] for g in config.GENDERS if g in found}
        if {"male", "female"} <= set(found)
        else {}
    )


def _read_class_folders(path: Path) -> pd.DataFrame:
    files, genders = [], []
    for gender, folder in _class_folders(path).items():
        for file in sorted(folder.rglob("*")):
            if file.is_file() and file.suffix.lower() in config.IMAGE_SUFFIXES:
                files.append(str(file.relative_to(path)))
                genders.append(gender)
    return _frame(pd.Series(files, dtype=str), path, pd.Series(genders, dtype=str), None)


def external_halves(frame: pd.DataFrame, seed: int = config.EXTERNAL_SPLIT_SEED) -> pd.Series:
    """'val' or 'test' per row: two halves, stratified by gender x ethnicity, fixed by ``seed``.

    Every choice made on an external collection is made on 'val'; 'test' is read once, by the
    cross-dataset report. The halves depend only on the file names and labels (rows are ordered
    by file first), so they stay the same whatever model is being judged.
    """
    order = np.argsort(frame["file"].to_numpy(), kind="stable")
    ordered = frame.iloc[order]
    # Formatted in Python, not with pandas' string concatenation: under pandas 3 a missing
    # ethnicity stays missing through ``astype(str)`` and the sum is NaN, which equals no key,
    # so a collection without ethnicities got no half at all.
    stratum = np.array(
        [
            f"{gender}|{ethnicity}"
            for gender, ethnicity in zip(ordered["gender"], ordered["ethnicity"], strict=True)
        ],
        dtype=object,
    )
    rng = np.random.default_rng(seed)
    halves = np.empty(len(frame), dtype=object)
    for key in sorted(set(stratum)):
        members = np.flatnonzero(stratum == key)
        members = members[rng.permutation(len(members))]
        start = int(rng.integers(2))  # odd-sized strata give their spare face to either half
        for i, member in enumerate(members):
            halves[member] = "val" if (i + start) % 2 == 0 else "test"
    result = np.empty(len(frame), dtype=object)
    result[order] = halves
    return pd.Series(result, index=frame.index, name="half")


def describe(collection: Collection) -> str:
    """One paragraph for a log or a report: where, which layout, how many usable, why not."""
    used, listed = len(collection.usable), len(collection.frame)
    line = f"{collection.name}: {listed:,} faces listed ({collection.layout} layout) at "
    line += f"{collection.root}; {used:,} usable"
    return line + not_usable(collection)


def not_usable(collection: Collection) -> str:
    """'; not usable: 3 unknown gender, ...' for a message, or '' when every listed face is."""
    problems = collection.problems()
    if not len(problems):
        return ""
    return "; not usable: " + ", ".join(f"{n:,} {reason}" for reason, n in problems.items())


_SAFE = re.compile(r"[^\w.-]+")


def slug(name: str) -> str:
    """A collection's name as a file-name part: 'fairface', 'my_faces'."""
    return _SAFE.sub("_", name).strip("_").lower() or "collection"
