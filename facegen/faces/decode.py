"""Bytes to an 8-bit image, or a clear reason why not (empty, truncated, not an image).

OpenCV decodes the formats a face pipeline meets by the thousand (JPEG, PNG, BMP, WebP, TIFF)
fastest, so it stays the first and usual path. What phones save and OpenCV cannot promise
(HEIC/HEIF, AVIF) goes to Pillow with pillow-heif, imported only when such a file is met so that
importing facegen stays fast; Pillow also rescues a GIF, TIFF, BMP or WebP that the installed
OpenCV cannot decode (OpenCV reads GIF only since 4.11).
"""

from __future__ import annotations

import io
from functools import cache
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

if TYPE_CHECKING:
    from PIL import Image as PILImage

_MAGIC = {
    b"\xff\xd8\xff": "jpeg",
    b"\x89PNG\r\n\x1a\n": "png",
    b"GIF87a": "gif",
    b"GIF89a": "gif",
    b"II*\x00": "tiff",
    b"MM\x00*": "tiff",
}
_BMP_HEADER_SIZES = (12, 16, 40, 52, 56, 64, 108, 124)
"""The sizes a BMP's second header (its DIB header) can have: "BM" alone is two letters a text
file may start with."""

# ISO-BMFF brands (the `ftyp` box) of still images and sequences in a HEIF container. The
# generic ones (mif1, msf1) say only "HEIF"; the compatible brands then tell HEVC from AV1.
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_GENERIC_HEIF_BRANDS = frozenset({b"mif1", b"msf1"})

_PILLOW_ONLY = {"heic": ["HEIF"], "heif": ["HEIF", "AVIF"], "avif": ["AVIF"]}
"""Formats only Pillow decodes here, and the Pillow plugins to try, in order."""
_PILLOW_RESCUES = {"gif": ["GIF"], "tiff": ["TIFF"], "bmp": ["BMP"], "webp": ["WEBP"]}
"""Formats OpenCV decodes, that Pillow tries when this OpenCV cannot (an old one, a rare kind).

JPEG and PNG are not among them: OpenCV reads every valid one, so its failure means damage.
"""


