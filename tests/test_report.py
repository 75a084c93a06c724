"""`facegen report` as a run: inputs checked before any notebook, every way it can stop recorded,
unique run folders when runs start together.

Most tests run the pipeline on tiny notebooks written here (config.NOTEBOOKS and NOTEBOOKS_DIR
point at them), so a kernel can be killed or a run interrupted in seconds; the real notebooks run
in tests/test_notebooks.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from facegen import config
from facegen.cli import main
from facegen.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE
from facegen.reporting.pages import write_index
from facegen.runs import pipeline
from facegen.runs.pipeline import ReportFailed, run_report
from facegen.runs.run import PARAMETERS

PARAMETERS_CELL = "\n".join(f"{name} = {default!r}" for name, default in PARAMETERS.items())


def write_notebooks(folder: Path, *bodies: str) -> tuple[str, ...]:
    """Notebooks ``01_step`` ... in ``folder``: the real parameters cell, then one cell per body."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for number, body in enumerate(bodies, 1):
        notebook = nbformat.v4.new_notebook()
        parameters = nbformat.v4.new_code_cell(PARAMETERS_CELL)
        parameters.metadata["tags"] = ["parameters"]
        notebook.cells = [parameters, nbformat.v4.new_code_cell(textwrap.dedent(body))]
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        notebook.metadata["language_info"] = {"name": "python"}
        name = f"{number:02d}_step"
        nbformat.write(notebook, folder / f"{name}.ipynb")
        names.append(name)
    return tuple(names)


@pytest.fixture
def tiny_pipeline(tmp_path, monkeypatch):
    """Point the pipeline at notebooks the test writes; no model card (they make no metrics)."""

    def use(*bodies: str) -> tuple[str, ...]:
        names = write_notebooks(tmp_path / "notebooks", *bodies)
        monkeypatch.setattr(config, "NOTEBOOKS", names)
        monkeypatch.setattr(config, "NOTEBOOKS_DIR", tmp_path / "notebooks")
        monkeypatch.setattr(pipeline, "write_model_card", lambda run_dir: None)
        return names

    return use


def only_run(root: Path) -> Path:
    (run_dir,) = [p for p in root.iterdir() if p.is_dir()]
    return run_dir


def test_an_unknown_parameter_is_refused_with_the_known_ones(face_folder, tmp_path, capsys):
    reports = tmp_path / "reports"
    args = ["report", "--data-dir", str(face_folder), "--reports-dir", str(reports)]
    assert main([*args, "-p", "nonexistent", "3"]) == EXIT_USAGE
    error = capsys.readouterr().err
    assert "unknown notebook parameter nonexistent" in error
    assert "n_boot" in error and "max_images" in error and "epochs" in error
    assert main([*args, "-p", "run_dir", "elsewhere"]) == EXIT_USAGE
    assert "run_dir is set by facegen report" in capsys.readouterr().err
    assert main([*args, "-p", "n_boot", "many"]) == EXIT_USAGE
    assert "n_boot must be a whole number, not 'many'" in capsys.readouterr().err
    assert not reports.exists()


def test_a_missing_data_folder_stops_the_report_before_any_run_folder(tmp_path, capsys):
    reports = tmp_path / "reports"
    code = main(["report", "--data-dir", str(tmp_path / "missing"), "--reports-dir", str(reports)])
    assert code == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("facegen: ") and captured.err.count("facegen:") == 1
    assert "does not exist" in captured.err
    assert not reports.exists()


def test_the_kernels_read_the_data_folder_located_before_the_run(face_folder, tmp_path):
    parameters, settings = pipeline.resolve_inputs({"data_dir": str(face_folder.parent)})
    assert parameters["data_dir"] == settings.data_dir == str(face_folder)


