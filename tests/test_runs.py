"""A run folder pins its split: a later notebook on changed data must stop, not mix splits."""

import pytest

from facegen.reporting.run import SplitMismatchError, open_run
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
    from facegen.reporting.run import Settings

    with pytest.raises(ValueError, match="epochs must be at least 1, not 0"):
        Settings.resolve(epochs=0)
    assert Settings.resolve(epochs=3).epochs == 3
