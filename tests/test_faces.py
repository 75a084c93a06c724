"""Faces from anywhere: MTCNN detection, alignment onto UTKFace's frame, framing and decoding.

Every face here is scikit-image's public-domain astronaut (see ``conftest.astronaut``), cut,
turned or pasted as each test needs; no UTKFace or FairFace image is used.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from facegen import config
from facegen.faces import detect
from facegen.faces.align import ALIGNED_SIZE, TEMPLATE, align_face, alignment_matrix
from facegen.faces.decode import (
    UnreadableImageError,
    decode_gray,
    decode_rgb,
    header_dimensions,
)
from facegen.faces.framing import ALIGNED, WHOLE_IMAGE, frame_crops
from facegen.faces.preprocess import model_input

from .conftest import (
    ASTRONAUT_BOX,
    ASTRONAUT_LANDMARKS,
    astronaut,
    astronaut_face,
    exif_rotated_jpeg_bytes,
    rgb_jpeg_bytes,
    rgb_png_bytes,
    synthetic_face,
)

# --- alignment ------------------------------------------------------------------------------------


def similarity(scale: float, degrees: float, centre=(200.0, 200.0)) -> np.ndarray:
    """The 2x3 similarity putting the aligned frame's centre at ``centre``, turned and scaled."""
    c, s = scale * np.cos(np.radians(degrees)), scale * np.sin(np.radians(degrees))
    linear = np.array([[c, -s], [s, c]])
    middle = (ALIGNED_SIZE - 1) / 2
    shift = np.asarray(centre) - linear @ np.array([middle, middle])
    return np.hstack([linear, shift[:, None]])


@pytest.mark.parametrize(
    ("scale", "degrees"),
    [(0.9, 25.0), (1.5, 10.0), (3.0, -35.0)],  # 3x takes the shrink-first path
)
def test_a_face_with_known_landmarks_lands_on_the_template(scale, degrees):
    aligned = cv2.cvtColor(synthetic_face(3, ALIGNED_SIZE), cv2.COLOR_BGR2GRAY)
    to_photo = similarity(scale, degrees)
    template = TEMPLATE * ALIGNED_SIZE
    landmarks = template @ to_photo[:, :2].T + to_photo[:, 2]
    photo = cv2.warpAffine(
        aligned, to_photo, (400, 400), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101
    )

    matrix = alignment_matrix(landmarks)
    assert np.abs(landmarks @ matrix[:, :2].T + matrix[:, 2] - template).max() < 1e-6
    assert np.allclose(matrix, cv2.invertAffineTransform(to_photo), atol=1e-9)

    back = align_face(photo, landmarks)
    assert back.shape == (ALIGNED_SIZE, ALIGNED_SIZE) and back.dtype == np.uint8
    error = np.abs(back.astype(int) - aligned)
    assert error.mean() < 1.0 and error.max() <= 4  # the image round-trips


def test_alignment_keeps_the_channels_and_mirrors_the_edge_instead_of_black():
    grey = np.full((100, 100, 3), 77, np.uint8)
    near_corner = TEMPLATE * 40 + 80  # the frame reaches well past the bottom-right edge
    aligned = align_face(grey, near_corner)
    assert aligned.shape == (ALIGNED_SIZE, ALIGNED_SIZE, 3) and (aligned == 77).all()


@pytest.mark.parametrize(
    ("landmarks", "message"),
    [
        (TEMPLATE[:4] * 100, "expected 5 finite"),
        (np.where(np.eye(5, 2, dtype=bool), np.nan, TEMPLATE * 100), "expected 5 finite"),
        (np.full((5, 2), 50.0), "the landmarks coincide"),
    ],
    ids=["four points", "NaN", "coincident"],
)
def test_alignment_refuses_landmarks_that_are_not_a_face(landmarks, message):
    with pytest.raises(ValueError, match=message):
        alignment_matrix(landmarks)
    with pytest.raises(ValueError, match=message):
        align_face(np.zeros((100, 100), np.uint8), landmarks)


# --- detection ------------------------------------------------------------------------------------

TURN = cv2.getRotationMatrix2D((255.5, 255.5), 20, 1.0)  # 20 degrees anticlockwise


@pytest.fixture(scope="module")
def found() -> dict[str, list[detect.DetectedFace]]:
    """MTCNN's faces in each test image, from one call (same-size images share a batch)."""
    from skimage import data

    images = {
        "astronaut": astronaut(),
        "turned": cv2.warpAffine(astronaut(), TURN, (512, 512), borderMode=cv2.BORDER_REFLECT_101),
        "two": np.hstack([astronaut(), astronaut()]),
        "brick": data.brick(),  # grayscale, no face
        "coffee": data.coffee(),
        "camera": data.camera(),  # grayscale, one face
    }
    return dict(zip(images, detect.detect_faces(list(images.values())), strict=True))