class UnreadableImageError(ValueError):
    """A file that cannot be used as an image; the message names the file and the problem."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source, self.reason = source, reason


def image_format(data: bytes) -> str | None:
    """The container format from the first bytes, or None when it is not an image we know.

    Named from the bytes rather than the file's extension, so that an error can say what a file
    really is (a phone's ``.jpg`` that is a HEIC) and a video renamed ``.jpg`` is no image.
    """
    for magic, name in _MAGIC.items():
        if data.startswith(magic):
            return name
    if data[:2] == b"BM" and int.from_bytes(data[14:18], "little") in _BMP_HEADER_SIZES:
        return "bmp"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return _heif_format(data)


def _heif_format(data: bytes) -> str | None:
    """The HEIF family member ("heic", "avif", "heif") an ISO-BMFF ``ftyp`` box names, or None.

    MP4 and QuickTime videos share the box, so only the image brands count. A file whose major
    brand is the generic mif1/msf1 is named by its compatible brands when they say more.
    """
    if data[4:8] != b"ftyp":
        return None
    major = data[8:12]
    if major in _HEIC_BRANDS:
        return "heic"
    if major in _AVIF_BRANDS:
        return "avif"
    if major not in _GENERIC_HEIF_BRANDS:
        return None
    end = min(int.from_bytes(data[:4], "big"), len(data), 16 + 4 * 64)
    compatible = {data[i : i + 4] for i in range(16, end - 3, 4)}
    if compatible & _AVIF_BRANDS:
        return "avif"
    if compatible & _HEIC_BRANDS:
        return "heic"
    return "heif"


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
    otherwise slip silently into training. A phone photo's orientation is honoured (EXIF for a
    JPEG, the container's rotation for a HEIC or AVIF). OpenCV decodes a JPEG's luma straight to
    gray here, as training has always read it; :func:`decode` derives gray from the colour.
    """
    kind = _checked_format(data, source)
    if kind in _PILLOW_ONLY:
        return cv2.cvtColor(_decode_with_pillow(data, source, kind), cv2.COLOR_RGB2GRAY)
    gray = _decode_with_opencv(data, source, kind, cv2.IMREAD_GRAYSCALE)
    if gray is None:
        return cv2.cvtColor(_decode_with_pillow(data, source, kind), cv2.COLOR_RGB2GRAY)
    return gray


def decode_rgb(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """The same image in colour (H, W, 3 RGB uint8), for the face detector; same checks and errors.

    Always 8 bits: the detector and the crops assume 0-255, and a 16-bit PNG or TIFF is scaled
    down (value / 257, rounded) rather than handed on.
    """
    kind = _checked_format(data, source)
    if kind in _PILLOW_ONLY:
        return _decode_with_pillow(data, source, kind)
    bgr = _decode_with_opencv(data, source, kind, cv2.IMREAD_COLOR)
    if bgr is None:
        return _decode_with_pillow(data, source, kind)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def decode(data: bytes, source: str = "<bytes>") -> tuple[np.ndarray, np.ndarray]:
    """(rgb, gray) for the callers that need both (detection and the model), decoding once
    where that loses nothing.

    A JPEG stores luma, which ``decode_gray`` reads as it is; converted back from RGB it differs
    where a saturated colour clips (single pixels by up to about 20 levels), so a JPEG is decoded
    a second time, in grayscale, and its faces stay exactly what training has always seen. Other
    formats store colour: their gray is the decoded colour converted (identical to
    ``decode_gray`` for GIF, WebP and the Pillow formats, at most one level apart for PNG, BMP
    and TIFF).
    """
    rgb = decode_rgb(data, source)
    if image_format(data) == "jpeg":
        return rgb, decode_gray(data, source)
    return rgb, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _checked_format(data: bytes, source: str) -> str:
    """The file's format, once the checks that need no decoding have passed."""
    if not data:
        raise UnreadableImageError(source, "empty file (0 bytes)")
    kind = image_format(data)
    if kind is None:
        raise UnreadableImageError(source, "not an image (unrecognised file format)")
    if kind == "jpeg" and not _jpeg_complete(data):
        raise UnreadableImageError(source, "truncated JPEG (no end-of-image marker)")
    if kind == "png" and b"IEND" not in data[-32:]:
        raise UnreadableImageError(source, "truncated PNG (no IEND chunk)")
    return kind


def _decode_with_opencv(data: bytes, source: str, kind: str, flags: int) -> np.ndarray | None:
    """OpenCV's uint8 decode (BGR or gray); None when Pillow should try, else the error.

    Without IMREAD_ANYDEPTH OpenCV itself brings 16 bits down to 8, but a PNG by dropping the
    low byte (value >> 8: a level off value / 257 rounded for a quarter of the values); so 16-bit
    PNGs and all TIFFs are read at full depth and scaled here. An 8-bit file reads the same.
    """
    buffer = np.frombuffer(data, np.uint8)
    deep = kind == "tiff" or (kind == "png" and _png_bit_depth(data) == 16)
    try:
        image = cv2.imdecode(buffer, flags | cv2.IMREAD_ANYDEPTH) if deep else None
        if image is not None and image.dtype not in (np.uint8, np.uint16):
            image = None  # a float or 32-bit TIFF: OpenCV's own conversion to 8 bits, as before
        if image is None:
            image = cv2.imdecode(buffer, flags)
    except cv2.error as exc:  # OpenCV refuses, e.g., a header claiming more pixels than it allows
        too_large = "CV_IO_MAX_IMAGE_PIXELS" in str(exc)
        reason = "too large: over OpenCV's pixel limit" if too_large else "OpenCV refused it"
        raise UnreadableImageError(source, f"{kind.upper()} {reason}") from None
    if image is None or image.size == 0:
        if kind in _PILLOW_RESCUES:
            return None
        raise UnreadableImageError(source, f"corrupt {kind.upper()} (OpenCV could not decode it)")
    return _eight_bit(image)


def _png_bit_depth(data: bytes) -> int | None:
    """The bit depth in a PNG's IHDR chunk (None without one: damage shows when decoding)."""
    return data[24] if len(data) > 24 and data[12:16] == b"IHDR" else None


def _eight_bit(image: np.ndarray) -> np.ndarray:
    """A uint16 image as uint8 by value / 257, rounded: 0 stays 0, 65535 becomes 255, and a
    16-bit copy of an 8-bit image (value * 257) comes back exactly.

    Not a min-max stretch: that would brighten a dark photo and darken a bright one, so a face's
    contrast would depend on the rest of the picture. (No value / 257 is ever half-way between
    two integers, so convertScaleAbs's rounding cannot tie.)
    """
    if image.dtype == np.uint16:
        return cv2.convertScaleAbs(image, alpha=1 / 257)
    return image


def _decode_with_pillow(data: bytes, source: str, kind: str) -> np.ndarray:
    """Pillow's decode as RGB uint8, turned upright, or an error naming the format.

    pillow-heif applies a HEIC's rotation and mirroring (irot/imir) itself and resets the EXIF
    orientation so it is not applied twice; Pillow's AVIF plugin leaves the pixels as stored and
    moves the rotation into the EXIF orientation. ``exif_transpose`` after either is upright.
    """
    name = kind.upper()
    try:
        image_module, image_ops = _pillow(kind)
    except ImportError as exc:
        raise UnreadableImageError(
            source, f"cannot read {name} here ({exc.name} is not installed)"
        ) from None
    if kind == "avif" and not _pillow_reads_avif():
        raise UnreadableImageError(
            source, "cannot read AVIF here (this Pillow was built without AVIF support)"
        )
    plugins = _PILLOW_ONLY.get(kind) or _PILLOW_RESCUES[kind]
    try:
        with image_module.open(io.BytesIO(data), formats=plugins) as image:
            return _pillow_rgb(image_ops.exif_transpose(image))
    except image_module.DecompressionBombError as exc:
        raise UnreadableImageError(source, f"{name} too large to decode ({exc})") from None
    except Exception:  # the decoders report damage as many types (ValueError, OSError, ...)
        raise UnreadableImageError(source, f"corrupt {name} (could not decode it)") from None


def _pillow_rgb(image: PILImage.Image) -> np.ndarray:
    """RGB uint8 of any Pillow mode; 16-bit gray is scaled as OpenCV's path scales it, not
    clipped at 255 as Pillow's own ``convert`` would."""
    if image.mode.startswith("I;16"):
        gray = _eight_bit(np.asarray(image).astype(np.uint16))
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
    return np.asarray(image.convert("RGB"))


@cache
def _pillow(kind: str) -> tuple[Any, Any]:
    """PIL's Image and ImageOps, with the HEIF opener registered when a HEIF file needs it."""
    from PIL import Image, ImageOps

    if kind in ("heic", "heif"):
        import pillow_heif

        pillow_heif.register_heif_opener()
    return Image, ImageOps


@cache
def _pillow_reads_avif() -> bool:
    """Pillow's wheels read AVIF from 11.3; a Pillow built from source may lack libavif."""
    from PIL import features

    return bool(features.check("avif"))


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
