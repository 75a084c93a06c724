"""``facegen predict``'s work: decode, find and cut faces on worker processes, classify them in
batches in this one."""

from __future__ import annotations

import functools
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np
from tqdm import tqdm

from facegen.faces.decode import UnreadableImageError, decode, header_dimensions
from facegen.faces.detect import MIN_FACE_FRACTION, FaceBox, detect_faces, min_face_width
from facegen.faces.framing import Framing, frame_crops, frame_photo
from facegen.faces.workers import default_workers, ordered_map
from facegen.predict.inputs import InputFile

MAX_PIXELS = 100_000_000
"""Photos above 100 megapixels are refused before decoding (an 8000x8000 photo is 64)."""


class PredictStatus(StrEnum):
    """What ``facegen predict`` made of one file, in its output's ``status`` column: faces
    classified, none found, or the file could not be used (``detail`` says why)."""

    OK = "ok"
    NO_FACE = "no face"
    ERROR = "error"


_CHUNK = 32
"""Files handed to a worker at once: enough to batch the detector and the model..."""
_PHOTO_CHUNK = 4
"""...but photos, each costing as much as dozens of crops, go a few at a time, so that every
worker stays busy to the end of a batch."""


@dataclass
class ImageResult:
    """Everything found in one file; ``probabilities[i]`` belongs to ``boxes[i]``."""

    file: str
    name: str
    status: PredictStatus
    detail: str = ""
    width: int = 0
    height: int = 0
    boxes: list[FaceBox] = field(default_factory=list)
    framing: list[Framing] = field(default_factory=list)  # per face
    faces: np.ndarray | None = None  # (n, size, size) uint8 model inputs, dropped once classified
    probabilities: np.ndarray | None = None  # P(labelled female) per face

    @property
    def processed(self) -> bool:
        return self.status != PredictStatus.ERROR


def _decoded(path: str | os.PathLike) -> tuple[ImageResult, np.ndarray | None, np.ndarray | None]:
    """The file's result so far, with its colour and grayscale images, or the reason it has none."""
    path = Path(path)
    result = ImageResult(file=str(path), name=str(path), status=PredictStatus.ERROR)
    try:
        data = path.read_bytes()
    except OSError as exc:
        result.detail = f"cannot be read ({exc.strerror or exc})"
        return result, None, None
    dimensions = header_dimensions(data)
    if dimensions and dimensions[0] * dimensions[1] > MAX_PIXELS:
        result.detail = (
            f"too large: {dimensions[0]}x{dimensions[1]} pixels "
            f"(over {MAX_PIXELS / 1e6:.0f} megapixels)"
        )
        return result, None, None
    try:
        rgb, gray = decode(data, str(path))
    except UnreadableImageError as exc:
        result.detail = exc.reason
        return result, None, None
    except MemoryError:
        result.detail = "too large to decode in memory"
        return result, None, None
    result.height, result.width = gray.shape
    return result, rgb, gray


def analyse_files(
    paths: Sequence[str | os.PathLike], size: int, cropped: bool
) -> list[ImageResult]:
    """Read files and return their faces as model inputs, or the reason they have none.

    ``cropped``: each file is one face (aligned when its landmarks are found, else whole).
    Otherwise every face in each photo is found and aligned.
    """
    decoded = [_decoded(path) for path in paths]
    readable = [(result, rgb, gray) for result, rgb, gray in decoded if rgb is not None]
    if cropped:
        framed = frame_crops([rgb for _, rgb, _ in readable], [g for _, _, g in readable], size)
        per_file = [[face] for face in framed]
    else:
        found = detect_faces([rgb for _, rgb, _ in readable])
        per_file = [
            frame_photo(rgb, gray, faces, size)
            for (_, rgb, gray), faces in zip(readable, found, strict=True)
        ]
        for (result, rgb, _), faces, kept in zip(readable, found, per_file, strict=True):
            result.detail = _ignored(rgb, len(faces) - len(kept), other=bool(kept))
    for (result, _, _), faces in zip(readable, per_file, strict=True):
        result.boxes = [face.box for face in faces]
        result.framing = [face.framing for face in faces]
        result.faces = (
            np.stack([face.face for face in faces])
            if faces
            else np.zeros((0, size, size), np.uint8)
        )
        result.status = PredictStatus.OK if faces else PredictStatus.NO_FACE
    return [result for result, _, _ in decoded]


