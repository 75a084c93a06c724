"""Faces from anywhere: detection, alignment onto UTKFace's frame, framing and decoding.

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
from facegen.faces.framing import Framing, frame_crops
from facegen.faces.preprocess import model_input

from .conftest import (
    ASTRONAUT_DETECTED_BOX,
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
    """The detector's faces in each test image, from one call (same-size images share a batch)."""
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
    assert np.abs(box - ASTRONAUT_DETECTED_BOX).max() <= 4


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
    assert min(big.shape[:2]) > detect.PHOTO_SHORT_SIDE
    (face,) = detect.detect_faces([big])[0]
    assert np.abs(face.landmarks - ASTRONAUT_LANDMARKS * factor).max() < 4 * factor
    width = ASTRONAUT_DETECTED_BOX[2] * factor
    assert abs(face.box.width - width) < 0.15 * width


def test_a_face_just_large_enough_is_found_and_smaller_ones_are_left_out():
    canvas = np.full((1500, 2000, 3), 90, np.uint8)
    face = cv2.resize(astronaut_face(0.3, None), (90, 116), interpolation=cv2.INTER_AREA)
    canvas[600:716, 900:990] = face
    smallest = detect.MIN_FACE_FRACTION * 1500  # 60 px
    (found,) = detect.detect_faces([canvas])[0]
    assert smallest <= found.box.width < 1.2 * smallest  # searched at 960x720, still found
    assert detect.faces_in_photo(canvas, [found]) == [found]
    narrower = detect.DetectedFace(detect.FaceBox(10, 10, 59, 70), 0.99, found.landmarks)
    assert detect.faces_in_photo(canvas, [found, narrower]) == [found]


# --- framing --------------------------------------------------------------------------------------


def gray_of(rgb: np.ndarray) -> np.ndarray:
    return rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def test_crops_are_aligned_at_any_size_or_used_whole():
    from skimage import data

    utk_like = astronaut_face(0.25, 200)
    overfilled = astronaut_face(-0.1, None)  # cut inside the face's own box: 85x67 px
    brick = data.brick()
    rgbs = [utk_like, overfilled, cv2.cvtColor(brick, cv2.COLOR_GRAY2RGB)]
    framed = frame_crops(rgbs, [gray_of(image) for image in rgbs])

    assert [f.framing for f in framed] == [Framing.ALIGNED, Framing.ALIGNED, Framing.WHOLE_IMAGE]
    assert all(
        f.face.shape == (config.IMAGE_SIZE,) * 2 and f.face.dtype == np.uint8 for f in framed
    )
    # The aligned crop is the shared path: landmarks, align_face, then model_input.
    (face,) = detect.detect_in_crops([utk_like])[0]
    expected = model_input(align_face(gray_of(utk_like), face.landmarks))
    assert np.array_equal(framed[0].face, expected)
    # A face that fills its crop is boxed in the crop's own pixels: the box reaches past it.
    box = framed[1].box
    assert box.x < 0 and box.x + box.width > overfilled.shape[1] // 2
    assert framed[1].confidence >= detect.CROP_MIN_CONFIDENCE
    # No face: the whole image, preprocessed as a UTKFace crop is.
    assert np.array_equal(framed[2].face, model_input(brick))
    assert framed[2].box == detect.FaceBox(0, 0, 512, 512) and framed[2].confidence is None


def test_a_crop_is_searched_at_one_scale_whatever_its_resolution():
    """The landmark template holds for a crop only if every crop is searched at the scale it was
    measured at: the same face at 64 px and at 200 px gives the same landmarks, in its pixels."""
    face = astronaut_face(0.25, 200)
    small = cv2.resize(face, (64, 64), interpolation=cv2.INTER_AREA)
    (large_face,), (small_face,) = detect.detect_in_crops([face, small])
    in_small_pixels = (large_face.landmarks + 0.5) * 64 / 200 - 0.5
    assert np.abs(small_face.landmarks - in_small_pixels).max() < 1.0


def test_the_detectors_landmarks_land_on_the_template():
    """Aligned through its landmarks, the astronaut's face is searched again as a crop: its
    landmarks are found where the alignment put them, and those sit on the template as closely
    as one similarity can put a particular face's five points (the template is a median face)."""
    (face,) = detect.detect_faces([astronaut()])[0]
    matrix = alignment_matrix(face.landmarks)
    placed = face.landmarks @ matrix[:, :2].T + matrix[:, 2]
    (found,) = detect.detect_in_crops([align_face(astronaut(), face.landmarks)])[0]
    assert np.abs(found.landmarks - placed).max() < 2.0  # pixels of the 64 px frame
    assert np.abs(found.landmarks - TEMPLATE * ALIGNED_SIZE).mean() < 1.5
    eyes = slice(0, 2)
    assert np.abs(found.landmarks[eyes] - TEMPLATE[eyes] * ALIGNED_SIZE).max() < 1.5


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
    # Searched as stored, the face lies on its side: its eyes one above the other.
    for face in on_its_side:
        eyes = face.landmarks[1] - face.landmarks[0]
        assert abs(eyes[1]) > 2 * abs(eyes[0])
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


def test_a_collection_framed_on_worker_processes_equals_one_framed_here(tmp_path, monkeypatch):
    from facegen.faces import batch

    names, paths = [], []
    for i in range(150):  # three chunks of batch._BATCH and a bit
        path = tmp_path / f"{i:03d}.jpg"
        face = astronaut_face(0.15 + 0.02 * (i % 10), 64 + 16 * (i % 4))
        path.write_bytes(rgb_jpeg_bytes(np.ascontiguousarray(face)))
        names.append(path.name)
        paths.append(str(path))
    (tmp_path / "007.jpg").write_bytes(b"")  # a bad file in the middle
    monkeypatch.setattr(batch, "_MIN_FOR_WORKERS", 10**9)
    here = batch.frame_files(names, paths, cache=False)
    monkeypatch.setattr(batch, "_MIN_FOR_WORKERS", 1)
    monkeypatch.setattr(batch, "default_workers", lambda: 2)
    spread = batch.frame_files(names, paths, cache=False)
    assert spread.files == here.files and len(here.files) == 149
    assert np.array_equal(spread.images, here.images)
    assert spread.framing == here.framing and np.array_equal(spread.turn, here.turn, equal_nan=True)
    assert spread.errors == here.errors == {"007.jpg": "empty file (0 bytes)"}


def test_a_face_in_a_big_photo_is_aligned_from_its_own_part_of_the_photo(monkeypatch):
    """Only the part of a photo that a face's frame covers is shrunk before the warp; the face
    comes out as from the whole photo shrunk, up to resampling (the pixel grids differ)."""
    from facegen.faces import align

    big = cv2.resize(astronaut(), None, fx=4, fy=4, interpolation=cv2.INTER_LINEAR)
    landmarks = ASTRONAUT_LANDMARKS * 4 + 1.5
    from_its_part = align_face(big, landmarks)
    monkeypatch.setattr(align, "_covered", lambda image, *args, **kwargs: (image, np.zeros(2)))
    from_the_whole = align_face(big, landmarks)
    difference = np.abs(from_its_part.astype(int) - from_the_whole)
    assert difference.mean() < 3 and np.percentile(difference, 95) < 10