def test_the_astronaut_is_one_face_with_its_landmarks(found):
    (face,) = found["astronaut"]
    assert face.confidence > 0.99
    assert face.landmarks.shape == (5, 2)
    assert np.abs(face.landmarks - ASTRONAUT_LANDMARKS).max() < 3
    box = np.array([face.box.x, face.box.y, face.box.width, face.box.height])
    assert np.abs(box - ASTRONAUT_BOX).max() <= 4


def test_a_turned_face_is_found_and_its_landmarks_turn_with_it(found):
    (face,) = found["turned"]
    expected = ASTRONAUT_LANDMARKS @ TURN[:, :2].T + TURN[:, 2]
    assert np.abs(face.landmarks - expected).max() < 5


def test_two_faces_side_by_side_are_both_found_in_their_own_pixels(found):
    faces = sorted(found["two"], key=lambda f: f.box.x)
    assert len(faces) == 2
    assert faces[0].box.x + faces[0].box.width <= 512 <= faces[1].box.x
    assert np.abs(faces[1].landmarks - faces[0].landmarks - [512, 0]).max() < 3


def test_no_face_in_brick_or_coffee_and_a_grayscale_face_is_found(found):
    assert found["brick"] == [] and found["coffee"] == []
    assert len(found["camera"]) == 1


def test_a_big_photo_is_searched_small_and_answered_in_its_own_pixels():
    factor = 3
    big = cv2.resize(astronaut(), None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)
    assert max(big.shape) > detect.DETECTION_MAX_SIDE
    (face,) = detect.detect_faces([big])[0]
    assert np.abs(face.landmarks - ASTRONAUT_LANDMARKS * factor).max() < 4 * factor
    assert abs(face.box.width - ASTRONAUT_BOX[2] * factor) < 0.15 * ASTRONAUT_BOX[2] * factor


def test_faces_too_small_for_the_photo_are_left_out():
    canvas = np.full((1500, 2000, 3), 90, np.uint8)
    canvas[600:728, 900:1028] = cv2.resize(astronaut(), (128, 128), interpolation=cv2.INTER_AREA)
    faces = detect.detect_faces([canvas])[0]
    assert len(faces) == 1 and faces[0].box.width < detect.MIN_FACE_FRACTION * 1500
    assert detect.faces_in_photo(canvas, faces) == []


# --- framing --------------------------------------------------------------------------------------


def gray_of(rgb: np.ndarray) -> np.ndarray:
    return rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def test_crops_are_aligned_retried_inside_a_border_or_used_whole():
    from skimage import data

    utk_like = astronaut_face(0.25, 200)
    overfilled = astronaut_face(-0.1, None)  # cut inside the face's own box: no context left
    brick = data.brick()
    # MTCNN returns no box at all for it, whatever the confidence threshold: only the retry
    # inside a mirrored border can find it.
    assert detect.detect_faces([overfilled])[0] == []
    rgbs = [utk_like, overfilled, cv2.cvtColor(brick, cv2.COLOR_GRAY2RGB)]
    framed = frame_crops(rgbs, [gray_of(image) for image in rgbs])

    assert [f.framing for f in framed] == [ALIGNED, ALIGNED, WHOLE_IMAGE]
    assert all(
        f.face.shape == (config.IMAGE_SIZE,) * 2 and f.face.dtype == np.uint8 for f in framed
    )
    # The aligned crop is the shared path: landmarks, align_face, then preprocess_face.
    (face,) = detect.detect_faces([utk_like])[0]
    expected = model_input(align_face(gray_of(utk_like), face.landmarks))
    assert np.array_equal(framed[0].face, expected)
    # The retried face is boxed in the crop's own pixels: it reaches past the crop's corner.
    box = framed[1].box
    assert box.x < 0 and box.y < 0 and box.x + box.width > overfilled.shape[1] // 2
    assert framed[1].confidence >= detect.MIN_CONFIDENCE
    # No face: the whole image, preprocessed as a UTKFace crop is.
    assert np.array_equal(framed[2].face, model_input(brick))
    assert framed[2].box == detect.FaceBox(0, 0, 512, 512) and framed[2].confidence is None


def test_the_crops_face_is_the_one_nearest_its_centre(found):
    left, right = sorted(found["two"], key=lambda f: f.box.x)
    assert detect.central_face(np.zeros((512, 400, 3)), [right, left]) is left
    assert detect.central_face(np.zeros((512, 1400, 3)), [left, right]) is right
    assert detect.central_face(np.zeros((512, 400, 3)), []) is None


# --- decoding -------------------------------------------------------------------------------------


