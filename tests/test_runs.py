"""A run folder pins its split: a later notebook on changed data must stop, not mix splits."""

import pytest

from facegen.runs.run import SplitMismatchError, open_run
from tests.conftest import jpeg_bytes, synthetic_face, utk_name


def test_split_is_pinned_then_checked(face_folder, tmp_path):
    run = open_run(tmp_path / "run", data_dir=str(face_folder), profile="smoke")
    first = run.dataset()
    assert run.split_path.exists()
    assert run.dataset().used["split"].tolist() == first.used["split"].tolist()

    (face_folder / utk_name(40, 1, 2, 777)).write_bytes(jpeg_bytes(synthetic_face(777)))
    with pytest.raises(SplitMismatchError, match="no longer matches"):
        run.dataset()


def test_zero_epochs_is_refused_before_any_work():
    from facegen.runs.run import Settings

    with pytest.raises(ValueError, match="epochs must be at least 1, not 0"):
        Settings.resolve(epochs=0)
    assert Settings.resolve(epochs=3).epochs == 3


def test_interactive_runs_get_a_folder_per_setting(face_folder, tmp_path, monkeypatch):
    """In JupyterLab, changing seed or profile and running again starts a new folder instead of
    failing on the split the previous setting pinned."""
    from facegen import config

    monkeypatch.setattr(config, "REPORTS_DIR", tmp_path / "reports")
    monkeypatch.delenv(config.RUN_DIR_ENV, raising=False)
    interactive = tmp_path / "reports" / "interactive"
    first = open_run(None, data_dir=str(face_folder), profile="smoke", seed=1)
    first.dataset()
    second = open_run(None, data_dir=str(face_folder), profile="smoke", seed=2)
    second.dataset()  # before: SplitMismatchError, both in reports/interactive/
    assert first.root.parent == second.root.parent == interactive
    assert first.root.name.startswith("smoke-seed1-size48-data")
    assert second.root.name.startswith("smoke-seed2-size48-data")
    assert open_run(None, profile="full").root == interactive / "full-seed42-size48"
    assert open_run(None, profile="smoke", epochs=5, max_images=50, image_size=32).root == (
        interactive / "smoke-seed42-size32-epochs5-max50"
    )
    monkeypatch.setenv(config.RUN_DIR_ENV, str(tmp_path / "mine"))
    assert open_run(None, profile="smoke").root == tmp_path / "mine"


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"n_boot": "many"}, "n_boot must be a whole number, not 'many'"),
        ({"max_images": 0}, "max_images must be at least 1, not 0"),
        ({"seed": -1}, "seed must be at least 0, not -1"),
        ({"epochs": 2.5}, "epochs must be a whole number, not 2.5"),
        ({"image_size": 48.0}, "image_size must be between 16 and 512 pixels, not 48.0"),
        ({"data_dir": 3}, "data_dir must be a path, not 3"),
    ],
)
def test_every_setting_is_checked_with_a_usage_error(parameters, message):
    from facegen.errors import UsageError
    from facegen.runs.run import Settings

    with pytest.raises(UsageError, match=message):
        Settings.resolve(**parameters)
