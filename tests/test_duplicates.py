"""Byte-identical files: one copy kept, or none when the copies' labels disagree."""

import pandas as pd

from facegen.data.frame import RowStatus
from facegen.data.quality import quality_report
from facegen.data.utkface import load_frame, scan_folder
from tests.conftest import jpeg_bytes, synthetic_face, utk_name


def _write(folder, name, seed):
    (folder / name).write_bytes(jpeg_bytes(synthetic_face(seed)))
    return name


def _status(frame: pd.DataFrame) -> dict[str, str]:
    return dict(zip(frame["file"], frame["status"], strict=False))


def test_identical_copies_with_same_labels_keep_one(tmp_path):
    a = _write(tmp_path, utk_name(30, 0, 1, 1), seed=7)
    b = _write(tmp_path, utk_name(30, 0, 1, 2), seed=7)
    c = _write(tmp_path, utk_name(30, 0, 1, 3), seed=7)
    status = _status(load_frame(tmp_path))
    assert status == {a: RowStatus.OK, b: RowStatus.DUPLICATE_COPY, c: RowStatus.DUPLICATE_COPY}


def test_conflicting_gender_excludes_every_copy(tmp_path):
    a = _write(tmp_path, utk_name(30, 0, 1, 1), seed=7)
    b = _write(tmp_path, utk_name(30, 1, 1, 2), seed=7)
    other = _write(tmp_path, utk_name(30, 1, 1, 3), seed=8)
    frame = load_frame(tmp_path)
    assert _status(frame) == {
        a: RowStatus.CONFLICTING_DUPLICATE,
        b: RowStatus.CONFLICTING_DUPLICATE,
        other: RowStatus.OK,
    }
    assert "disagree on gender" in frame.set_index("file").at[a, "note"]


def test_conflicting_ethnicity_and_age_band(tmp_path):
    race = [_write(tmp_path, utk_name(30, 0, r, r), seed=1) for r in (1, 2)]
    band = [_write(tmp_path, utk_name(a, 0, 1, 10 + a), seed=2) for a in (29, 30)]
    frame = load_frame(tmp_path).set_index("file")
    assert set(frame.loc[race + band, "status"]) == {RowStatus.CONFLICTING_DUPLICATE}
    assert frame.loc[race, "note"].str.contains("ethnicity").all()
    assert frame.loc[band, "note"].str.contains("age_band").all()


def test_ages_within_one_band_are_not_a_conflict(tmp_path):
    a = _write(tmp_path, utk_name(31, 0, 1, 1), seed=3)
    b = _write(tmp_path, utk_name(33, 0, 1, 2), seed=3)
    frame = load_frame(tmp_path).set_index("file")
    assert (
        frame.at[a, "status"] == RowStatus.OK and frame.at[b, "status"] == RowStatus.DUPLICATE_COPY
    )
    assert frame.at[a, "note"] == "copies give ages 31, 33 (kept 31)"


def test_known_ethnicity_is_preferred_to_a_missing_one(tmp_path):
    missing = _write(tmp_path, utk_name(30, 0, None, 1), seed=4)
    known = _write(tmp_path, utk_name(30, 0, 3, 2), seed=4)
    assert _status(load_frame(tmp_path)) == {missing: RowStatus.DUPLICATE_COPY, known: RowStatus.OK}


def test_quality_report_counts_groups_and_reasons(tmp_path):
    _write(tmp_path, utk_name(30, 0, 1, 1), seed=7)
    _write(tmp_path, utk_name(30, 0, 1, 2), seed=7)
    _write(tmp_path, utk_name(30, 0, 1, 3), seed=9)
    _write(tmp_path, utk_name(30, 1, 1, 4), seed=9)
    _write(tmp_path, utk_name(40, 1, 1, 5), seed=10)
    (tmp_path / "notes.txt").write_text("not a face")
    report = quality_report(load_frame(tmp_path))
    assert (report.found, report.used) == (6, 2)
    assert report.duplicate_groups == 2 and report.duplicate_files == 4
    assert report.conflicting_groups == 1
    assert report.excluded.to_dict() == {
        RowStatus.CONFLICTING_DUPLICATE: 2,
        RowStatus.DUPLICATE_COPY: 1,
        "name does not follow {age}_{gender}_{race}_{datetime}": 1,
    }
    assert "notes.txt" in set(report.details["file"])
    assert "files found" in str(report)


def test_fingerprint_index_avoids_rehashing_and_sees_changes(tmp_path, monkeypatch):
    name = _write(tmp_path, utk_name(30, 0, 1, 1), seed=1)
    first = scan_folder(tmp_path)
    with monkeypatch.context() as patch:
        patch.setattr(
            "facegen.data.utkface.fingerprint_file",
            lambda path: (_ for _ in ()).throw(AssertionError("re-hashed")),
        )
        assert scan_folder(tmp_path)["fingerprint"].tolist() == first["fingerprint"].tolist()
    (tmp_path / name).write_bytes(jpeg_bytes(synthetic_face(2), quality=50))
    assert scan_folder(tmp_path)["fingerprint"].tolist() != first["fingerprint"].tolist()
