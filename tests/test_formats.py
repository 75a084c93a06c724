"""Photos as phones and other programs save them: HEIC, AVIF, 16-bit PNG and TIFF, animated GIF.

Every file is made here by the test itself (pillow-heif writes HEIC, Pillow writes AVIF and GIF,
OpenCV writes the 16-bit PNG and TIFF); none is stored in the repository.
"""

from __future__ import annotations

import io
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from facegen.faces import decode as decoding
from facegen.faces.decode import (
    UnreadableImageError,
    decode,
    decode_gray,
    decode_rgb,
    image_format,
)

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 40), (40, 40, 210)
HEIGHT, WIDTH = 64, 96


def quadrants() -> np.ndarray:
    """RGB, 64 high and 96 wide: red top left, green top right, blue along the bottom.

    No two corners alike, so a rotation, a mirror or swapped channels all show; blocks this large
    keep a lossy codec's colours true away from the edges.
    """
    image = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    image[: HEIGHT // 2, : WIDTH // 2] = RED
    image[: HEIGHT // 2, WIDTH // 2 :] = GREEN
    image[HEIGHT // 2 :] = BLUE
    return image


def near(pixel: np.ndarray, colour: tuple[int, int, int], tolerance: int = 12) -> bool:
    return bool(np.abs(pixel.astype(int) - colour).max() <= tolerance)


def heic_bytes(rgb: np.ndarray, orientation: int | None = None) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    return _pillow_bytes(rgb, "HEIF", orientation)


def avif_bytes(rgb: np.ndarray, orientation: int | None = None) -> bytes:
    return _pillow_bytes(rgb, "AVIF", orientation)


def _pillow_bytes(rgb: np.ndarray, format: str, orientation: int | None) -> bytes:
    extra = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation  # EXIF Orientation
        extra["exif"] = exif.tobytes()
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format, quality=95, **extra)
    return buffer.getvalue()


def reason(data: bytes, read=decode_rgb) -> str:
    with pytest.raises(UnreadableImageError) as caught:
        read(data, "photos/x")
    assert caught.value.source == "photos/x"
    return caught.value.reason


# --- HEIC and AVIF --------------------------------------------------------------------------------


@pytest.mark.parametrize(("encode", "kind"), [(heic_bytes, "heic"), (avif_bytes, "avif")])
def test_a_heic_and_an_avif_decode_to_their_colours(encode, kind):
    data = encode(quadrants())
    assert image_format(data) == kind
    rgb = decode_rgb(data, f"phone.{kind}")
    assert rgb.shape == (HEIGHT, WIDTH, 3) and rgb.dtype == np.uint8
    assert near(rgb[10, 10], RED) and near(rgb[10, -10], GREEN) and near(rgb[-10, 40], BLUE)
    gray = decode_gray(data)
    assert gray.dtype == np.uint8
    assert np.array_equal(gray, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    both = decode(data)
    assert np.array_equal(both[0], rgb) and np.array_equal(both[1], gray)


@pytest.mark.parametrize("encode", [heic_bytes, avif_bytes], ids=["heic", "avif"])
def test_a_phone_photo_turned_by_its_container_comes_out_upright(encode):
    """Orientation 6 (turn 90 degrees clockwise to view): the pixels are stored as the sensor
    saw them and the file says to turn them. pillow-heif turns a HEIC itself; Pillow leaves an
    AVIF as stored and hands the turn to EXIF; both must come out upright."""
    data = encode(quadrants(), orientation=6)
    assert b"irot" in data  # the turn is in the container, as a phone writes it
    stored = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    rgb = decode_rgb(data, "phone.heic")
    assert rgb.shape == (WIDTH, HEIGHT, 3)
    # Turned clockwise: the bottom (blue) becomes the left, red the top right, green bottom right.
    assert near(rgb[10, 10], BLUE) and near(rgb[-10, 10], BLUE)
    assert near(rgb[10, -10], RED) and near(rgb[-10, -10], GREEN)
    assert decode_gray(data).shape == (WIDTH, HEIGHT)
    if stored.shape == rgb.shape:  # pillow-heif: turned on opening, and not turned twice
        assert np.array_equal(stored, rgb)


def test_a_damaged_heic_names_heic():
    data = heic_bytes(quadrants())
    cut = data[: len(data) // 2]
    assert image_format(cut) == "heic"
    for read in (decode_rgb, decode_gray, decode):
        assert reason(cut, read) == "corrupt HEIC (could not decode it)"
    noise = data[:32] + np.random.default_rng(1).integers(0, 256, 400, np.uint8).tobytes()
    assert reason(noise) == "corrupt HEIC (could not decode it)"


def test_a_damaged_avif_names_avif():
    data = avif_bytes(quadrants())
    assert reason(data[: len(data) - 10]) == "corrupt AVIF (could not decode it)"


def test_without_pillow_heif_the_reason_says_so(monkeypatch):
    data = heic_bytes(quadrants())
    decoding._pillow.cache_clear()
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # `import pillow_heif` fails
    try:
        assert reason(data) == "cannot read HEIC here (pillow_heif is not installed)"
    finally:
        decoding._pillow.cache_clear()


def test_a_gigantic_heic_is_refused_as_too_large(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # an error above twice this
    assert reason(heic_bytes(quadrants())).startswith("HEIC too large to decode")


def test_importing_the_decoder_does_not_import_pillow():
    """Pillow and pillow-heif load only when a HEIC or AVIF is met: most runs never meet one."""
    code = (
        "import sys, facegen.faces.decode\nprint(sorted({'PIL', 'pillow_heif'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- what the first bytes say ---------------------------------------------------------------------


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    brands = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return (8 + len(brands)).to_bytes(4, "big") + b"ftyp" + brands + b"\x00" * 64


FIRST_BYTES = [
    *[(ftyp(brand, b"mif1"), "heic") for brand in (b"heic", b"heix", b"heim", b"heis")],
    *[(ftyp(brand, b"msf1"), "heic") for brand in (b"hevc", b"hevx")],
    (ftyp(b"avif", b"mif1", b"miaf"), "avif"),
    (ftyp(b"avis", b"msf1"), "avif"),
    (ftyp(b"mif1", b"heic", b"miaf"), "heic"),  # generic major brand: the rest says HEVC
    (ftyp(b"mif1", b"miaf", b"avif"), "avif"),
    (ftyp(b"mif1", b"miaf"), "heif"),
    (ftyp(b"msf1"), "heif"),
    (ftyp(b"isom", b"mp41", b"mp42"), None),  # a video shares the box, and is no image
    (ftyp(b"qt  "), None),
    (b"RIFF\x00\x01\x00\x00WEBPVP8 ", "webp"),
    (b"II*\x00\x08\x00\x00\x00", "tiff"),
    (b"MM\x00*\x00\x00\x00\x08", "tiff"),
]


def first_bytes_id(data: bytes) -> str:
    """ftyp files by their brands ("heic+mif1"), others by their magic."""
    if data[4:8] == b"ftyp":
        end = int.from_bytes(data[:4], "big")
        brands = [data[8:12]] + [data[i : i + 4] for i in range(16, end, 4)]
        return "+".join(brand.decode().strip() for brand in brands)
    return data[:4].decode("latin-1").strip("\x00*")


@pytest.mark.parametrize(
    ("data", "kind"), FIRST_BYTES, ids=[first_bytes_id(d) for d, _ in FIRST_BYTES]
)
def test_the_format_is_named_from_the_first_bytes(data, kind):
    assert image_format(data) == kind


def test_random_bytes_are_not_an_image():
    noise = np.random.default_rng(7).integers(0, 256, 4096, np.uint8).tobytes()
    assert image_format(noise) is None
    for read in (decode_rgb, decode_gray, decode):
        assert reason(noise, read) == "not an image (unrecognised file format)"
    assert reason(ftyp(b"isom", b"mp42")) == "not an image (unrecognised file format)"


# --- 16 bits --------------------------------------------------------------------------------------


def every_sixteen_bit_value() -> np.ndarray:
    return np.arange(65536, dtype=np.uint16).reshape(256, 256)


def eight_bit(values: np.ndarray) -> np.ndarray:
    """value / 257 rounded, in integers (never a tie: 257 is odd)."""
    return ((values.astype(np.int64) * 2 + 257) // 514).astype(np.uint8)


def sixteen_bit_colour() -> np.ndarray:
    """RGB whose channels are three different ramps, so channel order shows too."""
    ramp = every_sixteen_bit_value()
    return np.dstack([ramp, 65535 - ramp, (ramp.astype(np.uint32) * 7 % 65536).astype(np.uint16)])


@pytest.mark.parametrize("ext", [".png", ".tiff"])
def test_sixteen_bits_are_scaled_to_eight_by_value_over_257(ext):
    ramp = every_sixteen_bit_value()
    ok, gray_file = cv2.imencode(ext, ramp)
    assert ok
    gray = decode_gray(gray_file.tobytes())
    assert gray.dtype == np.uint8 and np.array_equal(gray, eight_bit(ramp))
    assert gray[0, 0] == 0 and gray[-1, -1] == 255 and gray.flat[128] == 0 and gray.flat[129] == 1

    colour = sixteen_bit_colour()
    ok, colour_file = cv2.imencode(ext, cv2.cvtColor(colour, cv2.COLOR_RGB2BGR))
    assert ok
    rgb = decode_rgb(colour_file.tobytes())
    assert rgb.dtype == np.uint8 and np.array_equal(rgb, eight_bit(colour))
    rgb_again, gray_again = decode(colour_file.tobytes())
    assert np.array_equal(rgb_again, rgb) and gray_again.dtype == np.uint8


def test_a_sixteen_bit_copy_of_an_eight_bit_face_decodes_to_that_face():
    """Not min-max stretched: a dim photo stays dim (here no pixel is near black or white)."""
    rng = np.random.default_rng(3)
    face = rng.integers(60, 180, (40, 30, 3), dtype=np.uint8)
    ok, encoded = cv2.imencode(".png", face.astype(np.uint16) * 257)
    assert ok
    assert np.array_equal(decode_rgb(encoded.tobytes()), cv2.cvtColor(face, cv2.COLOR_BGR2RGB))


def test_an_eight_bit_png_reads_as_it_always_has():
    image = np.random.default_rng(5).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    data = np.frombuffer(encoded.tobytes(), np.uint8)
    assert np.array_equal(decode_gray(encoded.tobytes()), cv2.imdecode(data, cv2.IMREAD_GRAYSCALE))


def test_a_sixteen_bit_tiff_opencv_cannot_read_is_scaled_by_pillow_alike(monkeypatch):
    ramp = every_sixteen_bit_value()
    ok, encoded = cv2.imencode(".tiff", ramp)
    assert ok
    monkeypatch.setattr(decoding.cv2, "imdecode", lambda *_: None)
    gray = decode_gray(encoded.tobytes())
    assert np.array_equal(gray, eight_bit(ramp))


# --- animated GIF ---------------------------------------------------------------------------------


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (40, 30), colour) for colour in (RED, GREEN, BLUE)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(buffer.getvalue())).n_frames == 3
    return buffer.getvalue()


def test_an_animated_gif_gives_its_first_frame():
    data = animated_gif()
    rgb = decode_rgb(data, "wave.gif")
    assert rgb.shape == (30, 40, 3)
    assert (rgb == RED).all()  # the first frame, not the green or blue ones after it
    rgb_again, gray = decode(data)
    assert np.array_equal(rgb_again, rgb)
    assert np.array_equal(decode_gray(data), gray)
    assert (gray == cv2.cvtColor(np.uint8([[RED]]), cv2.COLOR_RGB2GRAY)[0, 0]).all()


def test_a_gif_this_opencv_cannot_read_is_read_by_pillow(monkeypatch):
    """OpenCV reads GIF only from 4.11, and the project allows 4.10."""
    monkeypatch.setattr(decoding.cv2, "imdecode", lambda *_: None)
    rgb = decode_rgb(animated_gif(), "wave.gif")
    assert rgb.shape == (30, 40, 3) and (rgb == RED).all()
    assert reason(animated_gif()[:20]) == "corrupt GIF (could not decode it)"


# --- one decode for both --------------------------------------------------------------------------


def test_decode_reads_a_png_once_and_keeps_a_jpegs_own_luma(monkeypatch):
    from .conftest import astronaut, rgb_jpeg_bytes, rgb_png_bytes

    png, jpeg = rgb_png_bytes(astronaut()), rgb_jpeg_bytes(astronaut())
    calls = []
    real = cv2.imdecode
    monkeypatch.setattr(decoding.cv2, "imdecode", lambda *a: calls.append(1) or real(*a))
    rgb, gray = decode(png, "photo.png")
    assert len(calls) == 1  # colour stored: gray is the decoded colour, converted
    rgb_jpeg, gray_jpeg = decode(jpeg, "photo.jpg")
    assert len(calls) == 3  # luma stored: read as it is, in a second decode
    monkeypatch.undo()
    assert np.array_equal(rgb, decode_rgb(png))
    assert np.array_equal(gray, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    assert np.abs(gray.astype(int) - decode_gray(png)).max() <= 1
    assert np.array_equal(rgb_jpeg, decode_rgb(jpeg))
    assert np.array_equal(gray_jpeg, decode_gray(jpeg))  # what training faces have always been


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"BM is how these notes begin, not a bitmap", "not an image (unrecognised file format)"),
        (b"GIF8 notes", "not an image (unrecognised file format)"),
    ],
    ids=["BM text", "GIF8 text"],
)
def test_text_that_starts_like_an_image_is_not_called_a_corrupt_one(data, reason):
    with pytest.raises(UnreadableImageError) as caught:
        decode(data, "notes.txt")
    assert caught.value.reason == reason


def test_a_header_claiming_more_pixels_than_opencv_allows_is_one_files_error():
    import struct

    header = b"BM" + struct.pack("<IHHI", 54, 0, 0, 54)
    header += struct.pack("<IiiHHIIiiII", 40, 60000, 60000, 1, 24, 0, 0, 0, 0, 0, 0)
    with pytest.raises(UnreadableImageError) as caught:
        decode(header, "huge.bmp")
    assert caught.value.reason == "BMP too large: over OpenCV's pixel limit"
