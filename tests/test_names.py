"""File-name parsing: every malformed-name case of the real set, decided deliberately."""

import numpy as np
import pytest

from facegen import config
from facegen.data.frame import RowStatus, age_band
from facegen.data.utkface import parse_name


def test_standard_name():
    parsed = parse_name("24_1_2_20170116220224657.jpg.chip.jpg")
    assert (parsed.age, parsed.gender, parsed.race, parsed.note, parsed.error) == (24, 1, 2, "", "")


def test_missing_race_field_keeps_age_and_gender():
    parsed = parse_name("39_1_20170116174525125.jpg.chip.jpg")
    assert (parsed.age, parsed.gender, parsed.race) == (39, 1, None)
    assert parsed.error == ""
    assert "race field missing" in parsed.note


def test_space_before_extension_is_kept_with_note():
    parsed = parse_name("24_0_1_20170116220224657 .jpg.chip.jpg")
    assert (parsed.age, parsed.gender, parsed.race, parsed.error) == (24, 0, 1, "")
    assert parsed.note == "space before the extension"


def test_missing_dot_before_extension_is_kept_with_note():
    parsed = parse_name("55_0_0_20170116232725357jpg.chip.jpg")
    assert (parsed.age, parsed.gender, parsed.race, parsed.error) == (55, 0, 0, "")
    assert parsed.note == "no dot before the extension"


def test_gender_out_of_range_is_excluded():
    # crop_part1 holds 61_3_...: with a field missing, "3" sits where the gender should be.
    parsed = parse_name("61_3_20170109150557335.jpg.chip.jpg")
    assert parsed.error.startswith(RowStatus.INVALID_LABEL)
    assert "gender 3" in parsed.error


@pytest.mark.parametrize(
    "name, problem",
    [
        ("130_0_0_20170116232725357.jpg.chip.jpg", "age 130"),
        ("30_0_7_20170116232725357.jpg.chip.jpg", "race 7"),
    ],
)
def test_other_labels_out_of_range(name, problem):
    assert problem in parse_name(name).error


@pytest.mark.parametrize("name", ["README.txt", "face.jpg", "_1_2_2017.jpg", "a_b_c_d.jpg"])
def test_names_outside_the_pattern(name):
    assert parse_name(name).error == RowStatus.NOT_A_UTKFACE_NAME


@pytest.mark.parametrize("name", ["30_0_1_20170116232725357.jpg", "30_0_1_20170116232725357.png"])
def test_plain_image_extensions_need_no_note(name):
    parsed = parse_name(name)
    assert (parsed.error, parsed.note) == ("", "")


def test_age_bands_edges():
    ages = np.array([0, 2, 3, 12, 13, 19, 20, 29, 30, 39, 40, 59, 60, 116])
    expected = [
        "0-2",
        "0-2",
        "3-12",
        "3-12",
        "13-19",
        "13-19",
        "20-29",
        "20-29",
        "30-39",
        "30-39",
        "40-59",
        "40-59",
        "60+",
        "60+",
    ]
    assert list(age_band(ages)) == expected
    assert list(age_band(ages).categories) == list(config.AGE_BAND_LABELS)


def test_missing_age_has_no_band():
    assert age_band(np.array([np.nan, 5.0])).isna().tolist() == [True, False]
