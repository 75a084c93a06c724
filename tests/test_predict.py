"""`facegen predict`: inputs, detection and cropping, every bad input, outputs and exit codes.

A tiny untrained model built here carries the plumbing; what matters is that each file gets the
right status, the probabilities are the model's, and a bad file never stops the batch.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from facegen.cli import main
from facegen.faces import detect
from facegen.faces.decode import header_dimensions
from facegen.faces.preprocess import load_face
from facegen.modeling.inference import predict_proba
from facegen.modeling.model import ModelConfig, build_model
from facegen.modeling.saving import load_model, save_model
from facegen.predict import classify as inference
from facegen.predict.inputs import collect_inputs

from .conftest import jpeg_bytes, png_bytes, synthetic_face


def cartoon_face(size: int = 200) -> np.ndarray:
    """A drawn face (grey oval, dark eyes, brows, nose, mouth) that OpenCV's cascade finds."""
    image = np.full((size, size), 200, np.uint8)
    c = size // 2
    cv2.ellipse(image, (c, c + 5), (int(size * 0.3), int(size * 0.4)), 0, 0, 360, 150, -1)
    for side in (-1, 1):
        eye = (c + side * int(size * 0.12), c - int(size * 0.08))
        cv2.ellipse(image, eye, (int(size * 0.06), int(size * 0.03)), 0, 0, 360, 40, -1)
        brow_y = c - int(size * 0.16)
        cv2.line(
            image,
            (c + side * int(size * 0.06), brow_y),
            (c + side * int(size * 0.2), brow_y),
            60,
            4,
        )
    cv2.line(image, (c, c - int(size * 0.05)), (c, c + int(size * 0.1)), 110, 3)
    cv2.ellipse(
        image, (c, c + int(size * 0.2)), (int(size * 0.1), int(size * 0.03)), 0, 0, 360, 70, -1
    )
    return cv2.GaussianBlur(image, (5, 5), 0)


def huge_png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height``: refused before any decoding."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
        )

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    import keras

    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("model") / "model.keras"
    save_model(build_model(ModelConfig(widths=(4, 8), dropout=0.0)), path)
    return path


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """A folder mixing a face photo, a faceless image, bad files and a non-image, one level deep."""
    folder = tmp_path / "photos"
    (folder / "holiday").mkdir(parents=True)
    cv2.imwrite(str(folder / "holiday" / "face.png"), cartoon_face())
    cv2.imwrite(str(folder / "wall.jpg"), np.full((300, 400, 3), 128, np.uint8))
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.txt").write_text("not a picture")
    (folder / "cut.jpg").write_bytes(jpeg_bytes(synthetic_face(1, 200))[:1500])
    (folder / "giant.png").write_bytes(huge_png_header(40_000, 40_000))
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    return folder


def run_json(capsys, *args: str) -> tuple[int, list[dict]]:
    code = main(["predict", "--format", "json", "-q", *args])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else []


def test_the_drawn_face_is_found_and_cropped_around_its_box():
    faces = detect.detect_faces(cartoon_face())
    assert len(faces) == 1
    box = faces[0]
    assert 20 <= box.x <= 60 and 20 <= box.y <= 60 and 100 <= box.width <= 180
    crop = detect.crop_face(cartoon_face(), box)
    assert crop.shape[0] == crop.shape[1] == round(box.width / detect.CROP_BOX_FRACTION)


def test_crop_outside_the_photo_repeats_the_edge_instead_of_black():
    image = np.full((100, 100), 77, np.uint8)
    crop = detect.crop_face(image, detect.FaceBox(70, 70, 60, 60))
    assert crop.shape == (72, 72) and (crop == 77).all()


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
    assert by_name["face.png"]["status"] == "ok" and len(by_name["face.png"]["faces"]) == 1
    face = by_name["face.png"]["faces"][0]
    assert face["label"] in ("male", "female") and 0.5 <= face["probability"] <= 1
    assert by_name["wall.jpg"]["status"] == "no face"
    assert by_name["empty.jpg"]["detail"] == "empty file (0 bytes)"
    assert by_name["notes.txt"]["detail"] == "not an image (unrecognised file format)"
    assert by_name["cut.jpg"]["detail"] == "truncated JPEG (no end-of-image marker)"
    assert by_name["giant.png"]["detail"].startswith("too large: 40000x40000 pixels")
    assert all(f["status"] == "error" for n, f in by_name.items() if n in (
        "empty.jpg", "notes.txt", "cut.jpg", "giant.png"))  # fmt: skip


def test_probabilities_are_the_models_own_on_the_shared_preprocessing(photos, model_path, capsys):
    code, files = run_json(capsys, str(photos / "holiday"), "--model", str(model_path))
    assert code == 0
    gray = cartoon_face()
    box = detect.detect_faces(gray)[0]
    from facegen.faces.preprocess import preprocess_face

    expected = predict_proba(
        load_model(model_path), preprocess_face(detect.crop_face(gray, box))[None]
    )
    assert files[0]["faces"][0]["p_female"] == pytest.approx(float(expected[0]), abs=1e-4)


def test_cropped_mode_reproduces_the_training_arrays(tmp_path, model_path, capsys):
    folder = tmp_path / "crops"
    folder.mkdir()
    for i in range(5):
        (folder / f"{i}.jpg").write_bytes(jpeg_bytes(synthetic_face(i)))
    code, files = run_json(capsys, "--cropped", str(folder), "--model", str(model_path))
    assert code == 0
    model = load_model(model_path)
    expected = predict_proba(model, np.stack([load_face(folder / f"{i}.jpg") for i in range(5)]))
    got = [f["faces"][0]["p_female"] for f in sorted(files, key=lambda f: f["file"])]
    assert got == pytest.approx(expected.tolist(), abs=1e-4)
    assert all(f["faces"][0]["box"] == [0, 0, 64, 64] for f in files)


