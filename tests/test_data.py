"""The one call: load_dataset on a folder with every trap, and its quality report."""

from pathlib import Path

import numpy as np
import pytest

from facegen import DataNotFoundError, load_dataset
from facegen.data.frame import RowStatus
from facegen.errors import BadInputError
from tests.conftest import cmyk_jpeg_bytes, jpeg_bytes, png_bytes, synthetic_face, utk_name


@pytest.fixture
def trap_folder(face_folder):
    """The 120 good faces plus one of each trap the real set (or a user's folder) holds."""
    f = face_folder
    (f / "39_1_20170116174525125.jpg.chip.jpg").write_bytes(jpeg_bytes(synthetic_face(501)))
    (f / "24_0_1_20170116220224657 .jpg.chip.jpg").write_bytes(jpeg_bytes(synthetic_face(502)))
    (f / "55_0_0_20170116232725357jpg.chip.jpg").write_bytes(jpeg_bytes(synthetic_face(503)))
    (f / "61_3_20170109150557335.jpg.chip.jpg").write_bytes(jpeg_bytes(synthetic_face(504)))
    (f / utk_name(30, 0, 1, 900)).write_bytes(b"")
    (f / utk_name(30, 0, 1, 901)).write_text("<html>not an image</html>")
    (f / utk_name(30, 0, 1, 902)).write_bytes(jpeg_bytes(synthetic_face(505))[:-300])
    (f / utk_name(30, 1, 2, 903).replace(".jpg.chip.jpg", ".png")).write_bytes(
        png_bytes(synthetic_face(506))
    )
    (f / utk_name(30, 1, 2, 904)).write_bytes(cmyk_jpeg_bytes(synthetic_face(507)))
    (f / utk_name(50, 1, 3, 905)).write_bytes(jpeg_bytes(synthetic_face(508)))
    (f / utk_name(50, 1, 3, 906)).write_bytes(jpeg_bytes(synthetic_face(508)))
    (f / utk_name(50, 0, 3, 907)).write_bytes(jpeg_bytes(synthetic_face(509)))
    (f / utk_name(50, 1, 3, 908)).write_bytes(jpeg_bytes(synthetic_face(509)))
    (f / "Thumbs.db").write_bytes(b"\x00" * 10)
    return f


def test_every_trap_is_counted(trap_folder):
    dataset = load_dataset(trap_folder, progress=False)
    q = dataset.quality
    assert q.found == 120 + 14
    assert q.excluded.to_dict() == {
        "duplicate copy (another identical file kept)": 1,
        "identical files with conflicting labels": 2,
        "label out of range: gender 3": 1,
        "name does not follow {age}_{gender}_{race}_{datetime}": 1,
        RowStatus.UNREADABLE: 3,
    }
    assert q.kept_with_notes.to_dict() == {
        "no dot before the extension": 1,
        "race field missing: ethnicity unknown": 1,
        "space before the extension": 1,
    }
    assert q.used == 120 + 3 + 2 + 1 == len(dataset.images)
    reasons = dict(zip(q.details["file"], q.details["note"], strict=False))
    assert reasons[utk_name(30, 0, 1, 900)] == "empty file (0 bytes)"
    assert reasons[utk_name(30, 0, 1, 901)] == "not an image (unrecognised file format)"
    assert reasons[utk_name(30, 0, 1, 902)] == "truncated JPEG (no end-of-image marker)"


def test_images_line_up_with_rows_and_splits(trap_folder):
    dataset = load_dataset(trap_folder, progress=False)
    used = dataset.used
    assert dataset.images.shape == (len(used), 48, 48) and dataset.images.dtype == np.uint8
    assert used["status"].eq("ok").all()
    assert dataset.split_sizes()["files"].sum() == len(used)
    images, rows = dataset.part("test")
    assert len(images) == len(rows) > 0
    with pytest.raises(ValueError, match="split must be one of"):
        dataset.part("holdout")


def test_same_seed_writes_the_same_split_bytes(trap_folder, tmp_path):
    a = load_dataset(trap_folder, progress=False, seed=5).write_split(tmp_path / "a.csv")
    b = load_dataset(trap_folder, progress=False, seed=5, cache=False).write_split(
        tmp_path / "b.csv"
    )
    c = load_dataset(trap_folder, progress=False, seed=6).write_split(tmp_path / "c.csv")
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


def test_printed_summary(trap_folder):
    text = str(load_dataset(trap_folder, progress=False))
    assert "files found" in text and "train" in text and "fingerprint" in text


def test_folder_without_usable_images(tmp_path):
    (tmp_path / utk_name(30, 0, 1, 1)).write_bytes(b"")
    with pytest.raises(BadInputError, match="No usable face images"):  # exit status 3
        load_dataset(tmp_path, progress=False)


def test_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DataNotFoundError):
        load_dataset(tmp_path, progress=False)


def test_another_size_keeps_the_faces_and_split_and_matches_preprocessing(trap_folder):
    import cv2

    dataset = load_dataset(trap_folder, progress=False)
    larger = dataset.at_size(64)
    assert larger.images.shape == (len(dataset.used), 64, 64) and larger.image_size == 64
    assert larger.used["split"].equals(dataset.used["split"])
    # Row i is still file i: compare with that file decoded and preprocessed at 64 directly.
    from facegen.faces.preprocess import model_input

    for i in (0, len(dataset.used) - 1):
        path = dataset.used["path"].iat[i]
        gray = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_GRAYSCALE)
        assert np.array_equal(larger.images[i], model_input(gray, 64))
    assert dataset.at_size(48) is dataset
    with pytest.raises(ValueError, match="image_size must be between"):
        dataset.at_size(4)


def test_a_face_the_framing_step_could_not_read_is_used_whole_like_any_other(
    trap_folder, monkeypatch
):
    """Should a file decode for the stored crops but not for framing, its face stays in the split
    and takes the whole-image path every other faceless file takes (lighting evened)."""
    from facegen.data import dataset as dataset_module
    from facegen.faces.batch import FramedArrays
    from facegen.faces.decode import decode_gray
    from facegen.faces.preprocess import model_input

    def nothing_framed(files, paths, size, **kwargs):
        empty = np.zeros((0, size, size), np.uint8)
        return FramedArrays(empty, [], [], np.zeros(0), {name: "gone" for name in files})

    monkeypatch.setattr(dataset_module, "frame_files", nothing_framed)
    data = load_dataset(trap_folder, progress=False, cache=False)
    used = data.used
    assert set(used["framing"]) == {"whole image"}
    first = decode_gray(Path(used["path"].iat[0]).read_bytes())
    assert np.array_equal(data.images[0], model_input(first))
