"""Find faces in a photo and cut them out the way UTKFace's aligned crops were cut.

The detector is OpenCV's frontal-face Haar cascade, which ships inside the opencv wheel: nothing is
downloaded at run time. A Haar box is tighter than a UTKFace crop, so each box is widened and
shifted to the crop the model was trained on (``CROP_*`` below, measured on the training images),
the way that matched UTKFace's own crops best (``benchmarks/measure_crop.py``). The crops are not
rotated: levelling the eyes with OpenCV's eye cascade matched worse (docs/decisions.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

# Where the Haar box sits inside a UTKFace aligned crop: 83% of the crop's width, centred
# horizontally, its centre at 44% of the height. Measured on UTKFace's aligned crops and checked by
# benchmarks/measure_crop.py (figures in docs/decisions.md).
CROP_BOX_FRACTION = 0.83
CROP_BOX_CENTRE_Y = 0.44

DETECTION_MAX_SIDE = 1024
"""Photos are searched at most this large: detection time stays flat however big the photo."""
MIN_FACE_FRACTION = 0.04
"""Boxes narrower than this fraction of the photo's short side are ignored as noise."""


@dataclass(frozen=True)
class FaceBox:
    """A face in photo pixels, as the detector boxed it (tighter than a UTKFace crop)."""

    x: int
    y: int
    width: int
    height: int

    def crop_square(self) -> tuple[float, float, float]:
        """Centre x, centre y and side of the UTKFace-style crop around this box."""
        side = self.width / CROP_BOX_FRACTION
        centre_x = self.x + self.width / 2
        centre_y = self.y + self.height / 2 + (0.5 - CROP_BOX_CENTRE_Y) * side
        return centre_x, centre_y, side


@cache
def _cascade() -> cv2.CascadeClassifier:
    path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
    classifier = cv2.CascadeClassifier(path)
    if classifier.empty():
        raise RuntimeError(f"{path}: OpenCV's Haar cascade is missing from this opencv install")
    return classifier


def detect_faces(gray: np.ndarray) -> list[FaceBox]:
    """Every frontal face in a grayscale photo, largest first, in the photo's own pixels."""
    scale = min(1.0, DETECTION_MAX_SIDE / max(gray.shape))
    small = (
        cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        if scale < 1
        else gray
    )
    small = cv2.equalizeHist(small)
    min_side = max(20, int(MIN_FACE_FRACTION * min(gray.shape) * scale))
    boxes = _cascade().detectMultiScale(
        small, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side)
    )
    return [
        FaceBox(round(x / scale), round(y / scale), round(w / scale), round(h / scale))
        for x, y, w, h in sorted((tuple(b) for b in boxes), key=lambda b: -b[2] * b[3])
    ]


def crop_face(image: np.ndarray, box: FaceBox) -> np.ndarray:
    """The UTKFace-style square crop around ``box``, at the photo's resolution.

    Parts of the crop outside the photo repeat its edge pixels: a face near the border would
    otherwise gain a black band the training crops never had. The result goes through the same
    ``preprocess_face`` as every training face.
    """
    centre_x, centre_y, side = box.crop_square()
    size = max(1, round(side))
    shift = np.float32([[1, 0, size / 2 - centre_x], [0, 1, size / 2 - centre_y]])
    return cv2.warpAffine(
        image, shift, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
