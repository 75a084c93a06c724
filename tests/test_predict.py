"""`facegen predict`: inputs, detection and alignment, every bad input, outputs and exit codes.

A tiny untrained model (``conftest.model_path``) carries the plumbing; what matters is that each
file gets the right status and reason, the probabilities are the model's on the shared path
(detect, align, preprocess), and a bad file never stops the batch. Faces are scikit-image's
public-domain astronaut, cut, turned and pasted as each case needs.
"""

from __future__ import annotations

import io
import json
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from facegen.cli import main
from facegen.faces.align import TEMPLATE, align_face
from facegen.faces.decode import decode_gray, header_dimensions
from facegen.faces.detect import (
    MIN_FACE_FRACTION,
    DetectedFace,
    FaceBox,
    detect_faces,
    detect_in_crops,
)
from facegen.faces.preprocess import model_input
from facegen.modeling.inference import predict_proba
from facegen.modeling.saving import load_classifier, load_model
from facegen.predict import classify
from facegen.predict.inputs import collect_inputs

from .conftest import (
    ASTRONAUT_BOX,
    ASTRONAUT_DETECTED_BOX,
    astronaut,
    astronaut_face,
    exif_rotated_jpeg_bytes,
    jpeg_bytes,
    rgb_jpeg_bytes,
    rgb_png_bytes,
    synthetic_face,
)


def huge_png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height``: refused before any decoding."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
        )

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


def brick() -> np.ndarray:
    from skimage import data

    return data.brick()  # grayscale 512x512, no face


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """A folder mixing a face photo, a faceless image, bad files and a non-image, one level deep."""
    folder = tmp_path_factory.mktemp("inputs") / "photos"
    (folder / "holiday").mkdir(parents=True)
    (folder / "holiday" / "face.png").write_bytes(rgb_png_bytes(astronaut()))
    (folder / "wall.jpg").write_bytes(rgb_jpeg_bytes(brick()))
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.txt").write_text("not a picture")
    (folder / "cut.jpg").write_bytes(rgb_jpeg_bytes(astronaut())[:1500])
    (folder / "giant.png").write_bytes(huge_png_header(40_000, 40_000))
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    return folder


@pytest.fixture(scope="module")
def face_file(tmp_path_factory) -> Path:
    """One UTKFace-like crop of the astronaut, for the tests that only need a face to exist."""
    path = tmp_path_factory.mktemp("crop") / "face.jpg"
    path.write_bytes(rgb_jpeg_bytes(astronaut_face()))
    return path


def run_json(capsys, *args: str) -> tuple[int, list[dict]]:
    code = main(["predict", "--format", "json", "-q", *args])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else []


def test_collect_inputs_walks_folders_expands_globs_and_keeps_missing_paths(photos, tmp_path):
    inputs = collect_inputs([str(photos), str(photos / "*.jpg"), str(tmp_path / "nope.jpg")])
    names = [item.name for item in inputs]
    assert "photos/holiday/face.png" in names and "photos/notes.txt" in names
    assert not any(".DS_Store" in name for name in names)  # hidden files are not inputs
    assert len(names) == len(set(item.path.resolve() for item in inputs[:-1])) + 1  # no repeats
    assert inputs[-1].problem == "no such file or folder"
    assert collect_inputs([str(tmp_path / "*.gif")])[0].problem == "no file matches this pattern"


def test_every_file_gets_a_status_and_the_batch_carries_on(photos, model_path, capsys):
    code, files = run_json(capsys, str(photos), "--model", str(model_path))
    assert code == 0
    by_name = {Path(f["file"]).name: f for f in files}
    assert len(files) == 6
    assert by_name["face.png"]["status"] == "ok" and len(by_name["face.png"]["faces"]) == 1
    face = by_name["face.png"]["faces"][0]
    assert face["label"] in ("male", "female") and 0.5 <= face["probability"] <= 1
    assert face["framing"] == "aligned"
    assert np.abs(np.array(face["box"]) - ASTRONAUT_DETECTED_BOX).max() <= 4
    assert (by_name["face.png"]["width"], by_name["face.png"]["height"]) == (512, 512)
    assert by_name["wall.jpg"]["status"] == "no face" and by_name["wall.jpg"]["faces"] == []
    assert by_name["empty.jpg"]["detail"] == "empty file (0 bytes)"
    assert by_name["notes.txt"]["detail"] == "not an image (unrecognised file format)"
    assert by_name["cut.jpg"]["detail"] == "truncated JPEG (no end-of-image marker)"
    assert by_name["giant.png"]["detail"].startswith("too large: 40000x40000 pixels")
    assert all(f["status"] == "error" for n, f in by_name.items() if n in (
        "empty.jpg", "notes.txt", "cut.jpg", "giant.png"))  # fmt: skip


