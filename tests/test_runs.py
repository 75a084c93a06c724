"""A run folder pins its split: a later notebook on changed data must stop, not mix splits."""

import pytest

from facegen.runs import SplitMismatchError, open_run
from tests.conftest import jpeg_bytes, synthetic_face, utk_name


def test_split_is_pinned_then_checked(face_folder, tmp_path):
    run = open_run(tmp_path / "run", data_dir=str(face_folder), profile="smoke")
    first = run.dataset()
    assert run.split_path.exists()
    assert run.dataset().used["split"].tolist() == first.used["split"].tolist()

    (face_folder / utk_name(40, 1, 2, 777)).write_bytes(jpeg_bytes(synthetic_face(777)))
    with pytest.raises(SplitMismatchError, match="no longer matches"):
        run.dataset()
