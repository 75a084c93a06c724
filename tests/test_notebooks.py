"""The notebooks: committed clean, parameterised, and runnable top to bottom (nbval, papermill)."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys

import nbformat
import pandas as pd
import pytest

from facegen import config
from facegen.cli import main
from facegen.config import NOTEBOOKS
from facegen.runs.pipeline import ReportFailed, run_report
from facegen.runs.run import OWN_PARAMETERS, Settings, notebook_parameters

NOTEBOOK_PATHS = [config.PROJECT_ROOT / "notebooks" / f"{name}.ipynb" for name in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=NOTEBOOKS)
def test_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name}: {cell.source}"
            )


def test_committed_as_the_nbstripout_filter_leaves_them():
    """The git filter ``make install`` sets up changes nothing in a committed notebook, so a clone
    with the filter sees no change it did not make (cell ids, for one, are numbered from 0); the
    fix is ``nbstripout notebooks/*.ipynb``. One process for all: nbstripout takes 2 s to start."""
    verify = subprocess.run(
        [sys.executable, "-m", "nbstripout", "--verify", *map(str, NOTEBOOK_PATHS)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    for path in NOTEBOOK_PATHS:  # and laid out as the filter writes them, byte for byte
        text = path.read_text()
        written = nbformat.writes(nbformat.reads(text, as_version=4)).rstrip("\n") + "\n"
        assert written == text, f"{path.name}: not laid out as nbformat.write lays it out"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_parameters_cell_assigns_what_run_py_lists(name):
    """The first code cell is papermill's, and assigns literals to exactly the names, with the
    defaults, that ``run.notebook_parameters`` gives: the pipeline checks ``-p`` names against that
    list, so a parameter added to one and not the other fails here."""
    path = config.NOTEBOOKS_DIR / f"{name}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    first = next(cell for cell in notebook.cells if cell.cell_type == "code")
    assert "parameters" in first.metadata.get("tags", [])
    assigned = []
    for statement in ast.parse(first.source).body:
        assert isinstance(statement, ast.Assign) and len(statement.targets) == 1, (
            f"{path.name}: papermill reads only plain assignments: {ast.unparse(statement)}"
        )
        (target,) = statement.targets
        assert isinstance(target, ast.Name), ast.unparse(statement)
        assigned.append((target.id, ast.literal_eval(statement.value)))
    assert len(assigned) == len(dict(assigned)), f"{path.name}: a name assigned twice"
    assert dict(assigned) == notebook_parameters(name)


def test_every_notebooks_own_parameters_belong_to_a_notebook_of_the_pipeline():
    assert set(OWN_PARAMETERS) <= set(NOTEBOOKS)


@pytest.mark.slow
def test_nbval_runs_every_notebook_in_order(face_folder, tmp_path):
    """nbval cannot pass parameters, so the smoke profile and folders come from the environment."""
    run_dir = tmp_path / "run"
    env = {
        **os.environ,
        "FACEGEN_DATA_DIR": str(face_folder),
        "FACEGEN_PROFILE": "smoke",
        "FACEGEN_RUN_DIR": str(run_dir),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "-q",
            "-p",
            "no:cacheprovider",
            *map(str, NOTEBOOK_PATHS),
        ],
        env=env,
        cwd=config.PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in result.stdout.splitlines()[-1]
    assert (run_dir / "model.keras").exists()
    headline = json.loads((run_dir / "metrics.json").read_text())["headline"]
    assert 0 <= headline["test_accuracy"] <= 1 and headline["n_test"] > 0


# A value other than the default for every Settings field, so that each can be seen to reach the
# kernels (data_dir: the fixture folder, given relative, as a user types it).
NON_DEFAULT = {
    "data_dir": "UTKFace",
    "image_size": 32,
    "seed": 7,
    "epochs": 1,
    "profile": "smoke",
    "max_images": 100,
    "n_boot": 37,
}


@pytest.mark.slow
def test_report_writes_a_complete_run_folder_with_every_setting_it_was_given(
    face_folder, tmp_path, monkeypatch, capfd
):
    assert set(NON_DEFAULT) == set(Settings.__dataclass_fields__), "a new field needs a value"
    defaults = Settings.resolve(profile="full")
    assert all(getattr(defaults, k) != NON_DEFAULT[k] for k in NON_DEFAULT if k != "data_dir")
    monkeypatch.chdir(face_folder.parent)  # the kernels run in the run folder, elsewhere
    # ipykernel forwards C++ writes to the page, as it does for a user, only outside pytest.
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    code = main(
        [
            "report",
            "--data-dir", NON_DEFAULT["data_dir"],
            "--image-size", str(NON_DEFAULT["image_size"]),
            "--seed", str(NON_DEFAULT["seed"]),
            "--epochs", str(NON_DEFAULT["epochs"]),
            "--profile", NON_DEFAULT["profile"],
            "-p", "max_images", str(NON_DEFAULT["max_images"]),
            "-p", "n_boot", str(NON_DEFAULT["n_boot"]),
            "--reports-dir", str(tmp_path),
        ]
    )  # fmt: skip
    assert code == 0
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir() and p.name != face_folder.name]

    # What the kernels used: every notebook prints its Settings, and the run's files agree.
    expected = Settings(**{**NON_DEFAULT, "data_dir": str(face_folder)})
    for name in NOTEBOOKS:
        printed = "".join(
            "".join(output.get("text", ""))
            for cell in nbformat.read(run_dir / f"{name}.ipynb", as_version=4).cells
            for output in cell.get("outputs", [])
        )
        assert repr(expected) in printed, name
    data = json.loads((run_dir / "data.json").read_text())
    assert data["settings"] == expected.to_dict() and data["image_size"] == 32
    assert len(pd.read_csv(run_dir / "split.csv")) == NON_DEFAULT["max_images"]
    assert len(pd.read_csv(run_dir / "history.csv")) == NON_DEFAULT["epochs"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["n_boot"] == NON_DEFAULT["n_boot"] and metrics["seed"] == NON_DEFAULT["seed"]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert {k: manifest["parameters"][k] for k in NON_DEFAULT} == expected.to_dict()

    # The result on stdout; on stderr, progress only: no TensorFlow start-up lines, no cell
    # markers from papermill, nothing the cells print but the epoch lines.
    out, err = capfd.readouterr()
    assert out.startswith(f"Run complete: {run_dir}\n") and "test accuracy" in out
    lines = err.splitlines()
    assert lines[0] == f"[1/{len(NOTEBOOKS)}] {NOTEBOOKS[0]} ..."
    assert [line.split()[0] for line in lines if line.startswith("    ")] == ["epoch"]
    assert all(line.startswith(("[", "    epoch ")) for line in lines), err
    assert f"== {NOTEBOOKS[-1]} ==" in (run_dir / "kernels.log").read_text()  # theirs, kept
    assert manifest["status"] == "complete"
    assert [n["name"] for n in manifest["notebooks"]] == list(NOTEBOOKS)
    assert all(n["seconds"] > 0 for n in manifest["notebooks"])
    assert manifest["data"]["fingerprint"] and manifest["packages"]["tensorflow"]
    assert manifest["headline"]["n_test"] > 0
    assert manifest["training"]["train_images_per_second"] > 0
    for name in NOTEBOOKS:
        page = (run_dir / f"{name}.html").read_text()
        assert "fg-hide-code" in page and "Show code" in page
        # TensorFlow's start-up notices ("failed call to cuInit" reads as a failure) stay off
        # the pages, as they stay off the terminal.
        for notice in ("absl::InitializeLog", "cuInit", "oneDNN", "rendezvous"):
            assert notice not in page, (name, notice)
    # The tables a reader takes in at a glance: each interval in its figure's cell, not rows or
    # columns of its own ("95% low"), and counts as whole numbers, never "1209.0".
    evaluation = (run_dir / "04_evaluation.html").read_text()
    assert "Value [95% interval]" in evaluation and "Accuracy [95% interval]" in evaluation
    assert "95% low" not in evaluation and not re.search(r"<td>\d+\.0</td>", evaluation)
    # The label audit: every validation and test face once, its summary in metrics.json, and
    # the accuracy without the doubted labels named as the sensitivity figure it is.
    audit = pd.read_csv(run_dir / "label_audit.csv")
    assert sorted(audit["split"].unique()) == ["test", "val"]
    assert len(audit) == data["split_sizes"]["val"] + data["split_sizes"]["test"]
    assert metrics["label_audit"]["n"] == len(audit)
    assert metrics["label_audit"]["n_doubted"] == audit["doubted"].sum()
    assert "Label audit" in evaluation and "Sensitivity only" in evaluation
    # No collection given: the threshold section says so rather than showing an empty table.
    assert (
        "no validation half to choose a threshold on"
        in (run_dir / "05_cross_dataset.html").read_text()
    )
    for name in (
        "model.keras",
        "split.csv",
        "metrics.json",
        "model_card.md",
        "model_card.html",
        "figures/confusion_matrix.png",
        "figures/accuracy_by_ethnicity.png",
        "figures/label_audit_faces.png",
    ):
        assert (run_dir / name).exists(), name
    card = (run_dir / "model_card.md").read_text()
    assert "not the gender identity" in card and "Intended use" in card
    assert "## Label audit" in card and "did not audit" not in card
    index = (tmp_path / "index.html").read_text()
    assert "complete" in index and f"{run_dir.name}/04_evaluation.html" in index
    assert not (run_dir / "FAILED").exists()


def test_bad_parameters_are_refused_before_any_notebook_runs(tmp_path):
    with pytest.raises(ValueError, match="image_size must be between"):
        run_report({"image_size": 0}, root=tmp_path, run_id="bad", progress=False)
    with pytest.raises(ValueError, match="profile must be one of"):
        run_report({"profile": "huge"}, root=tmp_path, run_id="bad2", progress=False)
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_a_failing_notebook_marks_the_run_failed(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "30_0_1_20170101000000001.jpg.chip.jpg").write_bytes(b"")  # nothing usable
    with pytest.raises(ReportFailed, match=r"01_eda.ipynb failed in cell \[\d+\]"):
        run_report(
            {"data_dir": str(data), "profile": "smoke"},
            root=tmp_path,
            run_id="broken",
            progress=False,
        )
    run_dir = tmp_path / "broken"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert manifest["failure"]["notebook"] == "01_eda"
    assert "headline" not in manifest
    assert (run_dir / "FAILED").read_text().startswith("01_eda.ipynb failed")
    assert "failed in 01_eda" in (tmp_path / "index.html").read_text()


def test_relative_data_paths_are_made_absolute_before_the_kernels_change_folder(
    tmp_path, monkeypatch
):
    from pathlib import Path

    from facegen.runs.pipeline import _absolute_paths

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(config.DATA_DIR_ENV, "faces")
    monkeypatch.setenv(config.CACHE_DIR_ENV, "~/cache")
    assert _absolute_paths({"data_dir": "other/faces", "seed": 1}) == {
        "data_dir": str(tmp_path / "other" / "faces"),
        "seed": 1,
    }
    assert os.environ[config.DATA_DIR_ENV] == str(tmp_path / "faces")
    assert os.environ[config.CACHE_DIR_ENV] == str(Path.home() / "cache")
    assert _absolute_paths({"data_dir": None}) == {"data_dir": None}


class _Stop(Exception):
    """Ends start() once it has started TensorFlow (or not)."""


@pytest.mark.parametrize("verbose", [False, True])
def test_only_a_verbose_report_lets_its_kernels_start_tensorflow_aloud(
    verbose, tmp_path, monkeypatch
):
    import papermill

    from facegen.runs import notebook, pipeline

    seen = []
    monkeypatch.setattr(
        papermill,
        "execute_notebook",
        lambda *a, **k: seen.append(os.environ.get("FACEGEN_VERBOSE")),
    )
    monkeypatch.delenv("FACEGEN_VERBOSE", raising=False)
    pipeline._execute(NOTEBOOK_PATHS[0], tmp_path / "out.ipynb", {}, tmp_path, False, verbose)
    assert seen == (["1"] if verbose else [None])
    assert "FACEGEN_VERBOSE" not in os.environ  # set for the kernels only, then restored

    # What a kernel then does in start(): TensorFlow quietly, unless it was asked to be verbose.
    quiet_starts = []
    monkeypatch.setattr(notebook, "start_tensorflow_quietly", lambda: quiet_starts.append(1))

    def stop_here(*args, **kwargs):
        raise _Stop

    monkeypatch.setattr(notebook, "open_run", stop_here)
    if verbose:
        monkeypatch.setenv("FACEGEN_VERBOSE", "1")
    with pytest.raises(_Stop):
        notebook.start(tmp_path)
    assert quiet_starts == ([] if verbose else [1])