def test_probabilities_are_the_models_own_on_the_shared_preprocessing(photos, model_path, capsys):
    code, files = run_json(capsys, str(photos / "holiday"), "--model", str(model_path))
    assert code == 0
    path = photos / "holiday" / "face.png"
    (face,) = detect_faces([astronaut()])[0]
    gray = decode_gray(path.read_bytes())
    expected = predict_proba(
        load_model(model_path), model_input(align_face(gray, face.landmarks))[None]
    )
    assert files[0]["faces"][0]["p_female"] == pytest.approx(float(expected[0]), abs=1e-4)


def test_cropped_mode_aligns_each_face_and_uses_the_whole_image_when_none_is_found(
    tmp_path, model_path, capsys
):
    from skimage import data

    folder = tmp_path / "crops"
    folder.mkdir()
    (folder / "a_face.jpg").write_bytes(rgb_jpeg_bytes(astronaut_face(0.25)))
    (folder / "b_brick.png").write_bytes(rgb_png_bytes(brick()))
    (folder / "c_coffee.jpg").write_bytes(rgb_jpeg_bytes(data.coffee()))
    code, files = run_json(capsys, "--cropped", str(folder), "--model", str(model_path))
    assert code == 0 and [f["status"] for f in files] == ["ok", "ok", "ok"]
    faces = [f["faces"][0] for f in files]
    assert [face["framing"] for face in faces] == ["aligned", "whole image", "whole image"]

    model = load_model(model_path)
    grays = [
        decode_gray((folder / name).read_bytes())
        for name in sorted(p.name for p in folder.glob("*"))
    ]
    (found,) = detect_in_crops([astronaut_face(0.25)])[0]  # a crop: searched at CROP_SIDE
    inputs = [
        model_input(align_face(grays[0], found.landmarks)),
        model_input(grays[1]),  # no face found: exactly the whole image
        model_input(grays[2]),
    ]
    expected = predict_proba(model, np.stack(inputs))
    assert [face["p_female"] for face in faces] == pytest.approx(expected.tolist(), abs=1e-4)
    assert faces[1]["box"] == [0, 0, 512, 512] and faces[2]["box"] == [0, 0, 600, 400]
    assert main(["predict", "-q", "--cropped", "--format", "csv", str(folder),
                 "--model", str(model_path)]) == 0  # fmt: skip
    rows = capsys.readouterr().out.strip().splitlines()[1:]
    assert [row.split(",")[3] for row in rows] == ["aligned", "whole image", "whole image"]


