"""Find faces and their five landmarks with RetinaFace (MobileNet-0.25), run by onnxruntime.

The detector is a 1.7 MB ONNX file shipped inside the package (``faces/weights/``, MIT), so
nothing is downloaded at run time and finding faces needs neither TensorFlow nor a GPU. Its
landmarks (eyes, nose tip, mouth corners) are what ``faces.align`` maps onto UTKFace's framing.
Why RetinaFace, and the measurements behind each constant here: docs/decisions.md.

A crop (one face per file) and a photo (a scene) are searched differently:

* a crop is resized so its longer side is ``CROP_SIDE``, up or down: RetinaFace's landmarks
  shift a little with the scale it sees a face at, so every crop, whatever its resolution, is
  searched at the one scale the landmark template was measured at;
* a photo is searched with its shorter side at most ``PHOTO_SHORT_SIDE``, never enlarged: the
  time per photo stays flat however many megapixels a camera makes, and the smallest face worth
  classifying (``MIN_FACE_FRACTION`` of that side) is still large enough to be found.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import cv2
import numpy as np

WEIGHTS = "retinaface_mobilenet025.onnx"
"""The detector's file in ``facegen/faces/weights/`` (provenance and licence beside it)."""
CROP_SIDE = 128
"""The longer side, in pixels, at which a crop is searched."""
PHOTO_SHORT_SIDE = 720
"""A photo is searched with its shorter side at most this long: ``MIN_FACE_FRACTION`` of it is
29 px, which the detector still finds; at 600 px it missed such faces."""
MIN_FACE_FRACTION = 0.04
"""In a photo, faces narrower than this fraction of its short side are ignored as noise."""
MIN_CONFIDENCE = 0.9
"""RetinaFace's score below which a box in a photo is not taken for a face."""
CROP_MIN_CONFIDENCE = 0.5
"""The same for a crop, which holds a face by definition: only its most central box is used, so
a lower bar finds faint and turned faces without admitting stray boxes."""
NMS_OVERLAP = 0.4
"""Boxes overlapping a more confident one by more than this (intersection over union) are the
same face found twice."""

_STRIDES = (8, 16, 32)
_ANCHOR_SIDES = ((16, 32), (64, 128), (256, 512))
_VARIANCES = (0.1, 0.2)
_BGR_MEAN = (104, 117, 123)  # the training images' mean, BGR order
_BATCH_PIXELS = 1 << 21
"""Pixels per detector call, at most (a crop's batch holds 128 of them, a photo's one or two):
enough to keep the network busy, and the input stays a few tens of megabytes."""
_THREADS = {"intra_op": 0}  # 0: onnxruntime's default, one thread per core


@dataclass(frozen=True)
class FaceBox:
    """A face in the image's own pixels: its left, top, width and height."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class DetectedFace:
    """One face: its box, the detector's confidence, and its five landmarks in image pixels.

    Landmarks, in order: left eye, right eye, nose tip, left mouth corner, right mouth corner,
    "left" meaning the image's left.
    """

    box: FaceBox
    confidence: float
    landmarks: np.ndarray  # (5, 2): x, y


def use_threads(count: int) -> None:
    """Set the detector's threads before its first use in this process: worker processes take
    one each, so several workers do not fight over the same cores."""
    _THREADS["intra_op"] = int(count)
    _session.cache_clear()


@cache
def _session():
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = _THREADS["intra_op"]
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: its start-up notices are not the user's business
    weights = resources.files("facegen.faces").joinpath("weights", WEIGHTS).read_bytes()
    return onnxruntime.InferenceSession(weights, options, providers=["CPUExecutionProvider"])


def detect_faces(
    images: Sequence[np.ndarray], min_confidence: float = MIN_CONFIDENCE
) -> list[list[DetectedFace]]:
    """Every face in each RGB photo, most confident first, in each image's own pixels."""
    return _detect(images, min_confidence, lambda shape: min(1.0, PHOTO_SHORT_SIDE / min(shape)))


def detect_in_crops(
    images: Sequence[np.ndarray], min_confidence: float = CROP_MIN_CONFIDENCE
) -> list[list[DetectedFace]]:
    """Every face in each RGB crop, searched at ``CROP_SIDE``, in each image's own pixels."""
    return _detect(images, min_confidence, lambda shape: CROP_SIDE / max(shape))


