"""Turn image files into the model's input: decoded, grayscale, resized uint8 arrays.

``preprocess_face`` is the one preprocessing function: training, evaluation and ``facegen
predict`` all call it, so a face is seen the same way everywhere. Batch work runs on all cores
(OpenCV releases the GIL), skips unreadable files with a reason, and is cached on disk.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from facegen import config
from facegen.atomic import atomic_path

log = logging.getLogger(__name__)

PREPROCESSING_VERSION = 1
"""Bump when preprocessing changes: cached arrays from older code are then rebuilt."""

_MAGIC = {
    b"\xff\xd8\xff": "jpeg",
    b"\x89PNG\r\n\x1a\n": "png",
    b"BM": "bmp",
    b"GIF8": "gif",
    b"II*\x00": "tiff",
    b"MM\x00*": "tiff",
}


class UnreadableImageError(ValueError):
    """A file that cannot be used as an image; the message names the file and the problem."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source, self.reason = source, reason


def image_format(data: bytes) -> str | None:
    """The container format from the first bytes, or None when it is not an image we know."""
    for magic, name in _MAGIC.items():
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def header_dimensions(data: bytes) -> tuple[int, int] | None:
    """Width and height from a JPEG or PNG header, without decoding (None when not found).

    Lets a caller refuse a gigantic photo before OpenCV allocates memory for every pixel.
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if not data.startswith(b"\xff\xd8"):
        return None
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        # Start-of-frame markers (baseline, progressive, ...) hold the size; C4, C8, CC do not.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            return width, height
        i += 2 + length
    return None


def decode_gray(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode image bytes to a 2-D uint8 grayscale array, or say precisely why not.

    OpenCV decodes a truncated JPEG without complaint (it fills the missing rows with grey), so
    truncation is checked explicitly from the end-of-image marker; a face half made of grey would
    otherwise slip silently into training.
    """
    if not data:
        raise UnreadableImageError(source, "empty file (0 bytes)")
    kind = image_format(data)
    if kind is None:
        raise UnreadableImageError(source, "not an image (unrecognised file format)")
    if kind == "jpeg" and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise UnreadableImageError(source, "truncated JPEG (no end-of-image marker)")
    if kind == "png" and b"IEND" not in data[-32:]:
        raise UnreadableImageError(source, "truncated PNG (no IEND chunk)")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None or image.size == 0:
        raise UnreadableImageError(source, f"corrupt {kind.upper()} (OpenCV could not decode it)")
    return image


def preprocess_face(gray: np.ndarray, size: int = config.IMAGE_SIZE) -> np.ndarray:
    """Resize a grayscale face crop to the model's ``size`` x ``size`` input.

    INTER_AREA when shrinking (it averages, so no aliasing from 200 px crops), bilinear when
    enlarging. Colour input is converted here too, so callers holding a BGR crop can pass it.
    """
    if gray.ndim == 3:
        gray = cv2.cvtColor(gray, cv2.COLOR_BGRA2GRAY if gray.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    if gray.dtype != np.uint8:
        gray = cv2.normalize(gray, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    shrinking = gray.shape[0] >= size and gray.shape[1] >= size
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(gray, (size, size), interpolation=interpolation)


def load_face(path: str | os.PathLike, size: int = config.IMAGE_SIZE) -> np.ndarray:
    """Read one already-cropped face file into the model's input (raises UnreadableImageError)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableImageError(str(path), f"cannot be read ({exc.strerror or exc})") from None
    return preprocess_face(decode_gray(data, str(path)), size)


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
    dies because of one bad file. Work is spread over processes, not threads: per image the
    Python around OpenCV costs as much as the decode itself, so threads fight over the GIL and
    run slower than one (measured in benchmarks/bench_data.py).
    """
    workers = max(1, min(workers or os.cpu_count() or 1, len(paths) // _MIN_PER_WORKER))
    paths = [str(p) for p in paths]
    chunks = [paths[i : i + _CHUNK] for i in range(0, len(paths), _CHUNK)]
    images = np.zeros((len(paths), size, size), np.uint8)
    errors: list[str | None] = []
    with tqdm(total=len(paths), desc="preprocessing", unit="img", disable=not progress) as bar:
        if workers == 1:
            results = map(_preprocess_chunk, chunks, [size] * len(chunks))
            pool = None
        else:
            pool = worker_pool(workers)
            results = pool.map(_preprocess_chunk, chunks, [size] * len(chunks))
        try:
            offset = 0
            for chunk_images, chunk_errors in results:
                images[offset : offset + len(chunk_errors)] = chunk_images
                errors.extend(chunk_errors)
                offset += len(chunk_errors)
                bar.update(len(chunk_errors))
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
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


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """Processes from a fork server that has imported this module (and the detector) once.

    Plain fork copies whatever locks the parent's threads held (OpenCV's pool, tqdm's monitor,
    TensorFlow's pools in a notebook) and the children can deadlock; spawning re-imports
    everything per worker. A fork server pays the import once per session, then forks cheaply
    from a process that never started those threads. Each worker uses one OpenCV thread.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__, "facegen.inference"])
    else:
        context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(
        workers, mp_context=context, initializer=cv2.setNumThreads, initargs=(1,)
    )


def cache_key(files: Sequence[str], fingerprints: Sequence[str], size: int) -> str:
    """Changes when any file, the image size or the preprocessing code changes."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update(f"v{PREPROCESSING_VERSION};size={size};cv2={cv2.__version__}\n".encode())
    for name, fingerprint in zip(files, fingerprints, strict=False):
        digest.update(f"{name}\t{fingerprint}\n".encode())
    return digest.hexdigest()


def load_faces(
    frame: pd.DataFrame,
    size: int = config.IMAGE_SIZE,
    *,
    cache: bool = True,
    progress: bool = True,
) -> FaceArrays:
    """Preprocess every file of ``frame`` (rows with status ok), from the cache when it is valid.

    The cache file name is the key, so a stale cache is never read: a changed file, size or code
    version simply looks for a different file, and the new one is written atomically.
    """
    rows = frame[frame["status"].eq("ok")]
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
        try:
            with atomic_path(cache_file) as tmp, open(tmp, "wb") as handle:
                np.savez(
                    handle,
                    images=faces.images,
                    files=np.array(faces.files, dtype=str),
                    error_files=np.array(list(faces.errors), dtype=str),
                    error_reasons=np.array(list(faces.errors.values()), dtype=str),
                )
        except OSError as exc:
            log.warning("Could not write cache %s (%s)", cache_file, exc)
    return faces


def preprocessing_steps(
    paths: Sequence[str | os.PathLike], size: int = config.IMAGE_SIZE
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """The original (BGR), grayscale and model-input image of each file, to show the pipeline.

    Uses the same ``decode_gray`` and ``preprocess_face`` as training, so what the notebook
    shows is what the model gets.
    """
    originals, grays, finals = [], [], []
    for path in paths:
        data = Path(path).read_bytes()
        originals.append(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR))
        gray = decode_gray(data, str(path))
        grays.append(gray)
        finals.append(preprocess_face(gray, size))
    return originals, grays, finals