def test_worker_processes_give_the_same_answers_as_one_process(tmp_path, model_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(inference._MIN_FILES_FOR_WORKERS + 6):
        (folder / f"{i:03d}.png").write_bytes(png_bytes(synthetic_face(i)))
    (folder / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    inputs = collect_inputs([str(folder)])
    model = load_model(model_path)
    parallel = inference.classify_files(inputs, model, cropped=True, workers=2, progress=False)
    serial = inference.classify_files(inputs, model, cropped=True, workers=1, progress=False)
    assert [r.status for r in parallel] == [r.status for r in serial]
    assert sum(r.status == "error" for r in parallel) == 1
    ok = [r for r in parallel if r.status == "ok"]
    assert np.allclose(
        np.concatenate([r.probabilities for r in ok]),
        np.concatenate([r.probabilities for r in serial if r.status == "ok"]),
    )


def test_a_huge_photo_is_searched_at_reduced_size_and_boxed_in_its_own_pixels(
    tmp_path, model_path, capsys
):
    big = cv2.resize(cartoon_face(), (8000, 8000), interpolation=cv2.INTER_LINEAR)
    path = tmp_path / "big.jpg"
    cv2.imwrite(str(path), big)
    assert header_dimensions(path.read_bytes()) == (8000, 8000)
    code, files = run_json(capsys, str(path), "--model", str(model_path))
    assert code == 0 and files[0]["status"] == "ok"
    x, y, w, h = files[0]["faces"][0]["box"]
    assert 4000 <= w <= 7200 and x + w <= 8000 and y + h <= 8000


def test_annotated_copies_mirror_the_input_names(photos, model_path, tmp_path, capsys):
    out = tmp_path / "annotated"
    code, _ = run_json(capsys, str(photos), "--model", str(model_path), "--annotate", str(out))
    assert code == 0
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["photos/holiday/face.png.jpg"]
    drawn = cv2.imread(str(out / written[0]))
    assert drawn.shape[:2] == (200, 200)
    assert (
        np.abs(drawn.astype(int) - cv2.cvtColor(cartoon_face(), cv2.COLOR_GRAY2BGR)).sum(axis=2)
        > 60
    ).any()


def test_table_and_csv_list_every_file(photos, model_path, capsys):
    assert main(["predict", "-q", str(photos), "--model", str(model_path)]) == 0
    table = capsys.readouterr().out
    assert "photos/holiday/face.png" in table and "error: empty file (0 bytes)" in table
    assert main(["predict", "-q", "--format", "csv", str(photos), "--model", str(model_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("file,status,face,x,y,width,height,label,probability,p_female")
    assert len(lines) == 1 + 6  # six files, one face among them


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
    from facegen.reporting.manifest import newest_complete_model

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
    tmp_path, model_path, capsys, monkeypatch, training, flag, expected
):
    import shutil

    from facegen.modeling import inference as predict

    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(model_path, run / "model.keras")
    if training is not None:
        (run / "training.json").write_text(json.dumps(training))
    (tmp_path / "face.jpg").write_bytes(jpeg_bytes(synthetic_face(0)))
    seen = []
    real = predict.predict_proba

    def spy(model, faces, **kwargs):
        seen.append(kwargs.get("views"))
        return real(model, faces, **kwargs)

    monkeypatch.setattr(predict, "predict_proba", spy)
    code, files = run_json(
        capsys, "--cropped", str(tmp_path / "face.jpg"), "--model", str(run / "model.keras"), *flag
    )
    assert code == 0 and files[0]["status"] == "ok"
    assert seen == [expected]


@pytest.mark.parametrize("record", ['{"test_time_views": "flip+sh', "[1, 2]"])
def test_a_damaged_run_record_is_named_and_views_override_it(tmp_path, model_path, capsys, record):
    import shutil

    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(model_path, run / "model.keras")
    (run / "training.json").write_text(record)
    (tmp_path / "face.jpg").write_bytes(jpeg_bytes(synthetic_face(0)))
    args = ["--cropped", str(tmp_path / "face.jpg"), "--model", str(run / "model.keras")]
    assert main(["predict", "-q", *args]) == 3  # bad input: the run's record is damaged
    error = capsys.readouterr().err
    assert str(run / "training.json") in error and "--views" in error
    code, files = run_json(capsys, *args, "--views", "flip")
    assert code == 0 and files[0]["status"] == "ok"


def test_tensorflow_start_up_lines_stay_off_the_terminal_unless_verbose(tmp_path, model_path):
    """TensorFlow 2.21 prints absl and oneDNN notices and, without a GPU, "E0000 ... cuInit" from
    C++ on import; only facegen's own lines may reach stderr without -v."""
    import os
    import subprocess
    import sys

    (tmp_path / "face.jpg").write_bytes(jpeg_bytes(synthetic_face(0)))
    command = [sys.executable, "-m", "facegen", "predict", "--cropped", str(tmp_path / "face.jpg"),
               "--model", str(model_path)]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    quiet = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.startswith("file ")
    assert all(line.startswith("facegen: ") for line in quiet.stderr.splitlines()), quiet.stderr
    verbose = subprocess.run([*command, "-v"], capture_output=True, text=True, env=env, timeout=600)
    assert verbose.returncode == 0
    assert any(not line.startswith("facegen: ") for line in verbose.stderr.splitlines())