def _detect(images, min_confidence, scale_for) -> list[list[DetectedFace]]:
    found: list[list[DetectedFace]] = [[] for _ in images]
    resized, scales = [], []
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for index, image in enumerate(images):
        small, scale = _resized(_rgb(image), scale_for(image.shape[:2]))
        resized.append(small)
        scales.append(scale)
        by_shape.setdefault(small.shape, []).append(index)
    for shape, indices in by_shape.items():
        batch = max(1, _BATCH_PIXELS // (shape[0] * shape[1]))
        for start in range(0, len(indices), batch):
            chunk = indices[start : start + batch]
            boxes, scores, points = _forward(np.stack([resized[i] for i in chunk]))
            for row, index in enumerate(chunk):
                found[index] = _faces(boxes[row], scores[row], points[row], min_confidence,
                                      scales[index])  # fmt: skip
    return found


def _forward(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (x, y, w, h), face scores and landmarks (5, 2) for every anchor, in batch pixels."""
    # RGB to BGR, less the training mean, channels first: what the network was trained on.
    inputs = cv2.dnn.blobFromImages(list(batch), 1.0, None, _BGR_MEAN, swapRB=True, crop=False)
    offsets, scores, points = _session().run(None, {"input": inputs})
    anchors = _anchors(*batch.shape[1:3])
    centres, sides = anchors[:, :2], anchors[:, 2:]
    centre = centres + offsets[..., :2] * _VARIANCES[0] * sides
    size = sides * np.exp(offsets[..., 2:] * _VARIANCES[1])
    boxes = np.concatenate([centre - size / 2, size], axis=-1)
    landmarks = centres[:, None] + points.reshape(*points.shape[:2], 5, 2) * (
        _VARIANCES[0] * sides[:, None]
    )
    return boxes, scores[..., 1], landmarks


@cache
def _anchors(height: int, width: int) -> np.ndarray:
    """RetinaFace's prior boxes (centre x, centre y, side, side) in pixels, in its output order:
    per stride, row by row, each cell's anchor sides in turn."""
    levels = []
    for stride, sides in zip(_STRIDES, _ANCHOR_SIDES, strict=True):
        rows, columns = math.ceil(height / stride), math.ceil(width / stride)
        y, x = np.meshgrid(np.arange(rows), np.arange(columns), indexing="ij")
        centres = (np.stack([x.ravel(), y.ravel()], axis=1) + 0.5) * stride
        per_cell = [np.hstack([centres, np.full((len(centres), 2), side)]) for side in sides]
        levels.append(np.stack(per_cell, axis=1).reshape(-1, 4))
    return np.concatenate(levels).astype(np.float32)


def _faces(boxes, scores, points, min_confidence: float, scale: np.ndarray) -> list[DetectedFace]:
    """The confident boxes after non-maximum suppression, most confident first."""
    keep = np.flatnonzero(scores >= min_confidence)
    if not len(keep):
        return []
    chosen = cv2.dnn.NMSBoxes(boxes[keep].tolist(), scores[keep].tolist(), min_confidence,
                              NMS_OVERLAP)  # fmt: skip
    faces = []
    for index in keep[np.asarray(chosen, dtype=np.int64).reshape(-1)]:
        x, y, width, height = (boxes[index] / np.tile(scale, 2)).tolist()
        box = FaceBox(round(x), round(y), max(1, round(width)), max(1, round(height)))
        landmarks = (points[index].astype(np.float64) + 0.5) / scale - 0.5
        faces.append(DetectedFace(box, float(scores[index]), landmarks))
    return sorted(faces, key=lambda face: -face.confidence)


def _rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return image


def _resized(image: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The image at ``scale`` (by area when shrinking, bilinear when enlarging), and the x and y
    scales actually applied once the sides are rounded to whole pixels."""
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if size == (width, height):
        return image, np.ones(2)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, size, interpolation=interpolation)
    return resized, np.array([size[0] / width, size[1] / height])


def min_face_width(image: np.ndarray) -> float:
    """The narrowest face worth classifying in this photo, in pixels."""
    return MIN_FACE_FRACTION * min(image.shape[:2])


def faces_in_photo(image: np.ndarray, faces: list[DetectedFace]) -> list[DetectedFace]:
    """The faces worth classifying in a photo: large enough to be more than noise."""
    smallest = min_face_width(image)
    return [face for face in faces if face.box.width >= smallest]


def central_face(image: np.ndarray, faces: list[DetectedFace]) -> DetectedFace | None:
    """The face a crop is of: the one nearest the centre among the confident ones."""
    if not faces:
        return None
    height, width = image.shape[:2]
    centre = np.array([width / 2, height / 2])
    return min(faces, key=lambda f: float(np.linalg.norm(f.landmarks.mean(axis=0) - centre)))
