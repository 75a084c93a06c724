"""Find or download UTKFace and read its labels from the file names.

The labels live only in the names (``{age}_{gender}_{race}_{datetime}.jpg.chip.jpg``), and the
real set has malformed ones; every decision is recorded in the frame's ``status`` and ``note``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from facegen import config
from facegen.atomic import atomic_write_text
from facegen.data.duplicates import fingerprint_file, mark_duplicates
from facegen.data.frame import FRAME_COLUMNS, RowStatus, age_band
from facegen.errors import UsageError

log = logging.getLogger(__name__)


_STANDARD_SUFFIX = ".jpg.chip.jpg"


_NAME = re.compile(
    r"^(?P<age>\d+)_(?P<gender>\d+)_(?:(?P<race>\d+)_)?(?P<stamp>\d{6,})(?P<suffix>\D.*)?$"
)


class DataNotFoundError(UsageError):
    """No usable UTKFace folder could be found or downloaded; the message says what to do."""


def locate_data_dir(path: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """Return the folder of face images to use, looking where a user would expect.

    Order: an explicit ``path``; ``$FACEGEN_DATA_DIR``; ``data/raw/`` of the checkout; else a
    download of the Kaggle dataset with kagglehub. An explicit path or variable that does not hold
    images is an error rather than a silent fall-through, so a typo never triggers a download.
    """
    if path is not None:
        return resolve_image_folder(Path(path), origin="the path given")
    env = os.environ.get(config.DATA_DIR_ENV)
    if env:
        return resolve_image_folder(Path(env), origin=f"${config.DATA_DIR_ENV}")
    raw = config.default_raw_dir()
    if raw.is_dir() and any(p.name != ".gitkeep" for p in raw.iterdir()):
        return resolve_image_folder(raw, origin="data/raw/")
    if not download:
        raise DataNotFoundError(_how_to_provide("No data folder was given and downloading is off."))
    return resolve_image_folder(download_utkface(), origin="the Kaggle download")


def download_utkface() -> Path:
    """Download ``jangedoo/utkface-new`` with kagglehub (it shows its own progress bar)."""
    try:
        import kagglehub

        log.info("Downloading %s with kagglehub ...", config.KAGGLE_HANDLE)
        return Path(kagglehub.dataset_download(config.KAGGLE_HANDLE))
    except Exception as exc:  # kagglehub raises many types; the user needs one clear message
        raise DataNotFoundError(
            _how_to_provide(f"Downloading {config.KAGGLE_HANDLE} from Kaggle failed ({exc}).")
        ) from None


def _how_to_provide(problem: str) -> str:
    return (
        f"{problem}\nTo use UTKFace, either set {config.DATA_DIR_ENV} to a folder of UTKFace "
        f"images (the aligned 'UTKFace' folder, 'crop_part1', or the Kaggle archive's folder), "
        f"or put the Kaggle archive's folder under {config.default_raw_dir()}, "
        f"or connect to the internet so kagglehub can download {config.KAGGLE_HANDLE}."
    )


def resolve_image_folder(root: Path, *, origin: str = "the data folder") -> Path:
    """Return the image folder, given either it or a parent in Kaggle's layout."""
    root = root.expanduser()
    if not root.exists():
        raise DataNotFoundError(_how_to_provide(f"{root} ({origin}) does not exist."))
    if not root.is_dir():
        raise DataNotFoundError(_how_to_provide(f"{root} ({origin}) is not a folder."))
    if _holds_utkface_names(root):
        return root
    for sub in config.KNOWN_SUBFOLDERS:
        candidate = root / sub
        if candidate.is_dir() and _holds_utkface_names(candidate):
            return candidate
    for child in sorted(p for p in root.iterdir() if p.is_dir()):  # e.g. data/raw/utkface-new/
        for sub in ("", *config.KNOWN_SUBFOLDERS):
            candidate = child / sub if sub else child
            if candidate.is_dir() and _holds_utkface_names(candidate):
                return candidate
    raise DataNotFoundError(
        _how_to_provide(f"{root} ({origin}) holds no files named like UTKFace images.")
    )


def _holds_utkface_names(folder: Path) -> bool:
    with os.scandir(folder) as entries:
        return any(entry.is_file() and _NAME.match(entry.name) for entry in entries)


@dataclass(frozen=True)
class ParsedName:
    """What a file name says; ``error`` is set when the file cannot be used at all."""

    age: int | None = None
    gender: int | None = None
    race: int | None = None
    note: str = ""
    error: str = ""


