"""The command line's conventions: --version, -v anywhere, documented and distinct exit statuses,
one line for the user's mistakes and a traceback for bugs."""

from __future__ import annotations

import importlib.metadata
import re

import pytest

from facegen import cli, config
from facegen.cli import build_parser, main
from facegen.errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_STATUSES,
    EXIT_USAGE,
    BadInputError,
    RunFailed,
    UsageError,
)


def test_version_comes_from_the_package_metadata(capsys):
    import facegen

    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    installed = importlib.metadata.version("facegen")
    assert capsys.readouterr().out == f"facegen {installed}\n"
    assert facegen.__version__ == installed


@pytest.mark.parametrize(
    ("argv", "verbose"),
    [
        (["report"], False),
        (["-v", "report"], True),
        (["report", "-v"], True),
        (["-v", "predict", "x.jpg", "--verbose"], True),
        (["predict", "x.jpg", "-v"], True),
    ],
)
def test_verbose_is_accepted_before_and_after_the_command(argv, verbose):
    assert build_parser().parse_args(argv).verbose is verbose


def test_exit_statuses_are_distinct_and_documented_in_help_and_the_cli_guide(capsys):
    assert len(set(EXIT_STATUSES)) == len(EXIT_STATUSES) == 6
    for argv in (["--help"], ["predict", "--help"], ["report", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        text = " ".join(capsys.readouterr().out.split())
        for status, meaning in EXIT_STATUSES.items():
            assert f"{status} {meaning}" in text, (argv, status)
    guide = " ".join((config.PROJECT_ROOT / "docs" / "cli.md").read_text().split())
    for status, meaning in EXIT_STATUSES.items():
        assert f"| {status} | {meaning} |" in guide, status


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (UsageError("wrong"), EXIT_USAGE),
        (BadInputError("wrong"), EXIT_BAD_INPUT),
        (RunFailed("wrong"), EXIT_FAILED),
        (KeyboardInterrupt(), EXIT_INTERRUPTED),
    ],
)
def test_the_users_mistakes_are_one_line_and_a_status(monkeypatch, capsys, error, status):
    def command(args):
        raise error

    monkeypatch.setattr(cli, "_download_command", command)
    assert main(["download"]) == status
    err = capsys.readouterr().err
    expected = "facegen: interrupted\n" if status == EXIT_INTERRUPTED else "facegen: wrong\n"
    assert err == expected


def test_verbose_adds_the_traceback_and_a_bug_keeps_its_own(monkeypatch, capsys):
    def mistake(args):
        raise BadInputError("damaged")

    monkeypatch.setattr(cli, "_download_command", mistake)
    assert main(["download", "-v"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "Traceback" in err and err.endswith("facegen: damaged\n")

    def bug(args):
        raise ValueError("a bug in facegen")

    monkeypatch.setattr(cli, "_download_command", bug)
    with pytest.raises(ValueError, match="a bug in facegen"):  # never turned into a status
        main(["download"])


def test_a_missing_model_is_a_usage_error_and_a_damaged_one_bad_input(tmp_path, capsys):
    (tmp_path / "face.jpg").write_bytes(b"")
    face = str(tmp_path / "face.jpg")
    assert main(["predict", face, "--model", str(tmp_path / "none.keras")]) == EXIT_USAGE
    assert "no such model file" in capsys.readouterr().err
    (tmp_path / "bad.keras").write_bytes(b"not a zip")
    assert main(["predict", face, "--model", str(tmp_path / "bad.keras")]) == EXIT_BAD_INPUT
    assert re.search(r"bad\.keras: not a native Keras", capsys.readouterr().err)


def _must_not_run(*_, **__):
    raise AssertionError("started work that a usage error should have prevented")


def test_an_external_bar_without_a_collection_is_refused_before_the_report_starts(
    monkeypatch, capsys
):
    import facegen.runs.pipeline as pipeline

    monkeypatch.delenv(config.EXTERNAL_ENV, raising=False)
    monkeypatch.setattr(pipeline, "run_report", _must_not_run)
    assert main(["report", "--min-external-accuracy", "0.77"]) == EXIT_USAGE
    error = capsys.readouterr().err
    assert "--min-external-accuracy needs a collection" in error
    assert config.EXTERNAL_ENV in error


def test_predict_with_no_input_files_stops_before_loading_a_model(tmp_path, monkeypatch, capsys):
    import facegen.modeling.saving as saving

    monkeypatch.setattr(saving, "load_model", _must_not_run)
    monkeypatch.setattr(cli, "_start_tensorflow", _must_not_run)
    (tmp_path / "empty").mkdir()
    assert main(["predict", str(tmp_path / "empty")]) == EXIT_USAGE
    assert "no input files" in capsys.readouterr().err
