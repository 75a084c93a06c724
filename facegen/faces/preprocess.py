"""From a framed face to the model's input: ``model_input`` is the one function that makes it.

Training, evaluation, ``facegen predict``, ``facegen evaluate`` and the notebooks' figures all
reach it through ``faces.framing``, so a face is seen the same way everywhere. ``load_face``
(resizing alone) makes the stored crops that the split and the near-duplicate search read, so
that neither depends on the detector.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from facegen import config
from facegen.faces.decode import UnreadableImageError, decode_gray


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


LIGHTING_CLIP = 2.0
LIGHTING_TILES = 4


def normalize_lighting(face: np.ndarray) -> np.ndarray:
    """Even out lighting and contrast with CLAHE (contrast-limited adaptive histogram
    equalisation, ``LIGHTING_TILES`` x ``LIGHTING_TILES`` tiles).

    Faces from elsewhere are darker and flatter than UTKFace's; equalising every model input,
    training faces included, narrowed the gap between women's and men's recall on FairFace
    (docs/decisions.md, *Lighting evened by CLAHE*).
    """
    clahe = cv2.createCLAHE(clipLimit=LIGHTING_CLIP, tileGridSize=(LIGHTING_TILES,) * 2)
    return clahe.apply(face)


def model_input(gray: np.ndarray, size: int = config.IMAGE_SIZE) -> np.ndarray:
    """A (framed) face as the model takes it: resized by ``preprocess_face``, lighting evened."""
    return normalize_lighting(preprocess_face(gray, size))


def load_face(path: str | os.PathLike, size: int = config.IMAGE_SIZE) -> np.ndarray:
    """Read one already-cropped face file into the model's input (raises UnreadableImageError)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableImageError(str(path), f"cannot be read ({exc.strerror or exc})") from None
    return preprocess_face(decode_gray(data, str(path)), size)
