"""Find faces and their five landmarks with MTCNN, whose weights ship inside its wheel.

Nothing is downloaded at run time. MTCNN finds turned, tilted and small faces that OpenCV's Haar
cascade missed, and its landmarks (eyes, nose tip, mouth corners) are what ``faces.align`` maps
onto UTKFace's framing (the measurements behind the choice are in docs/decisions.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

DETECTION_MAX_SIDE = 1024
"""Photos are searched at most this large: detection time stays flat however big the photo."""
MIN_FACE_FRACTION = 0.04
"""In a photo, faces narrower than this fraction of its short side are ignored as noise."""
MIN_CONFIDENCE = 0.9
"""MTCNN's final score below which a box in a photo is not taken for a face."""
CROP_MIN_CONFIDENCE = 0.8
"""The same for a crop, which holds a face by definition: MTCNN's own last-stage threshold.
On FairFace it aligns 56 more of 8,000 files than 0.9 does (docs/decisions.md)."""
CROP_PADDING = 0.25
"""A crop whose face fills the frame edge to edge is searched again inside a mirrored border of
this fraction of its side: MTCNN needs some context around a face to find it."""
_BATCH = 32  # images per detector call: batching same-size images is several times faster


@dataclass(frozen=True)
class FaceBox:
    """A face in the image's own pixels: its left, top, width and height."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class DetectedFace:
    """One face: its box, MTCNN's confidence, and its five landmarks in image pixels.

    Landmarks, in order: left eye, right eye, nose tip, left mouth corner, right mouth corner,
    "left" meaning the image's left.
    """

    box: FaceBox
    confidence: float
    landmarks: np.ndarray  # (5, 2): x, y


@cache
def _detector():
    """MTCNN, built once per process (its three small networks load in about a second)."""
    from mtcnn import MTCNN

    return MTCNN(device="CPU:0")


def detect_faces(
    images: Sequence[np.ndarray], min_confidence: float = MIN_CONFIDENCE
) -> list[list[DetectedFace]]:
    """Every face in each RGB image, most confident first, in each image's own pixels."""
    found: list[list[DetectedFace]] = [[] for _ in images]
    by_shape: dict[tuple[int, ...], list[int]] = {}
    scales = []
    prepared = []
    for index, image in enumerate(images):
        small, scale = _shrunk(_rgb(image))
        prepared.append(small)
        scales.append(scale)
        by_shape.setdefault(small.shape, []).append(index)
    for indices in by_shape.values():
        for start in range(0, len(indices), _BATCH):
            chunk = indices[start : start + _BATCH]
            rows = _run([prepared[i] for i in chunk])
            for row in rows:
                index = chunk[int(row[0])]
                face = _face(row, scales[index])
                if face.confidence >= min_confidence:
                    found[index].append(face)
    return [sorted(faces, key=lambda f: -f.confidence) for faces in found]


def _run(batch: list[np.ndarray]) -> np.ndarray:
    """MTCNN's raw rows: image index, x1, y1, x2, y2, confidence, five landmark x, five y."""
    rows = _detector().detect_faces(batch, output_type="numpy", box_format="xyxy")
    return np.asarray(rows, dtype=np.float64).reshape(-1, 16)


def _face(row: np.ndarray, scale: float) -> DetectedFace:
    x1, y1, x2, y2 = row[1:5] / scale
    box = FaceBox(round(x1), round(y1), max(1, round(x2 - x1)), max(1, round(y2 - y1)))
    return DetectedFace(box, float(row[5]), row[6:16].reshape(2, 5).T / scale)


def _rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return image


def _shrunk(image: np.ndarray) -> tuple[np.ndarray, float]:
    scale = min(1.0, DETECTION_MAX_SIDE / max(image.shape[:2]))
    if scale == 1.0:
        return image, 1.0
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), scale


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


def padded(image: np.ndarray, fraction: float = CROP_PADDING) -> tuple[np.ndarray, int]:
    """The image inside a mirrored border of ``fraction`` of its longer side, and that border."""
    border = max(1, round(fraction * max(image.shape[:2])))
    return cv2.copyMakeBorder(image, border, border, border, border, cv2.BORDER_REFLECT_101), border


def shifted(face: DetectedFace, offset: float) -> DetectedFace:
    """A face found in a padded image, in the original image's pixels."""
    box = face.box
    moved = FaceBox(round(box.x - offset), round(box.y - offset), box.width, box.height)
    return DetectedFace(moved, face.confidence, face.landmarks - offset)