def test_a_kernel_that_dies_leaves_the_run_marked_failed(face_folder, tmp_path, tiny_pipeline):
    names = tiny_pipeline(
        """
        import os, signal
        print("about to die", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    reports = tmp_path / "reports"
    with pytest.raises(ReportFailed, match="the kernel died"):
        run_report({"data_dir": str(face_folder)}, root=reports, progress=False)
    run_dir = only_run(reports)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert manifest["failure"]["notebook"] == names[0]
    assert manifest["failure"]["error"].startswith("DeadKernelError")
    assert manifest["failure"]["cell"] == 3  # parameters, papermill's injected cell, the killer
    assert manifest["notebooks"][-1]["status"] == "failed"
    assert "the kernel died" in (run_dir / "FAILED").read_text()
    assert (run_dir / pipeline.KERNEL_LOG).exists()
    assert f"failed in {names[0]}" in (reports / "index.html").read_text()


def test_a_failing_cell_marks_the_run_failed_and_exits_1(
    face_folder, tmp_path, tiny_pipeline, capsys
):
    names = tiny_pipeline("raise RuntimeError('no good')")
    reports = tmp_path / "reports"
    code = main(["report", "--data-dir", str(face_folder), "--reports-dir", str(reports), "-q"])
    assert code == EXIT_FAILED
    error = capsys.readouterr().err
    assert re.search(rf"{names[0]}.ipynb failed in cell \[\d+\]: RuntimeError: no good", error)
    assert "Traceback" not in error and error.count("\n") == 1
    manifest = json.loads((only_run(reports) / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["failure"]["cell"] > 0


@pytest.mark.parametrize(
    ("raised", "status", "exit_status"),
    [
        (KeyboardInterrupt(), "interrupted", EXIT_INTERRUPTED),
        (OSError("disk full"), "failed", None),
    ],
)
def test_any_exception_or_ctrl_c_leaves_the_run_marked(
    face_folder, tmp_path, tiny_pipeline, monkeypatch, capsys, raised, status, exit_status
):
    names = tiny_pipeline("print('fine')", "print('never reached')")
    real = pipeline._execute

    def second_breaks(source, output, *args):
        if output.stem == names[1]:
            raise raised
        real(source, output, *args)

    monkeypatch.setattr(pipeline, "_execute", second_breaks)
    reports = tmp_path / "reports"
    args = ["report", "--data-dir", str(face_folder), "--reports-dir", str(reports), "-q"]
    if exit_status is None:  # not the user's mistake: a bug, raised with its traceback
        with pytest.raises(OSError, match="disk full"):
            main(args)
    else:
        assert main(args) == exit_status
        assert "facegen: interrupted" in capsys.readouterr().err
    run_dir = only_run(reports)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == status
    assert manifest["failure"]["notebook"] == names[1]
    assert [n["status"] for n in manifest["notebooks"]] == ["complete", status]
    assert (run_dir / "FAILED").read_text().startswith(f"{names[1]}.ipynb")
    assert f"{status} in {names[1]}" in (reports / "index.html").read_text()


_TOGETHER = """
import sys
from pathlib import Path

from facegen import config
from facegen.runs import pipeline

config.NOTEBOOKS, config.NOTEBOOKS_DIR = ("01_step",), Path(sys.argv[1])
pipeline.write_model_card = lambda run_dir: None
pipeline.new_run_id = lambda settings, kind=None: "20260101-000000-smoke-seed42"  # one second
print(pipeline.run_report({"data_dir": sys.argv[2], "profile": "smoke"}, root=sys.argv[3]))
"""


@pytest.mark.slow
def test_two_reports_started_together_get_their_own_folders(face_folder, tmp_path, monkeypatch):
    write_notebooks(tmp_path / "notebooks", "print('hello')")
    reports = tmp_path / "reports"
    command = [sys.executable, "-c", _TOGETHER, str(tmp_path / "notebooks"), str(face_folder)]
    runs = [
        subprocess.Popen(
            [*command, str(reports)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-3000:] for _, err in results]
    folders = sorted(Path(out.strip()).name for out, _ in results)
    assert folders == ["20260101-000000-smoke-seed42", "20260101-000000-smoke-seed42-2"]
    for folder in folders:
        assert json.loads((reports / folder / "manifest.json").read_text())["status"] == "complete"
    # The index is whole and the last writer saw both runs as they ended: rewriting it now,
    # from the final manifests, changes nothing.
    index = (reports / "index.html").read_text()
    assert all(folder in index for folder in folders)
    monkeypatch.setattr(config, "NOTEBOOKS", ("01_step",))  # as in the two runs
    write_index(reports)
    assert (reports / "index.html").read_text() == index


def test_only_facegen_progress_lines_reach_the_terminal_unless_verbose(capsys):
    relay = pipeline._ProgressRelay()
    relay.write("             files\nepoch   1/2  loss 0.5")  # a table, then half a line
    relay.write("000  acc 0.5\nModel: facegen_cnn\n")
    assert capsys.readouterr().err == "    epoch   1/2  loss 0.5000  acc 0.5\n"
    everything = pipeline._ProgressRelay(everything=True)
    everything.write("             files\n")
    assert capsys.readouterr().err == "                 files\n"


def test_a_missing_external_collection_stops_the_report_before_it_starts(
    face_folder, tmp_path, capsys
):
    reports = tmp_path / "reports"
    args = ["report", "--data-dir", str(face_folder), "--reports-dir", str(reports)]
    assert main([*args, "--external", str(tmp_path / "nowhere")]) == EXIT_USAGE
    assert "external collection not found" in capsys.readouterr().err
    assert not reports.exists()
