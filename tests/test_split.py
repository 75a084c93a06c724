"""Near-duplicates and the stratified, seeded, leakage-free split."""

import numpy as np
import pandas as pd
import pytest

from facegen import config
from facegen.data.frame import age_band
from facegen.data.near_duplicates import near_duplicate_groups, perceptual_hashes
from facegen.data.split import assign_splits, read_split, strata, write_split
from facegen.faces.decode import decode_gray
from facegen.faces.preprocess import preprocess_face
from tests.conftest import jpeg_bytes, synthetic_face


def _frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ages = rng.integers(1, 90, n)
    return pd.DataFrame(
        {
            "file": [f"f{i:05d}.jpg" for i in range(n)],
            "fingerprint": [f"{i:032x}" for i in range(n)],
            "gender": pd.Categorical.from_codes(rng.integers(0, 2, n), list(config.GENDERS)),
            "ethnicity": pd.Categorical.from_codes(rng.integers(0, 5, n), list(config.ETHNICITIES)),
            "age": pd.array(ages, dtype="Int64"),
            "age_band": age_band(ages),
        }
    )


def test_reencoded_and_recropped_photos_are_grouped_strangers_are_not():
    base = synthetic_face(1, size=120)
    variants = [
        base,
        decode_gray(jpeg_bytes(base, quality=40)),  # re-encoded
        cv2_crop(base, 3),  # slightly re-cropped
    ]
    strangers = [synthetic_face(s, size=120) for s in range(2, 30)]
    images = np.stack([preprocess_face(im) for im in variants + strangers])
    groups = near_duplicate_groups(images)
    assert groups[0] == groups[1] == groups[2]
    assert len(set(groups[3:])) == len(strangers) and groups[0] not in set(groups[3:])


def cv2_crop(image, pixels):
    return image[pixels:-pixels, pixels:-pixels]


def test_identical_images_have_identical_hashes():
    face = preprocess_face(synthetic_face(5))
    hashes = perceptual_hashes(np.stack([face, face.copy(), preprocess_face(synthetic_face(6))]))
    assert hashes[0] == hashes[1] != hashes[2]
    assert hashes.dtype == np.uint64


def test_split_fractions_and_strata():
    frame = _frame(5000)
    splits = assign_splits(frame, np.arange(len(frame)), seed=1)
    shares = splits.value_counts(normalize=True)
    assert shares["train"] == pytest.approx(0.8, abs=0.01)
    assert shares["val"] == pytest.approx(0.1, abs=0.01)
    assert shares["test"] == pytest.approx(0.1, abs=0.01)
    per_stratum = pd.crosstab(strata(frame), splits, normalize="index")
    big = strata(frame).value_counts() >= 60
    assert (per_stratum.loc[big[big].index, "test"] - 0.1).abs().max() < 0.05


def test_groups_never_straddle_splits():
    frame = _frame(3000)
    groups = np.arange(len(frame)) // 3  # triples of near-duplicates
    splits = assign_splits(frame, groups, seed=3)
    assert pd.Series(splits.to_numpy()).groupby(groups).nunique().max() == 1


def test_same_seed_same_split_whatever_the_row_order():
    frame = _frame(2000)
    groups = np.arange(len(frame))
    first = assign_splits(frame, groups, seed=7)
    shuffled = frame.sample(frac=1, random_state=0)
    again = assign_splits(shuffled, groups[shuffled.index], seed=7)
    pd.testing.assert_series_equal(first, again.sort_index())
    assert not first.equals(assign_splits(frame, groups, seed=8))


def test_tiny_strata_are_still_split_without_error():
    frame = _frame(7)
    splits = assign_splits(frame, np.arange(7), seed=0)
    assert set(splits) <= {"train", "val", "test"}


def test_bad_fractions_are_refused():
    with pytest.raises(ValueError, match="sum to 1"):
        assign_splits(_frame(10), np.arange(10), fractions=(0.8, 0.3, 0.1))


def test_split_csv_round_trip_is_byte_stable(tmp_path):
    frame = _frame(300)
    frame["near_dup_group"] = np.arange(300)
    frame["split"] = assign_splits(frame, np.arange(300), seed=2)
    first = write_split(frame, tmp_path / "a.csv").read_bytes()
    second = write_split(frame.sample(frac=1, random_state=1), tmp_path / "b.csv").read_bytes()
    assert first == second
    back = read_split(tmp_path / "a.csv")
    assert back["split"].tolist() == frame.sort_values("file")["split"].tolist()
    assert list(back["age_band"].cat.categories) == list(config.AGE_BAND_LABELS)