def test_chunks_and_batches_change_neither_the_answers_nor_their_order(
    tmp_path, model_path, monkeypatch
):
    folder = tmp_path / "many"
    folder.mkdir()
    for i, margin in enumerate((0.5, 0.3, 0.2, 0.1)):
        (folder / f"{i}.png").write_bytes(rgb_png_bytes(astronaut_face(margin)))
    (folder / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (folder / "wall.png").write_bytes(rgb_png_bytes(brick()))
    inputs = collect_inputs([str(folder)])
    model = load_model(model_path)
    together = classify.classify_files(inputs, model, cropped=True, progress=False)
    monkeypatch.setattr(classify, "_CHUNK", 2)
    apart = classify.classify_files(inputs, model, cropped=True, batch_size=1, progress=False)
    assert [r.file for r in apart] == [str(item.path) for item in inputs]
    assert [r.status for r in apart] == [r.status for r in together]
    assert [r.framing for r in apart] == [r.framing for r in together]
    assert sum(r.status == "error" for r in apart) == 1
    ok = [r for r in together if r.status == "ok"]
    assert np.allclose(
        np.concatenate([r.probabilities for r in ok]),
        np.concatenate([r.probabilities for r in apart if r.status == "ok"]),
        atol=1e-4,
    )


def test_a_failure_while_reading_ahead_reaches_the_caller(photos, model_path, monkeypatch):
    def broken(paths, size, cropped):
        raise RuntimeError("detector exploded")

    monkeypatch.setattr(classify, "analyse_files", broken)
    with pytest.raises(RuntimeError, match="detector exploded"):
        classify.classify_files(  # one worker: the files are read ahead on a thread
            collect_inputs([str(photos)]), load_model(model_path), progress=False, workers=1
        )


def test_annotated_copies_mirror_the_input_names(photos, model_path, tmp_path, capsys):
    out = tmp_path / "annotated"
    code, _ = run_json(capsys, str(photos), "--model", str(model_path), "--annotate", str(out))
    assert code == 0
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["photos/holiday/face.png.jpg"]
    drawn = cv2.imread(str(out / written[0]))
    original = cv2.imread(str(photos / "holiday" / "face.png"))
    assert drawn.shape == original.shape
    changed = np.abs(drawn.astype(int) - original).sum(axis=2) > 60
    x, y, w, h = ASTRONAUT_BOX
    assert changed.any() and changed[y - 5 : y + h + 5, x - 5 : x + w + 5].any()


def test_table_and_csv_list_every_file(photos, model_path, capsys):
    assert main(["predict", "-q", str(photos), "--model", str(model_path)]) == 0
    table = capsys.readouterr().out
    assert "photos/holiday/face.png" in table and "error: empty file (0 bytes)" in table
    (face_line,) = [line for line in table.splitlines() if "face.png" in line]
    assert face_line.endswith("aligned")
    assert main(["predict", "-q", "--format", "csv", str(photos), "--model", str(model_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == (
        "file,status,face,framing,x,y,width,height,label,probability,p_female,detail"
    )
    assert len(lines) == 1 + 6  # six files, one face among them
    (face_row,) = [line for line in lines if "face.png" in line]
    assert face_row.split(",")[1:4] == ["ok", "1", "aligned"]


def test_paths_can_come_from_a_list_file(photos, model_path, tmp_path, capsys):
    listing = tmp_path / "list.txt"
    listing.write_text(f"{photos / 'wall.jpg'}\n{photos / 'holiday' / 'face.png'}\n")
    code, files = run_json(capsys, f"@{listing}", "--model", str(model_path))
    assert code == 0 and [f["status"] for f in files] == ["no face", "ok"]


def test_exit_status_is_1_only_when_nothing_could_be_processed(photos, model_path, capsys):
    code, files = run_json(capsys, str(photos / "empty.jpg"), str(photos / "notes.txt"),
                           "--model", str(model_path))  # fmt: skip
    assert code == 1 and [f["status"] for f in files] == ["error", "error"]
    code, _ = run_json(capsys, str(photos / "wall.jpg"), "--model", str(model_path))
    assert code == 0  # read fine, just no face in it


# --- every kind of bad input, end to end, in one batch -------------------------------------------


def cmyk_jpeg(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).convert("CMYK").save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


BORDER_CUT = ASTRONAUT_BOX[0] + 30  # the photo starts 30 px into the face's box
BIG = 3  # the big photo is the astronaut at three times its size
TINY = (
    f"1 face too small to classify (narrower than {MIN_FACE_FRACTION * 1500:.0f} px, "
    f"{MIN_FACE_FRACTION:.0%} of the photo's shorter side)"
)


@pytest.fixture(scope="module")
def bad_batch(tmp_path_factory, model_path) -> dict[str, dict]:
    """One ``facegen predict`` run over every awkward input a user might bring, by file name."""
    from skimage import data

    folder = tmp_path_factory.mktemp("bad") / "inputs"
    folder.mkdir()
    canvas = np.full((1500, 2000, 3), 90, np.uint8)
    canvas[600:728, 900:1028] = cv2.resize(astronaut(), (128, 128), interpolation=cv2.INTER_AREA)
    turn = cv2.getRotationMatrix2D((255.5, 255.5), 20, 1.0)
    files = {
        "no_face.jpg": rgb_jpeg_bytes(data.coffee()),
        "two_faces.png": rgb_png_bytes(np.hstack([astronaut(), astronaut()])),
        "tiny_face.jpg": rgb_jpeg_bytes(canvas),
        "huge_face.jpg": rgb_jpeg_bytes(astronaut_face(0.3, 1500)),
        "big_photo.jpg": rgb_jpeg_bytes(
            cv2.resize(astronaut(), None, fx=BIG, fy=BIG, interpolation=cv2.INTER_LINEAR)
        ),
        "border.png": rgb_png_bytes(np.ascontiguousarray(astronaut()[:, BORDER_CUT:])),
        "turned.png": rgb_png_bytes(
            cv2.warpAffine(astronaut(), turn, (512, 512), borderMode=cv2.BORDER_REFLECT_101)
        ),
        "gray.png": rgb_png_bytes(data.camera()),
        "cmyk.jpg": cmyk_jpeg(astronaut()),
        "phone.jpg": exif_rotated_jpeg_bytes(np.ascontiguousarray(astronaut()[:, 64:448])),
        "damaged.jpg": rgb_jpeg_bytes(astronaut())[:4000],
        "broken.png": b"\x89PNG\r\n\x1a\n" + b"\x07" * 200 + b"IEND\xae\x42\x60\x82",
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    out = folder.parent / "out.json"
    code = main(["predict", "-q", "--format", "json", "-o", str(out), str(folder),
                 "--model", str(model_path)])  # fmt: skip
    assert code == 0
    listed = json.loads(out.read_text())
    assert sorted(Path(f["file"]).name for f in listed) == sorted(files)  # nothing lost
    return {Path(f["file"]).name: f for f in listed}


@pytest.mark.parametrize(
    ("name", "status", "faces", "detail"),
    [
        ("no_face.jpg", "no face", 0, None),
        ("two_faces.png", "ok", 2, None),
        ("tiny_face.jpg", "no face", 0, None),  # 21 px in 1500: below what the search sees
        ("huge_face.jpg", "ok", 1, None),
        ("big_photo.jpg", "ok", 1, None),
        ("border.png", "ok", 1, None),
        ("turned.png", "ok", 1, None),
        ("gray.png", "ok", 1, None),
        ("cmyk.jpg", "ok", 1, None),
        ("phone.jpg", "ok", 1, None),
        ("damaged.jpg", "error", 0, "truncated JPEG (no end-of-image marker)"),
        ("broken.png", "error", 0, "corrupt PNG (OpenCV could not decode it)"),
    ],
)
def test_each_bad_input_gets_a_status_and_a_reason(bad_batch, name, status, faces, detail):
    result = bad_batch[name]
    assert (result["status"], len(result["faces"]), result["detail"]) == (status, faces, detail)
    for face in result["faces"]:
        assert face["framing"] == "aligned" and face["label"] in ("male", "female")


def test_bad_inputs_are_boxed_in_their_own_upright_pixels(bad_batch):
    def box(name, face=0):
        return np.array(bad_batch[name]["faces"][face]["box"])

    left, right = sorted(box("two_faces.png", i)[0] for i in (0, 1))
    assert left < 512 <= right
    assert np.abs(box("big_photo.jpg") - np.array(ASTRONAUT_DETECTED_BOX) * BIG).max() <= 6 * BIG
    assert (bad_batch["big_photo.jpg"]["width"], bad_batch["big_photo.jpg"]["height"]) == (
        512 * BIG,
        512 * BIG,
    )
    assert box("huge_face.jpg")[2] > 600  # a face filling most of a 1500 px photo
    assert box("border.png")[0] <= 2  # cut by the photo's left edge, and still aligned
    phone = bad_batch["phone.jpg"]
    assert (phone["width"], phone["height"]) == (384, 512)  # upright, as EXIF says
    detected = ASTRONAUT_DETECTED_BOX
    assert np.abs(box("phone.jpg")[:2] - [detected[0] - 64, detected[1]]).max() <= 5


def test_a_face_found_but_too_small_for_its_photo_is_named_in_the_reason(tmp_path, monkeypatch):
    """Searched at ``PHOTO_SHORT_SIDE``, faces under ``MIN_FACE_FRACTION`` are rarely found at
    all; one that is found is left out, and the reason says so rather than a bare "no face"."""
    canvas = np.full((1500, 2000, 3), 90, np.uint8)
    path = tmp_path / "tiny_face.jpg"
    path.write_bytes(rgb_jpeg_bytes(canvas))
    small = FaceBox(900, 600, 40, 48)
    landmarks = TEMPLATE * 40 + [900, 600]
    found = [DetectedFace(small, 0.99, landmarks)]
    monkeypatch.setattr(classify, "detect_faces", lambda images: [found for _ in images])
    result = classify.analyse_file(path, 48, cropped=False)
    assert (result.status, len(result.boxes), result.detail) == ("no face", 0, TINY)


def test_a_huge_photo_is_refused_from_its_header(tmp_path, model_path, capsys):
    path = tmp_path / "giant.jpg"
    big = rgb_jpeg_bytes(np.zeros((16, 16, 3), np.uint8))
    # The frame header (SOF0) holds the size: claim 12000x12000 without the pixels to match.
    start = big.index(b"\xff\xc0")
    big = big[: start + 5] + (12000).to_bytes(2, "big") * 2 + big[start + 9 :]
    path.write_bytes(big)
    assert header_dimensions(big) == (12000, 12000)
    code, files = run_json(capsys, str(path), "--model", str(model_path))
    assert code == 1
    assert files[0]["detail"] == "too large: 12000x12000 pixels (over 100 megapixels)"


# --- the model ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, message, status",
    [
        (None, "no such model file", 2),  # a path that is not there: a usage error
        (b"garbage", "not a native Keras .keras model file", 3),  # there, but unusable
    ],
)
def test_a_bad_model_file_gives_one_clear_message(
    tmp_path, photos, capsys, content, message, status
):
    path = tmp_path / "model.keras"
    if content is not None:
        path.write_bytes(content)
    assert main(["predict", str(photos), "--model", str(path)]) == status
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_an_incompatible_model_is_refused(tmp_path, photos, capsys):
    import keras

    inputs = keras.Input((32, 32, 3))
    other = keras.Model(inputs, keras.layers.Dense(4)(keras.layers.Flatten()(inputs)))
    path = tmp_path / "other.keras"
    other.save(path)
    assert main(["predict", str(photos), "--model", str(path)]) == 3
    assert "a facegen model takes (None, size, size, 1) faces" in capsys.readouterr().err


def make_run(reports: Path, name: str, model: Path, status: str, finished: str, **manifest):
    (reports / name).mkdir(parents=True)
    (reports / name / "model.keras").write_bytes(model.read_bytes())
    (reports / name / "manifest.json").write_text(
        json.dumps({"status": status, "finished": finished, **manifest})
    )


def test_the_default_model_is_the_newest_complete_full_runs(tmp_path, photos, model_path, capsys):
    from facegen.runs.manifest import newest_complete_model

    reports = tmp_path / "reports"
    wall = str(photos / "wall.jpg")
    assert main(["predict", wall, "--reports-dir", str(reports)]) == 2
    assert "no complete run of profile full with a model" in capsys.readouterr().err
    full = {"parameters": {"profile": "full"}, "headline": {"test_accuracy": 0.9161}}
    smoke = {"parameters": {"profile": "smoke"}, "headline": {"test_accuracy": 0.5}}
    make_run(reports, "a", model_path, "complete", "2026-01-01T00:00:00+00:00", **full)
    make_run(reports, "b", model_path, "complete", "2026-02-01T00:00:00+00:00", **full)
    make_run(reports, "c", model_path, "failed", "2026-03-01T00:00:00+00:00", **full)
    make_run(reports, "d", model_path, "complete", "2026-04-01T00:00:00+00:00", **smoke)
    assert newest_complete_model(reports) == reports / "b" / "model.keras"
    assert newest_complete_model(reports, profile=None) == reports / "d" / "model.keras"
    assert main(["predict", "--format", "json", wall, "--reports-dir", str(reports)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)[0]["status"] == "no face"
    assert "model of run b (profile full, test accuracy 0.9161)" in captured.err

    # Only a smoke run: refused, naming it and how to use it on purpose.
    for name in "abc":
        (reports / name / "manifest.json").unlink()
    assert main(["predict", wall, "--reports-dir", str(reports)]) == 2
    error = capsys.readouterr().err
    assert "run d (profile smoke, test accuracy 0.5000)" in error
    assert f"--model {reports / 'd' / 'model.keras'}" in error
    code, _ = run_json(capsys, wall, "--model", str(reports / "d" / "model.keras"))
    assert code == 0


def test_batch_size_is_passed_to_the_model_call(tmp_path, model_path, monkeypatch, capsys):
    from facegen.modeling import inference

    for i in range(5):
        (tmp_path / f"face{i}.jpg").write_bytes(jpeg_bytes(synthetic_face(i)))
    seen = []
    real = inference.predict_proba

    def spy(model, faces, **kwargs):
        seen.append((len(faces), kwargs.get("batch_size")))
        return real(model, faces, **kwargs)

    monkeypatch.setattr(inference, "predict_proba", spy)
    code, files = run_json(
        capsys, "--cropped", str(tmp_path), "--model", str(model_path), "--batch-size", "2"
    )
    assert code == 0 and len(files) == 5
    assert seen and all(batch == 2 for _, batch in seen)


@pytest.mark.parametrize(
    ("training", "flag", "expected"),
    [
        (None, [], None),  # no run folder: predict_proba falls back to config.TEST_TIME_VIEWS
        ({"test_time_views": "flip+shift"}, [], "flip+shift"),
        ({"flip_average": True}, [], "flip"),  # a run from before the shifted views
        ({"flip_average": False}, [], "none"),
        ({"test_time_views": "flip+shift"}, ["--views", "none"], "none"),
    ],
)
def test_predict_uses_the_views_the_models_run_was_evaluated_with(
    tmp_path, model_path, face_file, capsys, monkeypatch, training, flag, expected
):
    import shutil

    from facegen.modeling import inference as predict

    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(model_path, run / "model.keras")
    if training is not None:
        (run / "training.json").write_text(json.dumps(training))
    seen = []
    real = predict.predict_proba

    def spy(model, faces, **kwargs):
        seen.append(kwargs.get("views"))
        return real(model, faces, **kwargs)

    monkeypatch.setattr(predict, "predict_proba", spy)
    code, files = run_json(
        capsys, "--cropped", str(face_file), "--model", str(run / "model.keras"), *flag
    )
    assert code == 0 and files[0]["status"] == "ok"
    assert seen == [expected]


@pytest.mark.parametrize("record", ['{"test_time_views": "flip+sh', "[1, 2]"])
def test_a_damaged_run_record_is_named_and_views_override_it(
    tmp_path, model_path, face_file, capsys, record
):
    import shutil

    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(model_path, run / "model.keras")
    (run / "training.json").write_text(record)
    args = ["--cropped", str(face_file), "--model", str(run / "model.keras")]
    assert main(["predict", "-q", *args]) == 3  # bad input: the run's record is damaged
    error = capsys.readouterr().err
    assert str(run / "training.json") in error and "--views" in error
    code, files = run_json(capsys, *args, "--views", "flip")
    assert code == 0 and files[0]["status"] == "ok"


def test_predict_runs_without_tensorflow_and_keeps_the_terminal_quiet(tmp_path, model_path):
    """With the model's ONNX copy beside it, ``facegen predict`` never imports TensorFlow (its
    start-up costs seconds and prints C++ notices); only facegen's own lines reach stderr."""
    import subprocess
    import sys

    (tmp_path / "face.jpg").write_bytes(jpeg_bytes(synthetic_face(0)))
    script = (
        "import sys; from facegen.cli import main; "
        f"code = main(['predict', '--cropped', {str(tmp_path / 'face.jpg')!r}, "
        f"'--model', {str(model_path)!r}]); "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules, file=sys.stderr); "
        "sys.exit(code)"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("file ")
    *lines, imported = run.stderr.splitlines()
    assert imported == "False False"
    assert all(line.startswith("facegen: ") for line in lines), run.stderr


@pytest.mark.parametrize("cropped", [True, False], ids=["crops", "photos"])
def test_worker_processes_give_what_one_process_gives(tmp_path, model_path, cropped, monkeypatch):
    """Spread over worker processes (more than one chunk of files), every file keeps its place,
    status, boxes, framing and scores; a bad file among them stops nothing."""
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(3 * classify._CHUNK):
        face = astronaut_face(0.2 + 0.01 * (i % 20), 64 + 8 * (i % 5))
        (folder / f"{i:03d}.jpg").write_bytes(rgb_jpeg_bytes(np.ascontiguousarray(face)))
    (folder / "050.jpg").write_bytes(b"not an image")
    inputs = collect_inputs([str(folder)])
    model = load_classifier(model_path)
    pools = []
    spread_over = classify.ordered_map
    monkeypatch.setattr(classify, "ordered_map", lambda *a: pools.append(a[2]) or spread_over(*a))

    def rows(workers: int) -> list[tuple]:
        results = classify.classify_files(
            inputs, model, cropped=cropped, progress=False, workers=workers
        )
        return [
            (r.file, r.status, r.detail, r.boxes, r.framing,
             None if r.probabilities is None else r.probabilities.round(6).tolist())
            for r in results
        ]  # fmt: skip

    alone, spread = rows(1), rows(2)
    assert pools == [2]  # the second run, and only it, went to worker processes
    assert spread == alone
    assert [row[1] for row in alone].count("error") == 1
    assert sum(row[1] == "ok" for row in alone) >= 3 * classify._CHUNK - 3


def test_workers_must_be_at_least_one(face_file, model_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["predict", "--workers", "0", str(face_file), "--model", str(model_path)])
    assert stop.value.code == 2
    assert "--workers: must be at least 1, not 0" in capsys.readouterr().err
