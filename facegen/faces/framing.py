"""From a decoded image to model inputs: find the face, align it to UTKFace's frame, preprocess,
even out its lighting.

The one path for every face the model sees: UTKFace's training and test faces, ``facegen
predict`` (photos and crops alike), ``facegen evaluate`` and the cross-dataset report. A crop
("each file is one face") takes its most central face; when the detector finds none, the whole
image is used and the result says so. A photo gives every face large enough to matter. Each
result names how its face was framed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import cv2
import numpy as np

from facegen import config
from facegen.faces.align import align_face
from facegen.faces.decode import decode
from facegen.faces.detect import (
    DetectedFace,
    FaceBox,
    central_face,
    detect_in_crops,
    faces_in_photo,
)
from facegen.faces.preprocess import model_input


class Framing(StrEnum):
    """How a face was framed for the model, in the words every output uses: aligned on its
    landmarks, or the whole image (no face found in a crop)."""

    ALIGNED = "aligned"
    WHOLE_IMAGE = "whole image"


@dataclass(frozen=True)
class FramedFace:
    """A model input and how it was made: from landmarks (aligned) or from the whole image."""

    face: np.ndarray  # uint8 (size, size)
    framing: Framing
    box: FaceBox
    confidence: float | None = None
    turn: float = float("nan")  # head turn from the landmarks (``head_turn``); NaN when whole


def head_turn(landmarks: np.ndarray) -> float:
    """How far the head is turned: the nose's offset from the eyes' midpoint along the eye line,
    in eye distances (0 frontal, about 0.5 in profile). A similarity cannot undo a turn, so it is
    what remains different after alignment."""
    left, right, nose = (np.asarray(landmarks[i], dtype=np.float64) for i in range(3))
    axis = right - left
    distance = float(np.dot(axis, axis))
    if distance <= 1e-9:
        return float("nan")
    return abs(float(np.dot(nose - (left + right) / 2, axis)) / distance)


def frame_crops(
    rgbs: Sequence[np.ndarray], grays: Sequence[np.ndarray], size: int = config.IMAGE_SIZE
) -> list[FramedFace]:
    """One face per image, each aligned when its landmarks are found, whole otherwise."""
    detected = detect_in_crops(rgbs)
    found = [central_face(rgb, faces) for rgb, faces in zip(rgbs, detected, strict=True)]
    return [_framed(gray, face, size) for gray, face in zip(grays, found, strict=True)]


def frame_photo(
    rgb: np.ndarray, gray: np.ndarray, faces: list[DetectedFace], size: int = config.IMAGE_SIZE
) -> list[FramedFace]:
    """Every detected face in a photo large enough to classify, each aligned."""
    return [_framed(gray, face, size) for face in faces_in_photo(rgb, faces)]


def _framed(gray: np.ndarray, face: DetectedFace | None, size: int) -> FramedFace:
    if face is None:
        height, width = gray.shape[:2]
        whole = FaceBox(0, 0, width, height)
        return FramedFace(model_input(gray, size), Framing.WHOLE_IMAGE, whole)
    aligned = align_face(gray, face.landmarks)
    return FramedFace(
        model_input(aligned, size),
        Framing.ALIGNED,
        face.box,
        face.confidence,
        head_turn(face.landmarks),
    )


def images_at_each_step(
    paths: Sequence[str | os.PathLike], size: int = config.IMAGE_SIZE
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """The original (BGR), grayscale and model-input image of each file, to show the pipeline.

    The model input comes from the same ``frame_crops`` as training and ``facegen predict``
    (found, aligned to the landmark template, preprocessed), so the figure shows what the model
    gets.
    """
    originals, grays, rgbs = [], [], []
    for path in paths:
        rgb, gray = decode(Path(path).read_bytes(), str(path))
        originals.append(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        grays.append(gray)
        rgbs.append(rgb)
    finals = [framed.face for framed in frame_crops(rgbs, grays, size)]
    return originals, grays, finals
