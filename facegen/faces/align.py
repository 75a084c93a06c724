"""Put a face where UTKFace's training faces sit: one similarity transform from its landmarks.

UTKFace's crops were aligned on facial landmarks, so the model has only ever seen one framing:
eyes at fixed points, the face filling the frame. Faces from anywhere else are framed
differently (FairFace keeps a wider margin; a phone photo holds a whole scene). Mapping each
face's five landmarks onto ``TEMPLATE``, where the same landmarks sit in UTKFace's own crops,
gives every face the training framing before ``preprocess.model_input`` sees it.
"""

from __future__ import annotations

import cv2
import numpy as np

TEMPLATE = np.array(
    [
        [0.2931, 0.2904],  # left eye (as seen in the image)
        [0.6981, 0.2895],  # right eye
        [0.4924, 0.5339],  # nose tip
        [0.3152, 0.6768],  # left mouth corner
        [0.6685, 0.6784],  # right mouth corner
    ],
    dtype=np.float64,
)
"""Median landmark positions in UTKFace's aligned crops, as fractions of the crop's width and
height: the detector's landmarks on 2,000 of the 200x200 crops (``crop_part1/``), each searched
at ``detect.CROP_SIDE`` as every crop is (``benchmarks/measure_alignment.py`` prints them)."""

ALIGNED_SIZE = 64
"""Side of an aligned crop in pixels: the resolution of the training faces before
``preprocess.model_input`` shrinks them, so a face from anywhere is resampled the way they were."""


def alignment_matrix(landmarks: np.ndarray, size: int = ALIGNED_SIZE) -> np.ndarray:
    """The 2x3 similarity (rotation, one scale, shift) taking ``landmarks`` onto the template.

    Least squares over all five points: a similarity cannot bend a face, so a badly placed point
    moves the frame a little rather than distorting it.
    """
    points = np.asarray(landmarks, dtype=np.float64).reshape(-1, 2)
    if points.shape != TEMPLATE.shape or not np.isfinite(points).all():
        raise ValueError(f"expected 5 finite (x, y) landmarks, got {points.shape}")
    target = TEMPLATE * size
    source_centre, target_centre = points.mean(axis=0), target.mean(axis=0)
    source, dest = points - source_centre, target - target_centre
    # The closed-form similarity (Umeyama without reflection) on complex numbers: dest = a * source.
    z_source = source[:, 0] + 1j * source[:, 1]
    z_dest = dest[:, 0] + 1j * dest[:, 1]
    denominator = np.vdot(z_source, z_source).real
    if denominator <= 1e-9:
        raise ValueError("the landmarks coincide: no face geometry to align")
    a = np.vdot(z_source, z_dest) / denominator
    rotation_scale = np.array([[a.real, -a.imag], [a.imag, a.real]])
    shift = target_centre - rotation_scale @ source_centre
    return np.hstack([rotation_scale, shift[:, None]])


def align_face(image: np.ndarray, landmarks: np.ndarray, size: int = ALIGNED_SIZE) -> np.ndarray:
    """The face warped into UTKFace's frame, ``size`` x ``size``, same channels as ``image``.

    A large face is first shrunk by area averaging, as UTKFace's own crops were downsampled, so
    the warp itself never skips pixels (bilinear sampling aliases below half size); in a photo,
    only the part the frame covers is shrunk. Where the frame reaches past the photo, the photo's
    edge is mirrored, as the training augmentation fills its borders: a black band would be a
    pattern the model never saw.
    """
    points = np.asarray(landmarks, dtype=np.float64).reshape(-1, 2)
    matrix = alignment_matrix(points, size)
    factor = _scale(matrix)
    if factor < 0.9:
        image, offset = _covered(image, matrix, size, margin=2 / factor + 2)
        points = points - offset
        height, width = image.shape[:2]
        shrunk = (max(1, round(width * factor)), max(1, round(height * factor)))
        image = cv2.resize(image, shrunk, interpolation=cv2.INTER_AREA)
        scale = np.array([shrunk[0] / width, shrunk[1] / height])
        points = (points + 0.5) * scale - 0.5  # pixel centres map to pixel centres
    return cv2.warpAffine(
        image,
        alignment_matrix(points, size),
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT_101,
    )


def _covered(
    image: np.ndarray, matrix: np.ndarray, size: int, margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """The part of ``image`` that the ``size`` x ``size`` frame of ``matrix`` samples, with
    ``margin`` pixels around it, and its top-left corner. Shrinking a whole photo for each of its
    faces cost more than finding them. A crop, where the face is a quarter of the image or more,
    is shrunk whole, as the faces the model was chosen on were."""
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], dtype=np.float64)
    inverse = cv2.invertAffineTransform(matrix)
    footprint = corners @ inverse[:, :2].T + inverse[:, 2]
    height, width = image.shape[:2]
    left, top = np.maximum(np.floor(footprint.min(axis=0) - margin), 0).astype(int)
    right, bottom = np.minimum(np.ceil(footprint.max(axis=0) + margin), [width, height]).astype(int)
    if right <= left or bottom <= top or (right - left) * (bottom - top) > 0.25 * width * height:
        return image, np.zeros(2)
    return image[top:bottom, left:right], np.array([left, top], dtype=np.float64)


def _scale(matrix: np.ndarray) -> float:
    return float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
