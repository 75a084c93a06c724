"""Bytes to a grayscale image, or a clear reason why not (empty, truncated, not an image)."""

from __future__ import annotations

import cv2
import numpy as np

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
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        # Only a real IHDR chunk holds the size: a damaged file's bytes there are noise, and
        # read as a size they called a broken PNG "too large" instead of corrupt.
        if len(data) >= 24 and data[12:16] == b"IHDR":
            return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        return None
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
    otherwise slip silently into training. A phone photo's EXIF orientation is honoured.
    """
    return _decode(data, source, cv2.IMREAD_GRAYSCALE)


def decode_rgb(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """The same image in colour (H, W, 3 RGB), for the face detector; same checks and errors."""
    return cv2.cvtColor(_decode(data, source, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _decode(data: bytes, source: str, flags: int) -> np.ndarray:
    if not data:
        raise UnreadableImageError(source, "empty file (0 bytes)")
    kind = image_format(data)
    if kind is None:
        raise UnreadableImageError(source, "not an image (unrecognised file format)")
    if kind == "jpeg" and not _jpeg_complete(data):
        raise UnreadableImageError(source, "truncated JPEG (no end-of-image marker)")
    if kind == "png" and b"IEND" not in data[-32:]:
        raise UnreadableImageError(source, "truncated PNG (no IEND chunk)")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if image is None or image.size == 0:
        raise UnreadableImageError(source, f"corrupt {kind.upper()} (OpenCV could not decode it)")
    return image


def _jpeg_complete(data: bytes) -> bool:
    """Whether the image's compressed data reaches its end-of-image marker.

    Usually the file's last bytes. Phones append data after it (a motion photo's video, a
    vendor trailer), so otherwise the marker is looked for after the first scan begins: inside
    compressed data a 0xFF byte is always followed by 0x00 or a restart marker, so FF D9 there is
    the end of the image, whereas one inside the EXIF thumbnail (before the scan) proves nothing.
    """
    if data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        return True
    scan = _scan_start(data)
    return scan is not None and data.find(b"\xff\xd9", scan) != -1


def _scan_start(data: bytes) -> int | None:
    """Offset of the first scan's compressed data (after its SOS header), None when not reached."""
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None  # not at a marker: the headers are damaged
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
        elif marker == 0xDA:  # start of scan
            return i + 2 + int.from_bytes(data[i + 2 : i + 4], "big")
        else:
            i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return None
