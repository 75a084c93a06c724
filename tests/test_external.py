"""External collections: each label layout, FairFace's damaged age bins, rows that cannot be used,
the seeded halves, and ``facegen evaluate`` end to end on a tiny collection of astronaut faces.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from facegen import config
from facegen.cli import main
from facegen.data.external import (
    CollectionError,
    describe,
    external_halves,
    read_collection,
)
from facegen.data.frame import RowStatus

from .conftest import astronaut_face, rgb_jpeg_bytes, rgb_png_bytes

FAIRFACE_CSV = """file,age,gender,race,service_test
val/1.jpg,03-Sep,Female,East Asian,True
val/2.jpg,Oct-19,Male,White,False
val/3.jpg,more than 70,Female,Black,True
val/4.jpg,20-29,Male,Latino_Hispanic,False
val/5.jpg,45-50,Male,Indian,True
val/6.jpg,30-39,Unknown,White,False
val/7.jpg,30-39,Female,White,True
"""
"""Seven FairFace rows: three damaged bins read back, one unknown bin, one unknown gender, one
file missing (7.jpg is not written)."""


@pytest.fixture
def fairface(tmp_path: Path) -> Path:
    folder = tmp_path / "fairface"
    (folder / "val").mkdir(parents=True)
    (folder / "fairface_label_val.csv").write_text(FAIRFACE_CSV)
    for i in range(1, 7):
        (folder / "val" / f"{i}.jpg").write_bytes(b"listed, never decoded here")
    return folder


def check_fairface(collection) -> None:
    frame = collection.frame.set_index("file")
    assert collection.layout == "fairface" and len(frame) == 7
    assert frame["age_band"].astype(object).tolist()[:4] == ["3-9", "10-19", "70+", "20-29"]
    # FairFace's own bins, in order, whatever the CSV holds.
    assert list(frame["age_band"].cat.categories) == [
        "0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70+",
    ]  # fmt: skip
    assert frame["status"].tolist() == [RowStatus.OK] * 4 + [
        RowStatus.UNKNOWN_AGE,
        RowStatus.UNKNOWN_GENDER,
        RowStatus.MISSING_FILE,
    ]
    assert frame.loc["val/5.jpg", "note"] == "age bin '45-50'"
    assert frame.loc["val/6.jpg", "note"] == "gender 'Unknown'"
    assert frame["gender"].astype(object).tolist()[:5] == [
        "female", "male", "female", "male", "male",
    ]  # fmt: skip
    # FairFace's seven groups are kept, in FairFace's order, never mapped onto UTKFace's five.
    assert list(frame["ethnicity"].cat.categories) == [
        "White", "Black", "East Asian", "Indian", "Latino_Hispanic",
    ]  # fmt: skip
    assert frame.loc["val/1.jpg", "path"] == str(collection.root / "val" / "1.jpg")
    assert len(collection.usable) == 4
    assert collection.problems().to_dict() == {
        RowStatus.UNKNOWN_AGE: 1,
        RowStatus.UNKNOWN_GENDER: 1,
        RowStatus.MISSING_FILE: 1,
    }


def test_fairface_is_read_from_its_folder_or_its_csv(fairface):
    from_folder = read_collection(fairface)
    check_fairface(from_folder)
    assert from_folder.name == "fairface" and from_folder.root == fairface
    from_file = read_collection(fairface / "fairface_label_val.csv", name="FairFace val")
    check_fairface(from_file)
    assert from_file.name == "FairFace val" and from_file.root == fairface
    line = describe(from_folder)
    assert "7 faces listed (fairface layout)" in line and "4 usable" in line
    assert "1 file not found" in line and "1 gender label not understood" in line


def test_female_and_male_folders_take_every_image_below_them(tmp_path):
    folder = tmp_path / "mine"
    (folder / "Female" / "2024").mkdir(parents=True)
    (folder / "male").mkdir()
    (folder / "other").mkdir()
    (folder / "Female" / "a.jpg").write_bytes(b"x")
    (folder / "Female" / "2024" / "b.PNG").write_bytes(b"x")
    (folder / "male" / "c.jpeg").write_bytes(b"x")
    (folder / "male" / "notes.txt").write_text("not a face")
    (folder / "other" / "d.jpg").write_bytes(b"x")
    collection = read_collection(folder)
    assert collection.layout == "folders" and collection.name == "mine"
    frame = collection.frame.sort_values("file")
    assert frame["file"].tolist() == ["Female/2024/b.PNG", "Female/a.jpg", "male/c.jpeg"]
    assert frame["gender"].astype(object).tolist() == ["female", "female", "male"]
    assert (frame["status"] == RowStatus.OK).all() and frame["ethnicity"].isna().all()


def test_a_plain_csv_reads_genders_ages_and_ethnicities_and_flags_the_rest(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    for name in "abcdef":
        (folder / f"{name}.jpg").write_bytes(b"x")
    (folder / "labels.csv").write_text(
        "file,gender,age,ethnicity\n"
        "a.jpg,F,25,Nordic\n"
        "b.jpg, Man ,7,\n"
        "c.jpg,woman,,Andean\n"
        "d.jpg,female,two,Nordic\n"
        "e.jpg,male,200,Andean\n"
        "f.jpg,x,40,Nordic\n"
        "g.jpg,male,30,Nordic\n"
    )
    collection = read_collection(folder)
    assert collection.layout == "csv" and collection.name == "plain"
    frame = collection.frame.set_index("file")
    assert frame["gender"].astype(object).tolist()[:5] == [
        "female", "male", "female", "female", "male",
    ]  # fmt: skip
    assert frame.loc["a.jpg", "age"] == 25 and frame.loc["a.jpg", "age_band"] == "20-29"
    assert frame.loc["b.jpg", "age_band"] == "3-12" and pd.isna(frame.loc["b.jpg", "ethnicity"])
    assert (
        pd.isna(frame.loc["c.jpg", "age"]) and frame.loc["c.jpg", "status"] == RowStatus.OK
    )  # no age
    assert (
        frame.loc["d.jpg", "status"] == RowStatus.UNKNOWN_AGE
        and frame.loc["d.jpg", "note"] == "age 'two'"
    )
    assert frame.loc["e.jpg", "status"] == RowStatus.UNKNOWN_AGE  # older than anyone in UTKFace
    assert frame.loc["f.jpg", "status"] == RowStatus.UNKNOWN_GENDER
    assert frame.loc["g.jpg", "status"] == RowStatus.MISSING_FILE
    assert sorted(frame["ethnicity"].dropna().unique()) == ["Andean", "Nordic"]
    assert list(collection.usable["file"]) == ["a.jpg", "b.jpg", "c.jpg"]


def test_a_csv_without_the_needed_columns_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("image,sex\na.jpg,F\n")
    with pytest.raises(CollectionError, match=r"labels\.csv: a collection CSV needs the columns"):
        read_collection(path)
    with pytest.raises(CollectionError, match="it has image, sex"):
        read_collection(tmp_path)


def test_a_path_holding_no_collection_is_refused(tmp_path):
    with pytest.raises(CollectionError, match="no such file or folder"):
        read_collection(tmp_path / "nowhere")
    (tmp_path / "female").mkdir()  # one class folder is not a collection
    with pytest.raises(CollectionError, match="expected fairface_label_"):
        read_collection(tmp_path)


# --- the halves -----------------------------------------------------------------------------------


def labelled_frame(n: int = 400, seed: int = 0, ethnicity: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    groups = ["White", "Black", "East Asian", "Indian", "Latino_Hispanic"]
    return pd.DataFrame(
        {
            "file": [f"faces/{i:04d}.jpg" for i in range(n)],
            "gender": pd.Categorical(rng.choice(config.GENDERS, n), categories=config.GENDERS),
            "ethnicity": (
                pd.Categorical(rng.choice(groups, n, p=[0.4, 0.3, 0.15, 0.1, 0.05]))
                if ethnicity
                else np.full(n, np.nan, dtype=object)
            ),
        }
    )


def test_halves_are_fixed_by_the_seed_and_split_each_stratum_within_one_face():
    frame = labelled_frame()
    halves = external_halves(frame)
    assert set(halves) == {"val", "test"} and halves.index.equals(frame.index)
    assert halves.equals(external_halves(frame))
    assert not halves.equals(external_halves(frame, seed=1))
    counts = pd.crosstab([frame["gender"], frame["ethnicity"]], halves)
    assert (counts["val"] - counts["test"]).abs().max() <= 1
    assert abs((halves == "val").sum() - (halves == "test").sum()) <= counts.shape[0]


def test_halves_do_not_depend_on_the_order_of_the_rows():
    frame = labelled_frame()
    halves = external_halves(frame).set_axis(frame["file"])
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    again = external_halves(shuffled).set_axis(shuffled["file"])
    assert again.reindex(halves.index).equals(halves)


def test_a_collection_without_ethnicities_is_still_split_by_gender():
    # Under pandas 3 a missing ethnicity made every stratum key NaN, and no row got a half.
    frame = labelled_frame(ethnicity=False)
    halves = external_halves(frame)
    assert halves.notna().all()
    counts = pd.crosstab(frame["gender"], halves)
    assert (counts["val"] - counts["test"]).abs().max() <= 1


# --- facegen evaluate -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def astronauts(tmp_path_factory) -> Path:
    """female/ and male/ folders of astronaut crops (three each) and one unreadable file."""
    folder = tmp_path_factory.mktemp("collection") / "astronauts"
    (folder / "female").mkdir(parents=True)
    (folder / "male").mkdir()
    for i, margin in enumerate((0.5, 0.3, 0.2)):
        face = astronaut_face(margin)
        (folder / "female" / f"{i}.jpg").write_bytes(rgb_jpeg_bytes(face))
        (folder / "male" / f"{i}.png").write_bytes(
            rgb_png_bytes(np.ascontiguousarray(face[:, ::-1]))
        )
    (folder / "male" / "broken.jpg").write_bytes(rgb_jpeg_bytes(astronaut_face())[:2000])
    return folder


def test_evaluate_scores_a_collection_and_counts_what_it_could_not_use(
    astronauts, model_path, tmp_path, capsys
):
    out = tmp_path / "scored"
    args = [str(astronauts), "--model", str(model_path), "--half", "all", "--n-boot", "20"]
    assert main(["evaluate", "-q", *args, "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "7 faces listed (folders layout)" in printed.err
    lines = printed.out.splitlines()
    assert lines[0] == (
        "astronauts (all half): 6 faces scored, 6 aligned, 0 whole image (no face found), "
        "1 unreadable"
    )
    assert any(line.strip().startswith("accuracy ") for line in lines)
    assert any(line.strip().startswith("recall, women") for line in lines)
    assert any(line.strip().startswith("recall, men") for line in lines)

    metrics = json.loads((out / "metrics.json").read_text())
    coverage = metrics["coverage"]
    assert coverage["unreadable"] == 1 and coverage["scored"] == 6 and coverage["aligned"] == 6
    assert coverage["unreadable_examples"] == {
        "male/broken.jpg": "truncated JPEG (no end-of-image marker)"
    }
    headline = metrics["headline"]
    assert headline["n_test"] == 6
    assert headline["recall_gap"] == pytest.approx(
        headline["recall_male"] - headline["recall_female"]
    )
    predictions = pd.read_csv(out / "predictions.csv")
    assert sorted(predictions["file"]) == sorted(
        [f"female/{i}.jpg" for i in range(3)] + [f"male/{i}.png" for i in range(3)]
    )
    assert set(predictions["framing"]) == {"aligned"} and predictions["half"].notna().all()
    assert predictions["p_female"].between(0, 1).all()


def test_evaluate_scores_only_the_test_half_by_default(astronauts, model_path, tmp_path, capsys):
    out = tmp_path / "test-half"
    assert main(["evaluate", "-q", str(astronauts), "--model", str(model_path), "--n-boot", "20",
                 "--out", str(out)]) == 0  # fmt: skip
    predictions = pd.read_csv(out / "predictions.csv")
    assert len(predictions) >= 2 and set(predictions["half"]) == {"test"}
    assert capsys.readouterr().out.startswith("astronauts (test half): ")


def test_evaluate_on_a_missing_path_says_so_in_one_line(model_path, tmp_path, capsys):
    code = main(["evaluate", str(tmp_path / "nowhere"), "--model", str(model_path)])
    assert code != 0
    err = capsys.readouterr().err.strip()
    assert err == f"facegen: {tmp_path / 'nowhere'}: no such file or folder"


def test_evaluate_with_nothing_to_score_says_why_in_one_line(model_path, tmp_path, capsys):
    for gender in ("female", "male"):
        (tmp_path / "bad" / gender).mkdir(parents=True)
        (tmp_path / "bad" / gender / "x.jpg").write_bytes(b"")
    code = main(["evaluate", "-q", str(tmp_path / "bad"), "--model", str(model_path),
                 "--half", "all", "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 3  # found, but nothing in it can be used
    (line,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("facegen")]
    assert line == (
        "facegen: bad (all half): no face to score; 2 usable listed, 2 unreadable "
        "(such as male/x.jpg: empty file (0 bytes))"
    )
    assert not (tmp_path / "out").exists()


def test_the_threshold_table_reads_the_models_row_from_the_headline_and_chooses_on_val():
    import numpy as np
    import pandas as pd

    from facegen.runs.collection_scores import CollectionScore, threshold_table

    rng = np.random.default_rng(1)

    def half(n):
        female = rng.random(n) < 0.5
        p = np.clip(0.35 * female + rng.normal(0.3, 0.15, n), 0, 1)  # women scored too low
        return pd.DataFrame({"gender": np.where(female, "female", "male"), "p_female": p})

    head = {"test_accuracy": 0.7, "recall_female": 0.5, "recall_male": 0.9, "recall_gap": 0.4}
    scores = {"c": {"val": CollectionScore(None, "val", half(2000), None, {}, {}),
                    "test": CollectionScore(None, "test", half(2000), None,
                                            {"headline": head}, {})}}  # fmt: skip
    table = threshold_table(scores)
    assert table["threshold"].tolist() == ["the model's own", "chosen on validation"]
    assert table.iloc[0][["accuracy", "recall_gap"]].tolist() == [0.7, 0.4]
    assert abs(table.iloc[1]["recall_gap"]) < 0.15  # the chosen threshold balances the recalls
