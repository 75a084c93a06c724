"""Frame a whole collection of face crops: decode, detect, align, preprocess, cache.

Detection costs tens of milliseconds a face, so a collection is framed once and its model
inputs are cached under ``data/processed/``, keyed by each file's path, size and modification
time, the model size and the framing code's version; a changed file or version simply looks
for another file. Unreadable files are skipped with their reason, never fatal.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from facegen import config
from facegen.faces.align import ALIGNED_SIZE, TEMPLATE
from facegen.faces.cache import write_arrays
from facegen.faces.decode import UnreadableImageError, decode
from facegen.faces.framing import FramedFace, Framing, frame_crops
from facegen.faces.workers import default_workers, ordered_map

log = logging.getLogger(__name__)

FRAMING_VERSION = 5
"""Bump when detection, alignment or preprocessing of external faces changes."""
_BATCH = 64
_MIN_FOR_WORKERS = 1024  # below this, starting worker processes costs more than it saves


@dataclass
class FramedArrays:
    """``images[i]`` is ``files[i]``, framed as ``framing[i]``; ``errors``: why others were not."""

    images: np.ndarray
    files: list[str]
    framing: list[Framing]
    turn: np.ndarray  # head turn per face (``framing.head_turn``), NaN when framed whole
    errors: dict[str, str] = field(default_factory=dict)
    from_cache: bool = False


def frame_files(
    files: Sequence[str],
    paths: Sequence[str | os.PathLike],
    size: int = config.IMAGE_SIZE,
    *,
    cache: bool = True,
    progress: bool = False,
) -> FramedArrays:
    """Each file as one face (``frame_crops``), from the cache when it is valid."""
    cache_file = config.cache_dir() / f"framed-{size}px-{_key(paths, size)}.npz"
    if cache and cache_file.exists():
        try:
            return _read(cache_file)
        except Exception as exc:  # a damaged cache is rebuilt, not trusted
            log.warning("Rebuilding unreadable cache %s (%s)", cache_file, exc)
    framed = _frame_all(list(files), [str(p) for p in paths], size, progress)
    if cache:
        _write(cache_file, framed)
    return framed


def _frame_all(files: list[str], paths: list[str], size: int, progress: bool) -> FramedArrays:
    chunks = [
        (files[start : start + _BATCH], paths[start : start + _BATCH])
        for start in range(0, len(paths), _BATCH)
    ]
    workers = default_workers() if len(paths) >= _MIN_FOR_WORKERS else 1
    bar = tqdm(total=len(paths), desc="framing faces", unit="face", disable=not progress)
    images, kept, framing, turns, errors = [], [], [], [], {}
    for chunk in ordered_map(functools.partial(_frame_chunk, size=size), chunks, workers):
        for name, result in chunk.framed:
            images.append(result.face)
            kept.append(name)
            framing.append(result.framing)
            turns.append(result.turn)
        errors.update(chunk.errors)
        bar.update(len(chunk.framed) + len(chunk.errors))
    bar.close()
    stacked = np.stack(images) if images else np.zeros((0, size, size), np.uint8)
    return FramedArrays(stacked, kept, framing, np.array(turns, dtype=np.float64), errors)


@dataclass
class _Chunk:
    framed: list[tuple[str, FramedFace]]
    errors: dict[str, str]


def _frame_chunk(chunk: tuple[list[str], list[str]], size: int) -> _Chunk:
    """One chunk of files framed, in a worker process or this one; a bad file is a reason."""
    rgbs, grays, names, errors = [], [], [], {}
    for name, path in zip(*chunk, strict=True):
        try:
            rgb, gray = decode(Path(path).read_bytes(), path)
        except UnreadableImageError as exc:
            errors[name] = exc.reason
        except OSError as exc:
            errors[name] = f"cannot be read ({exc.strerror or exc})"
        except MemoryError:
            errors[name] = "too large to decode in memory"
        else:
            rgbs.append(rgb)
            grays.append(gray)
            names.append(name)
    return _Chunk(list(zip(names, frame_crops(rgbs, grays, size), strict=True)), errors)


def _key(paths: Sequence[str | os.PathLike], size: int) -> str:
    digest = hashlib.blake2b(digest_size=12)
    digest.update(f"v{FRAMING_VERSION};size={size};aligned={ALIGNED_SIZE}\n".encode())
    digest.update(TEMPLATE.tobytes())
    for path in paths:
        try:
            stat = os.stat(path)
            digest.update(f"{os.path.abspath(path)}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
        except OSError:
            digest.update(f"{path}\tmissing\n".encode())
    return digest.hexdigest()


def _read(cache_file: Path) -> FramedArrays:
    with np.load(cache_file, allow_pickle=False) as stored:
        return FramedArrays(
            images=stored["images"],
            files=stored["files"].tolist(),
            framing=[Framing(name) for name in stored["framing"].tolist()],
            turn=stored["turn"],
            errors=dict(
                zip(stored["error_files"].tolist(), stored["error_reasons"].tolist(), strict=True)
            ),
            from_cache=True,
        )


def _write(cache_file: Path, framed: FramedArrays) -> None:
    write_arrays(
        cache_file,
        images=framed.images,
        files=np.array(framed.files, dtype=str),
        framing=np.array(framed.framing, dtype=str),
        turn=framed.turn,
        error_files=np.array(list(framed.errors), dtype=str),
        error_reasons=np.array(list(framed.errors.values()), dtype=str),
    )
