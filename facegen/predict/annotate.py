"""Copies of the user's photos with each face's box, label and probability drawn on them."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from facegen.atomic import atomic_path
from facegen.faces.decode import UnreadableImageError, decode_rgb
from facegen.predict.classify import ImageResult, PredictStatus
from facegen.predict.output import label_for

MAX_SIDE = 2048
"""Annotated copies are shrunk to at most this side: they are for looking at, not archiving."""

_COLOURS = {"female": (60, 20, 220), "male": (200, 120, 0)}  # BGR: crimson, blue


def draw(image: np.ndarray, result: ImageResult) -> np.ndarray:
    """The image (BGR) scaled to at most ``MAX_SIDE``, with a box and a caption per face."""
    scale = min(1.0, MAX_SIDE / max(image.shape[:2]))
    if scale < 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    else:
        image = image.copy()
    thickness = max(1, round(max(image.shape[:2]) / 400))
    font_scale = max(0.4, max(image.shape[:2]) / 1200)
    for index, (box, p) in enumerate(zip(result.boxes, result.probabilities, strict=True)):
        label, probability = label_for(float(p))
        colour = _COLOURS[label]
        x, y = round(box.x * scale), round(box.y * scale)
        w, h = round(box.width * scale), round(box.height * scale)
        cv2.rectangle(image, (x, y), (x + w, y + h), colour, thickness)
        caption = f"{index + 1}: {label} {probability:.2f}"
        (tw, th), baseline = cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        # Inside the box's top edge: a caption above it would cover the face of whoever stands
        # behind; above only when the box is too small to hold it.
        top = y if h >= 3 * (th + baseline) else max(0, y - th - baseline - 4)
        cv2.rectangle(image, (x, top), (x + tw + 4, top + th + baseline + 4), colour, cv2.FILLED)
        cv2.putText(
            image,
            caption,
            (x + 2, top + th + 2),
            cv2.FONT_HERSHEY_SIMPLEX,
            font_scale,
            (255, 255, 255),
            max(1, thickness // 2),
            cv2.LINE_AA,
        )
    return image


def write_annotated(result: ImageResult, out_dir: str | os.PathLike) -> Path | None:
    """Write ``out_dir/<name>`` (as JPEG) for an image with faces; None when there is nothing.

    The name mirrors how the file was given (relative to the folder passed), so two photos
    called ``IMG_0001.jpg`` in different folders do not overwrite each other.
    """
    if result.status != PredictStatus.OK or result.probabilities is None:
        return None
    try:  # the same decoding as the faces were found in: HEIC, 16-bit and EXIF turns included
        image = cv2.cvtColor(decode_rgb(Path(result.file).read_bytes(), result.file),
                             cv2.COLOR_RGB2BGR)  # fmt: skip
    except (OSError, UnreadableImageError):
        return None
    relative = Path(result.name)
    if relative.is_absolute() or ".." in relative.parts:
        relative = Path(relative.name)
    target = Path(out_dir) / relative.with_suffix(relative.suffix + ".jpg")
    if relative.suffix.lower() in (".jpg", ".jpeg"):
        target = Path(out_dir) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(".jpg", draw(image, result), [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        return None
    with atomic_path(target, suffix=".jpg") as tmp:
        Path(tmp).write_bytes(encoded.tobytes())
    return target