def _ignored(image: np.ndarray, count: int, *, other: bool) -> str:
    """Why faces the detector found are not in the result: too small for the photo.

    Without it a photo whose only face is small says "no face" with no reason given.
    """
    if not count:
        return ""
    smallest = min_face_width(image)
    faces = f"{count} {'other ' if other else ''}{'face' if count == 1 else 'faces'}"
    return (
        f"{faces} too small to classify (narrower than {smallest:.0f} px, "
        f"{MIN_FACE_FRACTION:.0%} of the photo's shorter side)"
    )


def analyse_file(path: str | os.PathLike, size: int, cropped: bool) -> ImageResult:
    """One file's faces as model inputs, or the reason it has none."""
    return analyse_files([path], size, cropped)[0]


def _analysed(
    inputs: Sequence[InputFile], size: int, cropped: bool, workers: int
) -> Iterator[list[ImageResult]]:
    """Results in input order, a chunk at a time, found and framed while the caller classifies.

    With more than one worker, chunks go to worker processes; with one, to a background thread
    of this process (onnxruntime and OpenCV release the GIL), which also spares a single photo
    the workers' start-up.
    """
    readable = [item for item in inputs if item.problem is None]
    step = _CHUNK if cropped else _PHOTO_CHUNK
    chunks = [
        [str(item.path) for item in readable[i : i + step]] for i in range(0, len(readable), step)
    ]
    analyse = functools.partial(analyse_files, size=size, cropped=cropped)
    if workers > 1 and len(chunks) > 1:
        yield from ordered_map(analyse, chunks, workers)
    else:
        yield from _prefetched(analyse(chunk) for chunk in chunks)


def _prefetched(results: Iterator[list[ImageResult]], depth: int = 8):
    """Run ``results`` on a background thread, at most ``depth`` chunks ahead of the consumer.

    OpenCV and onnxruntime both release the GIL while they compute, so decoding the next chunks
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


def classify_analysed(
    results: Sequence[ImageResult], model, *, batch_size: int = 1024, views: str | None = None
) -> None:
    """Classify the faces of analysed results in one pass, ``batch_size`` per model call: each
    result with faces gets its ``probabilities`` and lets go of its ``faces``. The one place
    where in-process and Ray jobs (``predict.on_ray``) meet the model."""
    from facegen.modeling.inference import predict_proba

    with_faces = [r for r in results if r.faces is not None and len(r.faces)]
    if not with_faces:
        return
    faces = np.concatenate([r.faces for r in with_faces])
    probabilities = predict_proba(model, faces, batch_size=batch_size, views=views)
    offset = 0
    for result in with_faces:
        n = len(result.faces)
        result.probabilities = probabilities[offset : offset + n]
        result.faces = None
        offset += n


def classify_files(
    inputs: Sequence[InputFile],
    model,
    *,
    cropped: bool = False,
    batch_size: int = 1024,
    progress: bool = True,
    views: str | None = None,
    workers: int | None = None,
) -> list[ImageResult]:
    """One result per input, in order: faces found, boxes and probabilities, or a status.

    Faces are classified ``batch_size`` at a time while the next chunks are decoded and searched
    on ``workers`` processes (None: one per core). ``views`` None follows
    ``config.TEST_TIME_VIEWS``, as the evaluation notebook does.
    """
    size = int(model.input_shape[1])
    results: dict[str, ImageResult] = {}
    pending: list[ImageResult] = []

    def flush() -> None:
        classify_analysed(pending, model, batch_size=batch_size, views=views)
        pending.clear()

    with tqdm(
        total=len(inputs), desc="classifying", unit="img", disable=not progress, leave=False
    ) as bar:
        for item in inputs:
            if item.problem is not None:
                results[str(item.path)] = ImageResult(
                    str(item.path), item.name, PredictStatus.ERROR, item.problem
                )
                bar.update()
        names = {str(item.path): item.name for item in inputs}
        for chunk in _analysed(inputs, size, cropped, workers or default_workers()):
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
