"""The real UTKFace set: exact counts of what is found, kept and excluded, and the split.

Runs only when FACEGEN_DATA_DIR points at the aligned UTKFace folder (CI sets it); otherwise each
test is reported as skipped, never silently passed.
"""

from pathlib import Path

import pytest

from facegen import load_dataset
from facegen.data.frame import RowStatus

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="session")
def real(real_data_dir, tmp_path_factory):
    if real_data_dir.name != "UTKFace":
        pytest.skip(f"exact counts are for the aligned UTKFace folder, not {real_data_dir.name}")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FACEGEN_CACHE_DIR", str(tmp_path_factory.mktemp("real-cache")))
        # The counts and the split come from the stored crops; aligning is tested on its own below.
        cold = load_dataset(real_data_dir, progress=False, align=False)
        warm = load_dataset(real_data_dir, progress=False, align=False)
    return cold, warm


def test_counts_found_kept_and_excluded(real):
    q = real[0].quality
    assert q.found == 23_708
    assert q.excluded.to_dict() == {
        RowStatus.DUPLICATE_COPY: 193,
        RowStatus.CONFLICTING_DUPLICATE: 322,
    }
    assert q.used == 23_708 - 193 - 322 == 23_193
    assert (q.duplicate_groups, q.duplicate_files, q.conflicting_groups) == (345, 702, 158)
    assert q.kept_with_notes.to_dict() == {
        "copies differ in age within one band (kept one)": 77,
        "no dot before the extension": 1,
        "race field missing: ethnicity unknown": 3,
        "space before the extension": 1,
    }
    assert (q.near_duplicate_groups, q.near_duplicate_files) == (593, 1227)


def test_thirty_two_groups_conflict_on_gender(real):
    frame = real[0].frame
    gender = frame[frame["note"].str.contains("disagree on gender")]
    assert gender["dup_group"].nunique() == 32


def test_every_malformed_name_is_decided(real):
    details = real[0].quality.details.set_index("file")
    for name in (
        "39_1_20170116174525125.jpg.chip.jpg",
        "61_1_20170109142408075.jpg.chip.jpg",
        "61_1_20170109150557335.jpg.chip.jpg",
        "24_0_1_20170116220224657 .jpg.chip.jpg",
        "55_0_0_20170116232725357jpg.chip.jpg",
    ):
        assert details.at[name, "decision"] == "kept", name
        assert details.at[name, "note"], name


def test_split_sizes_and_no_leakage(real):
    dataset = real[0]
    assert dataset.split_sizes()["files"].to_dict() == {
        "train": 18_552,
        "val": 2_326,
        "test": 2_315,
    }
    used = dataset.used
    assert used.groupby("near_dup_group")["split"].nunique().max() == 1
    by_split = {
        s: set(used.loc[used["split"] == s, "fingerprint"]) for s in ("train", "val", "test")
    }
    assert not by_split["train"] & by_split["test"] and not by_split["train"] & by_split["val"]


def test_warm_load_is_identical_and_from_cache(real, tmp_path: Path):
    cold, warm = real
    assert warm.from_cache and not cold.from_cache
    assert (warm.images == cold.images).all()
    a, b = cold.write_split(tmp_path / "a.csv"), warm.write_split(tmp_path / "b.csv")
    assert a.read_bytes() == b.read_bytes()


def test_a_face_from_a_larger_crop_lands_where_its_training_face_sits(real_data_dir):
    """The same face at 200x200 (``crop_part1/``) and at 64x64 (``UTKFace/``), each found and
    aligned to the landmark template, gives nearly the same model input: the frame is the
    template's, not the file's (benchmarks/measure_alignment.py measures it on more faces)."""
    import numpy as np

    from facegen.faces.decode import decode_gray, decode_rgb
    from facegen.faces.framing import Framing, frame_crops

    large = real_data_dir.parent / "crop_part1"
    if not large.is_dir():
        pytest.skip(f"no crop_part1/ beside {real_data_dir}")
    names = sorted(p.name for p in large.glob("*.jpg") if (real_data_dir / p.name).exists())[:150]

    def framed(folder):
        datas = [(folder / name).read_bytes() for name in names]
        return frame_crops([decode_rgb(d) for d in datas], [decode_gray(d) for d in datas])

    scores = [
        np.corrcoef(a.face.ravel().astype(float), b.face.ravel().astype(float))[0, 1]
        for a, b in zip(framed(large), framed(real_data_dir), strict=True)
        if a.framing == b.framing == Framing.ALIGNED
    ]
    assert len(scores) >= 140
    assert np.median(scores) > 0.9
