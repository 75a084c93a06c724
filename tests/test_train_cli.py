"""`facegen train`: a complete run folder, and clean behaviour when interrupted or rerun."""

from __future__ import annotations

import json

import pytest

from facegen.cli import main
from facegen.modeling.saving import load_model
from facegen.runs import training_run


@pytest.mark.slow
def test_train_writes_a_run_folder_like_the_pipelines(face_folder, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        ["train", "--profile", "smoke", "--data-dir", str(face_folder), "--out", str(out), "-q"]
    )
    assert code == 0
    printed = capsys.readouterr()
    assert printed.out.startswith(f"Run complete: {out}\n") and "validation accuracy" in printed.out
    assert "Starting a new run" not in printed.out  # progress and diagnostics: stderr
    assert f"Starting a new run in {out}" in printed.err
    for name in ("model.keras", "split.csv", "history.csv", "training.json", "metrics.json",
                 "label_audit.csv", "data.json", "manifest.json", "model_card.html"):  # fmt: skip
        assert (out / name).exists(), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "train" and manifest["status"] == "complete"
    assert manifest["training"]["train_images_per_second"] > 0
    # The model decides at its own point, chosen on validation and recorded with the figures.
    decision = json.loads((out / "training.json").read_text())["decision_point"]
    assert set(decision["validation_after"]) == {"accuracy", "recall_female", "recall_male"}
    assert 0 < decision["threshold"] < 1 and decision["note"] == ""  # both genders in validation
    saved = load_model(out / "model.keras").get_layer("decision")
    assert saved.offset == pytest.approx(decision["offset"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["validation"]["n"] == manifest["data"]["split_sizes"]["val"]
    assert metrics["headline"]["n_test"] == manifest["data"]["split_sizes"]["test"]
    audit = metrics["label_audit"]  # the evaluation page's audit, on validation and test
    assert audit["n"] == metrics["validation"]["n"] + metrics["headline"]["n_test"]
    audited = (out / "label_audit.csv").read_text().splitlines()
    assert len(audited) == audit["n"] + 1 and audited[0].startswith("file,split,given_label")
    assert "run" in (tmp_path / "index.html").read_text()

    # A second run into a complete folder is refused, with what to do instead.
    assert (
        main(["train", "--profile", "smoke", "--data-dir", str(face_folder), "--out", str(out)])
        == 2
    )
    assert "already holds a complete run" in capsys.readouterr().err


@pytest.mark.slow
def test_an_interrupted_run_keeps_the_good_model_and_restarts_cleanly(
    face_folder, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "run"
    args = ["train", "--profile", "smoke", "--data-dir", str(face_folder), "--out", str(out), "-q"]
    assert main(args) == 0
    good_model = (out / "model.keras").read_bytes()
    capsys.readouterr()

    def interrupted(*_, **__):
        raise KeyboardInterrupt

    monkeypatch.setattr(training_run, "train_for_run", interrupted)
    assert main([*args, "--retrain"]) == 130
    assert "training interrupted; no new model was written" in capsys.readouterr().err
    assert (out / "model.keras").read_bytes() == good_model  # never half-written or removed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert not (out / "metrics.json").exists()  # the old metrics no longer describe this folder
    assert "interrupted in training" in (tmp_path / "index.html").read_text()

    monkeypatch.undo()
    assert main(args) == 0
    printed = capsys.readouterr().err
    assert "Restarting the run" in printed and "was interrupted" in printed
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


def test_a_folder_that_is_not_a_run_is_refused(tmp_path):
    (tmp_path / "stuff.txt").write_text("mine")
    with pytest.raises(training_run.RunFolderError, match="holds no facegen run"):
        training_run.decide_start(tmp_path, retrain=False)


def test_bad_parameters_are_refused_with_one_message(capsys):
    assert main(["train", "--image-size", "4"]) == 2
    assert "image_size must be between" in capsys.readouterr().err


@pytest.mark.slow
def test_training_progress_goes_to_stderr(face_folder, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--profile", "smoke", "--data-dir", str(face_folder), "--out", str(out),
                 "--epochs", "1"]) == 0  # fmt: skip
    printed = capsys.readouterr()
    assert "epoch   1/1" in printed.err and "faces (fingerprint" in printed.err
    assert printed.out.splitlines()[0] == f"Run complete: {out}"
    assert "epoch" not in printed.out


def test_default_train_folders_are_unique_within_a_second(monkeypatch, tmp_path):
    from facegen import config
    from facegen.runs import folders

    monkeypatch.setattr(config, "REPORTS_DIR", tmp_path)
    monkeypatch.setattr(folders, "new_run_id", lambda settings, kind=None: "same-second")
    settings = training_run.profile_settings(profile="smoke")
    made = {training_run.default_run_dir(settings) for _ in range(3)}
    assert sorted(p.name for p in made) == ["same-second", "same-second-2", "same-second-3"]