def test_a_grayscale_png_decodes_to_gray_and_to_three_equal_channels():
    from skimage import data

    camera = data.camera()
    encoded = rgb_png_bytes(camera)
    assert np.array_equal(decode_gray(encoded), camera)
    rgb = decode_rgb(encoded)
    assert rgb.shape == (*camera.shape, 3) and all(
        np.array_equal(rgb[..., c], camera) for c in (0, 1, 2)
    )


def test_a_cmyk_jpeg_decodes_to_the_right_colours_and_its_face_is_found():
    buffer = io.BytesIO()
    Image.fromarray(astronaut()).convert("CMYK").save(buffer, "JPEG", quality=95)
    rgb = decode_rgb(buffer.getvalue(), "cmyk.jpg")
    assert rgb.shape == (512, 512, 3)
    assert np.abs(rgb.astype(int) - astronaut()).mean() < 5  # not inverted, not channel-swapped
    gray = decode_gray(buffer.getvalue(), "cmyk.jpg")
    assert np.abs(gray.astype(int) - gray_of(astronaut())).mean() < 5
    assert len(detect.detect_faces([rgb])[0]) == 1


def test_an_exif_rotated_phone_photo_is_turned_upright_before_the_face_is_searched():
    upright = np.ascontiguousarray(astronaut()[:, 64:448])  # 512 high, 384 wide
    encoded = exif_rotated_jpeg_bytes(upright)
    stored = np.asarray(Image.open(io.BytesIO(encoded)).convert("RGB"))  # EXIF ignored
    assert stored.shape == (384, 512, 3)
    rgb = decode_rgb(encoded, "phone.jpg")
    assert rgb.shape == (512, 384, 3) and decode_gray(encoded).shape == (512, 384)
    assert np.abs(rgb.astype(int) - upright).mean() < 5
    on_its_side, turned = detect.detect_faces([stored, rgb])
    assert on_its_side == []  # the face is found only because the orientation was honoured
    assert len(turned) == 1
    assert np.abs(turned[0].landmarks - (ASTRONAUT_LANDMARKS - [64, 0])).max() < 4


def damaged_files() -> list[tuple[bytes, str]]:
    jpeg, png = rgb_jpeg_bytes(astronaut_face()), rgb_png_bytes(astronaut_face())
    return [
        (b"", "empty file (0 bytes)"),
        (b"%PDF-1.7 a document", "not an image (unrecognised file format)"),
        (jpeg[: len(jpeg) // 2], "truncated JPEG (no end-of-image marker)"),
        (png[: len(png) // 2], "truncated PNG (no IEND chunk)"),
        (
            b"\xff\xd8\xff\xe0" + b"\x13" * 300 + b"\xff\xd9",
            "corrupt JPEG (OpenCV could not decode it)",
        ),
    ]


@pytest.mark.parametrize(
    ("data", "reason"),
    damaged_files(),
    ids=["empty", "not an image", "truncated JPEG", "truncated PNG", "corrupt JPEG"],
)
@pytest.mark.parametrize("decode", [decode_gray, decode_rgb])
def test_a_damaged_file_is_refused_with_its_reason(decode, data, reason):
    with pytest.raises(UnreadableImageError) as caught:
        decode(data, "photos/x.jpg")
    assert caught.value.reason == reason and caught.value.source == "photos/x.jpg"
    assert str(caught.value) == f"photos/x.jpg: {reason}"


def test_the_size_is_read_from_a_header_only_when_the_header_is_there():
    photo = np.ascontiguousarray(astronaut()[:300, :200])
    assert header_dimensions(rgb_png_bytes(photo)) == (200, 300)
    assert header_dimensions(rgb_jpeg_bytes(photo)) == (200, 300)
    assert header_dimensions(b"\x89PNG\r\n\x1a\n" + b"\x07" * 40) is None  # no IHDR: noise
    assert header_dimensions(b"GIF89a") is None


def with_thumbnail(jpeg: bytes) -> bytes:
    """The JPEG with an APP1 segment holding a small JPEG, as an EXIF thumbnail sits."""
    payload = b"Exif\x00\x00" + rgb_jpeg_bytes(astronaut_face(size=16))
    return jpeg[:2] + b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]


def test_data_after_the_end_of_image_is_no_truncation_but_a_cut_scan_is():
    jpeg = with_thumbnail(rgb_jpeg_bytes(astronaut_face()))
    expected = decode_rgb(jpeg)
    # A motion photo: the phone appends its video after the image's end-of-image marker.
    motion = jpeg + b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8
    assert np.array_equal(decode_rgb(motion, "motion.jpg"), expected)
    # Cut inside the scan: the thumbnail's own end-of-image marker must not pass for the image's.
    cut = jpeg[: len(jpeg) - 1000]
    assert b"\xff\xd9" in cut
    with pytest.raises(UnreadableImageError, match="truncated JPEG"):
        decode_rgb(cut, "cut.jpg")
