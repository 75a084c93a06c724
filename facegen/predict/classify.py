"""``facegen predict``'s work: decode, find and cut faces in parallel, classify them in batches."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from facegen.faces.cache import worker_pool
from facegen.faces.decode import UnreadableImageError, decode_gray, header_dimensions
from facegen.faces.detect import FaceBox, crop_face, detect_faces
from facegen.faces.preprocess import preprocess_face
from facegen.predict.inputs import InputFile

MAX_PIXELS = 100_000_000
"""Photos above 100 megapixels are refused before decoding (an 8000x8000 photo is 64)."""


OK, NO_FACE, ERROR = "ok", "no face", "error"


_CHUNK = 32


_MIN_FILES_FOR_WORKERS = 64  # fewer files: starting worker processes costs more than it saves


@dataclass
class ImageResult:
    """Everything found in one file; ``probabilities[i]`` belongs to ``boxes[i]``."""

    file: str
    name: str
    status: str  # OK, NO_FACE or ERROR
    detail: str = ""
    width: int = 0
    height: int = 0
    boxes: list[FaceBox] = field(default_factory=list)
    faces: np.ndarray | None = None  # (n, size, size) uint8 model inputs, dropped once classified
    probabilities: np.ndarray | None = None  # P(labelled female) per face

    @property
    def processed(self) -> bool:
        return self.status != ERROR


def analyse_file(path: str | os.PathLike, size: int, cropped: bool) -> ImageResult:
    """Read one file and return its faces as model inputs, or the reason it has none."""
    path = Path(path)
    result = ImageResult(file=str(path), name=str(path), status=ERROR)
    try:
        data = path.read_bytes()
    except OSError as exc:
        result.detail = f"cannot be read ({exc.strerror or exc})"
        return result
    dimensions = header_dimensions(data)
    if dimensions and dimensions[0] * dimensions[1] > MAX_PIXELS:
        result.detail = (
            f"too large: {dimensions[0]}x{dimensions[1]} pixels "
            f"(over {MAX_PIXELS / 1e6:.0f} megapixels)"
        )
        return result
    try:
        gray = decode_gray(data, str(path))
    except UnreadableImageError as exc:
        result.detail = exc.reason
        return result
    except MemoryError:
        result.detail = "too large to decode in memory"
        return result
    result.height, result.width = gray.shape
    if cropped:
        result.boxes = [FaceBox(0, 0, result.width, result.height)]
        result.faces = preprocess_face(gray, size)[None]
    else:
        result.boxes = detect_faces(gray)
        result.faces = (
            np.stack([preprocess_face(crop_face(gray, box), size) for box in result.boxes])
            if result.boxes
            else np.zeros((0, size, size), np.uint8)
        )
    result.status = OK if result.boxes else NO_FACE
    return result


def _analyse_chunk(paths: list[str], size: int, cropped: bool) -> list[ImageResult]:
    return [analyse_file(path, size, cropped) for path in paths]


def _analysed(
    inputs: Sequence[InputFile], size: int, cropped: bool, workers: int | None
) -> Iterator[list[ImageResult]]:
    """Results in input order, a chunk at a time, decoded while the caller classifies.

    Already-cropped faces are cheap to decode, and shipping them back from worker processes costs
    more than it saves, so they are decoded on a thread next to the model (docs/decisions.md).
    Photos need face detection, which costs far more than the model, so they go to worker
    processes.
    """
    readable = [item for item in inputs if item.problem is None]
    chunks = [
        [str(item.path) for item in readable[i : i + _CHUNK]]
        for i in range(0, len(readable), _CHUNK)
    ]
    workers = workers or os.cpu_count() or 1
    if cropped or workers == 1 or len(readable) < _MIN_FILES_FOR_WORKERS:
        yield from _prefetched(_analyse_chunk(chunk, size, cropped) for chunk in chunks)
        return
    with worker_pool(workers) as pool:
        yield from pool.map(_analyse_chunk, chunks, [size] * len(chunks), [cropped] * len(chunks))


def _prefetched(results: Iterator[list[ImageResult]], depth: int = 8):
    """Run ``results`` on a background thread, at most ``depth`` chunks ahead of the consumer.

    OpenCV and TensorFlow both release the GIL while they compute, so decoding the next chunks
    overlaps with classifying the current one.
    """
    done = object()
    pending: queue.Queue = queue.Queue(maxsize=depth)

    def produce() -> None:
        try:
            for item in results:
                pending.put(item)
        except BaseException as exc:  # handed to the consumer, raised there
            pending.put(_Failed(exc))
        pending.put(done)

    threading.Thread(target=produce, daemon=True, name="facegen-decode").start()
    while (item := pending.get()) is not done:
        if isinstance(item, _Failed):
            raise item.error
        yield item


@dataclass
class _Failed:
    error: BaseException


def classify_files(
    inputs: Sequence[InputFile],
    model,
    *,
    cropped: bool = False,
    batch_size: int = 1024,
    workers: int | None = None,
    progress: bool = True,
    views: str | None = None,
) -> list[ImageResult]:
    """One result per input, in order: faces found, boxes and probabilities, or a status.

    Faces are classified ``batch_size`` at a time while the next chunks are decoded.
    ``views`` None follows ``config.TEST_TIME_VIEWS``, as the evaluation notebook does.
    """
    from facegen.modeling.inference import predict_proba

    size = int(model.input_shape[1])
    results: dict[str, ImageResult] = {}
    pending: list[ImageResult] = []

    def flush() -> None:
        if not pending:
            return
        faces = np.concatenate([r.faces for r in pending])
        probabilities = predict_proba(model, faces, batch_size=batch_size, views=views)
        offset = 0
        for result in pending:
            n = len(result.faces)
            result.probabilities = probabilities[offset : offset + n]
            result.faces = None
            offset += n
        pending.clear()

    with tqdm(
        total=len(inputs), desc="classifying", unit="img", disable=not progress, leave=False
    ) as bar:
        for item in inputs:
            if item.problem is not None:
                results[str(item.path)] = ImageResult(
                    str(item.path), item.name, ERROR, item.problem
                )
                bar.update()
        names = {str(item.path): item.name for item in inputs}
        for chunk in _analysed(inputs, size, cropped, workers):
            for result in chunk:
                result.name = names[result.file]
                results[result.file] = result
                if result.faces is not None and len(result.faces):
                    pending.append(result)
            if sum(len(r.faces) for r in pending) >= batch_size:
                flush()
            bar.update(len(chunk))
        flush()
    return [results[str(item.path)] for item in inputs]
