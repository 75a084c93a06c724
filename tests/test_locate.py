"""Finding the data: explicit path, environment variable, data/raw/, download, and failures."""

import pytest

from facegen import cli, config
from facegen.data.utkface import DataNotFoundError, locate_data_dir, resolve_image_folder
from tests.conftest import jpeg_bytes, synthetic_face, utk_name


def _one_face(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / utk_name(30, 0, 1, 1)).write_bytes(jpeg_bytes(synthetic_face(1)))
    return folder


def test_explicit_path_wins_over_environment(tmp_path, monkeypatch):
    given, env = _one_face(tmp_path / "given"), _one_face(tmp_path / "env")
    monkeypatch.setenv(config.DATA_DIR_ENV, str(env))
    assert locate_data_dir(given) == given


def test_environment_variable(tmp_path, monkeypatch):
    env = _one_face(tmp_path / "env")
    monkeypatch.setenv(config.DATA_DIR_ENV, str(env))
    assert locate_data_dir() == env


def test_data_raw_holding_the_kaggle_archive(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    aligned = _one_face(raw / "utkface-new" / "UTKFace")
    _one_face(raw / "utkface-new" / "crop_part1")
    monkeypatch.setattr(config, "default_raw_dir", lambda: raw)
    assert locate_data_dir(download=False) == aligned


@pytest.mark.parametrize("sub", ["UTKFace", "utkface_aligned_cropped/UTKFace", "crop_part1"])
def test_archive_parent_is_accepted(tmp_path, sub):
    target = _one_face(tmp_path / sub)
    assert resolve_image_folder(tmp_path) == target


def test_download_is_the_last_resort(tmp_path, monkeypatch):
    archive = tmp_path / "kaggle"
    aligned = _one_face(archive / "UTKFace")
    calls = []

    def fake_download(handle, *args, **kwargs):
        calls.append(handle)
        return str(archive)

    monkeypatch.setattr("kagglehub.dataset_download", fake_download)
    assert locate_data_dir() == aligned
    assert calls == [config.KAGGLE_HANDLE]


def test_offline_download_gives_one_actionable_message(monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("Failed to resolve 'www.kaggle.com'")

    monkeypatch.setattr("kagglehub.dataset_download", offline)
    with pytest.raises(DataNotFoundError) as caught:
        locate_data_dir()
    message = str(caught.value)
    assert "Failed to resolve" in message
    assert config.DATA_DIR_ENV in message and str(config.default_raw_dir()) in message
    assert caught.value.__cause__ is None  # no chained traceback wall


def test_cli_reports_offline_without_traceback(monkeypatch, capsys):
    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr("kagglehub.dataset_download", offline)
    assert cli.main(["data"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("facegen: Downloading jangedoo/utkface-new from Kaggle failed")
    assert "Traceback" not in err


def test_missing_folder(tmp_path):
    with pytest.raises(DataNotFoundError, match="does not exist"):
        locate_data_dir(tmp_path / "nope")


def test_a_file_is_not_a_folder(tmp_path):
    path = tmp_path / "file.jpg"
    path.write_bytes(b"x")
    with pytest.raises(DataNotFoundError, match="is not a folder"):
        locate_data_dir(path)


def test_empty_folder(tmp_path):
    with pytest.raises(DataNotFoundError, match="holds no files named like UTKFace"):
        locate_data_dir(tmp_path)


def test_environment_typo_does_not_trigger_a_download(tmp_path, monkeypatch):
    monkeypatch.setenv(config.DATA_DIR_ENV, str(tmp_path / "typo"))
    monkeypatch.setattr("kagglehub.dataset_download", lambda *a, **k: pytest.fail("downloaded"))
    with pytest.raises(DataNotFoundError, match=r"\$FACEGEN_DATA_DIR"):
        locate_data_dir()


def test_no_download_when_disabled(monkeypatch):
    monkeypatch.setattr("kagglehub.dataset_download", lambda *a, **k: pytest.fail("downloaded"))
    with pytest.raises(DataNotFoundError, match="downloading is off"):
        locate_data_dir(download=False)


def test_cli_refuses_a_bad_parameter_without_traceback(capsys, tmp_path):
    assert cli.main(["data", "--data-dir", str(tmp_path), "--image-size", "0"]) == 2
    assert cli.main(["report", "-p", "image_size", "0", "--reports-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("image_size must be between 16 and 512 pixels, not 0") == 2
    assert "Traceback" not in err
