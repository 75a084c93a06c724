"""Preprocess many files on all cores, skip unreadable ones with a reason, and cache the arrays."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from facegen import config
from facegen.atomic import atomic_path
from facegen.faces.decode import UnreadableImageError
from facegen.faces.preprocess import load_face
from facegen.faces.workers import default_workers, ordered_map

log = logging.getLogger(__name__)


PREPROCESSING_VERSION = 1
"""Bump when preprocessing changes: cached arrays from older code are then rebuilt."""


@dataclass
class FaceArrays:
    """Preprocessed faces: ``images[i]`` is ``files[i]``; ``errors`` says why files were skipped."""

    images: np.ndarray
    files: list[str]
    errors: dict[str, str] = field(default_factory=dict)
    from_cache: bool = False

    def index_for(self, names: Sequence[str]) -> np.ndarray:
        """Row numbers of ``names`` in ``images``, so a frame can pick its faces."""
        position = {name: i for i, name in enumerate(self.files)}
        return np.fromiter((position[n] for n in names), dtype=np.int64, count=len(names))


def preprocess_files(
    paths: Sequence[str | os.PathLike],
    size: int = config.IMAGE_SIZE,
    *,
    workers: int | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, list[str | None]]:
    """Preprocess many files on all cores; returns the images and, per file, None or the reason.

    Rows of unreadable files are left black and must be dropped using the reasons: a batch never
    dies because of one bad file. Work is spread over processes (``faces.workers``).
    """
    workers = max(1, min(workers or default_workers(), len(paths) // _MIN_PER_WORKER))
    paths = [str(p) for p in paths]
    chunks = [paths[i : i + _CHUNK] for i in range(0, len(paths), _CHUNK)]
    images = np.zeros((len(paths), size, size), np.uint8)
    errors: list[str | None] = []
    with tqdm(total=len(paths), desc="preprocessing", unit="img", disable=not progress) as bar:
        offset = 0
        for chunk_images, chunk_errors in ordered_map(
            functools.partial(_preprocess_chunk, size=size), chunks, workers
        ):
            images[offset : offset + len(chunk_errors)] = chunk_images
            errors.extend(chunk_errors)
            offset += len(chunk_errors)
            bar.update(len(chunk_errors))
    return images, errors


_CHUNK = 1024


_MIN_PER_WORKER = 2048  # below this, starting a process costs more than it saves


def _preprocess_chunk(paths: list[str], size: int) -> tuple[np.ndarray, list[str | None]]:
    images = np.zeros((len(paths), size, size), np.uint8)
    errors: list[str | None] = [None] * len(paths)
    for i, path in enumerate(paths):
        try:
            images[i] = load_face(path, size)
        except UnreadableImageError as exc:
            errors[i] = exc.reason
    return images, errors


def cache_key(files: Sequence[str], fingerprints: Sequence[str], size: int) -> str:
    """Changes when any file, the image size or the preprocessing code changes."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update(f"v{PREPROCESSING_VERSION};size={size};cv2={cv2.__version__}\n".encode())
    for name, fingerprint in zip(files, fingerprints, strict=False):
        digest.update(f"{name}\t{fingerprint}\n".encode())
    return digest.hexdigest()


def load_faces(
    rows: pd.DataFrame,
    size: int = config.IMAGE_SIZE,
    *,
    cache: bool = True,
    progress: bool = True,
) -> FaceArrays:
    """Preprocess the file of every row (``file``, ``path``, ``fingerprint``: a frame's usable
    rows), from the cache when it is valid.

    The cache file name is the key, so a stale cache is never read: a changed file, size or code
    version simply looks for a different file, and the new one is written atomically.
    """
    files, paths = rows["file"].tolist(), rows["path"].tolist()
    key = cache_key(files, rows["fingerprint"].tolist(), size)
    cache_file = config.cache_dir() / f"faces-{size}px-{key}.npz"
    if cache and cache_file.exists():
        try:
            with np.load(cache_file, allow_pickle=False) as stored:
                return FaceArrays(
                    images=stored["images"],
                    files=stored["files"].tolist(),
                    errors=dict(
                        zip(
                            stored["error_files"].tolist(),
                            stored["error_reasons"].tolist(),
                            strict=False,
                        )
                    ),
                    from_cache=True,
                )
        except Exception as exc:  # a damaged cache is rebuilt, not trusted
            log.warning("Rebuilding unreadable cache %s (%s)", cache_file, exc)
    images, reasons = preprocess_files(paths, size, progress=progress)
    good = [i for i, reason in enumerate(reasons) if reason is None]
    faces = FaceArrays(
        images=images[good],
        files=[files[i] for i in good],
        errors={files[i]: r for i, r in enumerate(reasons) if r is not None},
    )
    if cache:
        write_arrays(
            cache_file,
            images=faces.images,
            files=np.array(faces.files, dtype=str),
            error_files=np.array(list(faces.errors), dtype=str),
            error_reasons=np.array(list(faces.errors.values()), dtype=str),
        )
    return faces


def write_arrays(path: Path, **arrays: np.ndarray) -> None:
    """Cache arrays atomically; a read-only cache only makes the next run slower, never fails."""
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
    except OSError as exc:
        log.warning("Could not write cache %s (%s)", path, exc)