def parse_name(name: str) -> ParsedName:
    """Read age, gender and race from a UTKFace file name, tolerating the real set's mistakes.

    Kept with a note: a missing race field (age and gender are still readable; ethnicity becomes
    unknown) and a mangled extension. Excluded: names that do not follow the pattern and labels out
    of range (for example a gender of 3, which is what a name missing its gender field looks like).
    """
    match = _NAME.match(name)
    if not match:
        return ParsedName(error=RowStatus.NOT_A_UTKFACE_NAME)
    age, gender = int(match["age"]), int(match["gender"])
    race = int(match["race"]) if match["race"] is not None else None
    notes = []
    if race is None:
        notes.append("race field missing: ethnicity unknown")
    suffix = match["suffix"] or ""
    if suffix != _STANDARD_SUFFIX and suffix.lower() not in config.IMAGE_SUFFIXES:
        if suffix.strip() == _STANDARD_SUFFIX:
            notes.append("space before the extension")
        elif suffix == _STANDARD_SUFFIX.lstrip("."):
            notes.append("no dot before the extension")
        else:
            notes.append(f"unusual extension {suffix!r}")
    problems = []
    if not 0 <= age <= config.MAX_AGE:
        problems.append(f"age {age}")
    if gender not in range(len(config.GENDERS)):
        problems.append(f"gender {gender}")
    if race is not None and race not in range(len(config.ETHNICITIES)):
        problems.append(f"race {race}")
    if problems:
        return ParsedName(
            age, gender, race, "; ".join(notes), f"{RowStatus.INVALID_LABEL}: {', '.join(problems)}"
        )
    return ParsedName(age, gender, race, "; ".join(notes))


def scan_folder(folder: Path, *, use_index_cache: bool = True) -> pd.DataFrame:
    """One row per file in ``folder``: labels from the name and a content fingerprint.

    Fingerprints are BLAKE2 hashes of the bytes. Hashing 100 MB each time would dominate a warm
    start, so they are remembered in an index keyed by (name, size, mtime); a file that changes
    gets a new size or mtime and is hashed again.
    """
    folder = Path(folder).resolve()
    prefix = str(folder) + os.sep
    if not folder.is_dir():
        raise DataNotFoundError(_how_to_provide(f"{folder} is not a folder."))
    with os.scandir(folder) as entries:
        files = sorted(
            (e.name, e.stat()) for e in entries if e.is_file() and not e.name.startswith(".")
        )
    known = _read_index(folder) if use_index_cache else {}
    rows, fresh = [], {}
    for name, st in files:
        key = (name, st.st_size, st.st_mtime_ns)
        fingerprint = known.get(key)
        if fingerprint is None:
            fingerprint = fingerprint_file(prefix + name)
            fresh[key] = fingerprint
        parsed = parse_name(name)
        rows.append(
            (
                name,
                prefix + name,
                parsed.age,
                parsed.gender,
                parsed.race,
                st.st_size,
                fingerprint,
                parsed.error or RowStatus.OK,
                parsed.note,
            )
        )
    if use_index_cache and fresh:
        _write_index(folder, {**{k: v for k, v in known.items()}, **fresh}, files)
    frame = pd.DataFrame(
        rows,
        columns=[
            "file",
            "path",
            "age",
            "gender_code",
            "race_code",
            "size_bytes",
            "fingerprint",
            "status",
            "note",
        ],
    )
    return _label_columns(frame)


def _label_columns(frame: pd.DataFrame) -> pd.DataFrame:
    ok = frame["status"].eq(RowStatus.OK)
    gender = frame["gender_code"].where(ok)
    race = frame["race_code"].where(ok)
    frame["age"] = frame["age"].astype("Int64")
    frame["gender"] = pd.Categorical.from_codes(
        gender.fillna(-1).astype(int), categories=list(config.GENDERS)
    )
    frame["ethnicity"] = pd.Categorical.from_codes(
        race.fillna(-1).astype(int), categories=list(config.ETHNICITIES)
    )
    frame["age_band"] = age_band(frame["age"].where(ok).astype("Float64").to_numpy(na_value=np.nan))
    frame["dup_group"] = -1
    return frame.drop(columns=["gender_code", "race_code"])[list(FRAME_COLUMNS)]


def _index_path(folder: Path) -> Path:
    digest = hashlib.blake2b(str(folder).encode(), digest_size=8).hexdigest()
    return config.cache_dir() / "index" / f"{folder.name}-{digest}.csv"


def _read_index(folder: Path) -> dict[tuple[str, int, int], str]:
    path = _index_path(folder)
    if not path.exists():
        return {}
    try:
        table = pd.read_csv(path, dtype={"file": str, "fingerprint": str}, keep_default_na=False)
        return {
            (f, int(s), int(m)): h
            for f, s, m, h in zip(
                table["file"], table["size"], table["mtime_ns"], table["fingerprint"], strict=False
            )
        }
    except Exception as exc:  # a damaged index only costs a re-hash
        log.warning("Ignoring unreadable fingerprint index %s (%s)", path, exc)
        return {}


def _write_index(folder: Path, known: dict, files: list) -> None:
    current = {(name, st.st_size, st.st_mtime_ns) for name, st in files}
    table = pd.DataFrame(
        [(f, s, m, h) for (f, s, m), h in sorted(known.items()) if (f, s, m) in current],
        columns=["file", "size", "mtime_ns", "fingerprint"],
    )
    try:
        atomic_write_text(_index_path(folder), table.to_csv(index=False))
    except OSError as exc:  # read-only cache: still correct, just slower next time
        log.warning("Could not save fingerprint index (%s)", exc)


def load_frame(path: str | os.PathLike | None = None, *, download: bool = True) -> pd.DataFrame:
    """Locate the data, scan it and mark duplicates: the labelled frame before any image is read."""
    folder = locate_data_dir(path, download=download)
    return mark_duplicates(scan_folder(folder))
