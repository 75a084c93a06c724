"""Decoding and preprocessing: every kind of bad file is skipped with its reason."""

import re

import numpy as np
import pytest

from facegen.faces.cache import load_faces, preprocess_files
from facegen.faces.decode import UnreadableImageError, decode_gray
from facegen.faces.preprocess import load_face, preprocess_face
from tests.conftest import cmyk_jpeg_bytes, jpeg_bytes, png_bytes, synthetic_face, utk_name


@pytest.fixture
def face():
    return synthetic_face(3, size=100)


def test_jpeg_becomes_48x48_uint8(tmp_path, face):
    path = tmp_path / "a.jpg"
    path.write_bytes(jpeg_bytes(face))
    out = load_face(path)
    assert out.shape == (48, 48) and out.dtype == np.uint8
    assert 0 < out.mean() < 255


def test_size_is_configurable(tmp_path, face):
    path = tmp_path / "a.jpg"
    path.write_bytes(jpeg_bytes(face))
    assert load_face(path, size=32).shape == (32, 32)
    assert load_face(path, size=128).shape == (128, 128)  # enlarging works too


@pytest.mark.parametrize("encode", [png_bytes, cmyk_jpeg_bytes], ids=["png", "cmyk-jpeg"])
def test_other_encodings_match_the_jpeg_closely(face, encode):
    reference = preprocess_face(decode_gray(jpeg_bytes(face, quality=100)))
    other = preprocess_face(decode_gray(encode(face)))
    assert np.abs(reference.astype(int) - other.astype(int)).mean() < 4


def test_grayscale_and_alpha_png(face):
    gray = face.mean(axis=2).astype(np.uint8)
    assert decode_gray(png_bytes(gray)).shape == gray.shape
    rgba = np.dstack([face, np.full(face.shape[:2], 255, np.uint8)])
    assert decode_gray(png_bytes(rgba)).shape == face.shape[:2]


def test_sixteen_bit_png_is_scaled_to_eight_bits(face):
    deep = face.astype(np.uint16) * 257
    out = decode_gray(png_bytes(deep))
    assert out.dtype == np.uint8 and out.max() > 200


def test_colour_arrays_are_accepted_by_the_shared_function(face):
    assert preprocess_face(face).shape == (48, 48)


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty file (0 bytes)"),
        (b"hello, I am a text file", "not an image"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 200 + b"\xff\xd9", "corrupt JPEG"),
    ],
)
def test_bad_bytes_are_named(data, reason):
    with pytest.raises(UnreadableImageError, match=re.escape(reason)):
        decode_gray(data, "x.jpg")


def test_truncated_jpeg_and_png(face):
    with pytest.raises(UnreadableImageError, match="truncated JPEG"):
        decode_gray(jpeg_bytes(face)[:-400], "cut.jpg")
    with pytest.raises(UnreadableImageError, match="truncated PNG"):
        decode_gray(png_bytes(face)[:-100], "cut.png")


def test_error_message_names_the_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(UnreadableImageError, match=str(path)):
        load_face(path)
    with pytest.raises(UnreadableImageError, match="cannot be read"):
        load_face(tmp_path / "missing.jpg")


def test_batch_carries_on_past_bad_files(tmp_path, face):
    good = tmp_path / "good.jpg"
    good.write_bytes(jpeg_bytes(face))
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "text.jpg"
    text.write_text("not an image")
    images, errors = preprocess_files([good, empty, text, good], workers=2)
    assert errors == [None, "empty file (0 bytes)", "not an image (unrecognised file format)", None]
    np.testing.assert_array_equal(images[0], images[3])
    assert images[0].any()


def test_parallel_equals_serial(face_folder, monkeypatch):
    monkeypatch.setattr("facegen.faces.cache._MIN_PER_WORKER", 10)  # use the pool on a small folder
    monkeypatch.setattr("facegen.faces.cache._CHUNK", 16)
    paths = sorted(face_folder.iterdir())
    serial, _ = preprocess_files(paths, workers=1)
    parallel, _ = preprocess_files(paths, workers=2)
    np.testing.assert_array_equal(serial, parallel)


def test_cache_is_reused_and_invalidated(face_folder):
    from facegen.data.utkface import load_frame

    frame = load_frame(face_folder)
    first = load_faces(frame, progress=False)
    assert not first.from_cache
    second = load_faces(frame, progress=False)
    assert second.from_cache
    np.testing.assert_array_equal(first.images, second.images)
    assert not load_faces(frame, size=32, progress=False).from_cache  # parameter changed

    changed = face_folder / utk_name(1, 0, 0, 0)  # the fixture's first file
    changed.write_bytes(jpeg_bytes(synthetic_face(999)))
    third = load_faces(load_frame(face_folder), progress=False)
    assert not third.from_cache
    row = third.files.index(changed.name)
    assert not np.array_equal(third.images[row], first.images[first.files.index(changed.name)])


def test_cache_version_bump_invalidates(face_folder, monkeypatch):
    from facegen.data.utkface import load_frame

    frame = load_frame(face_folder)
    load_faces(frame, progress=False)
    monkeypatch.setattr("facegen.faces.cache.PREPROCESSING_VERSION", 999)
    assert not load_faces(frame, progress=False).from_cache


def test_damaged_cache_is_rebuilt(face_folder):
    from facegen import config
    from facegen.data.utkface import load_frame

    frame = load_frame(face_folder)
    load_faces(frame, progress=False)
    for path in config.cache_dir().glob("faces-*.npz"):
        path.write_bytes(b"garbage")
    again = load_faces(frame, progress=False)
    assert not again.from_cache and len(again.files) == 120
