"""Gender-balancing weights: equal weight for each subgroup's men and women, capped, mean 1."""

import numpy as np
import pandas as pd
import pytest

from facegen.modeling.train import TrainConfig, training_weights
from facegen.modeling.weighting import gender_balancing_weights


def _rows(cells: dict[tuple[str, str], int]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"ethnicity": e, "gender": g} for (e, g), n in cells.items() for _ in range(n)]
    )


def test_each_subgroups_genders_get_equal_total_weight():
    rows = _rows({("A", "male"): 30, ("A", "female"): 10, ("B", "male"): 5, ("B", "female"): 5})
    weights = gender_balancing_weights(rows, ["ethnicity"])
    totals = pd.Series(weights).groupby([rows["ethnicity"], rows["gender"]]).sum()
    assert totals["A", "male"] == pytest.approx(totals["A", "female"])
    assert totals["B", "male"] == pytest.approx(totals["B", "female"])
    # Each subgroup keeps its share of the total weight: A is 40 of 50 faces.
    assert totals["A"].sum() / weights.sum() == pytest.approx(0.8)
    assert weights.mean() == pytest.approx(1.0)
    # By hand: in A, men weigh 40/(2*30) = 2/3, women 40/(2*10) = 2; B is balanced (1).
    raw = np.r_[[2 / 3] * 30, [2.0] * 10, [1.0] * 10]
    assert np.allclose(weights, raw / raw.mean())


def test_a_rare_gender_is_capped_and_a_one_gender_cell_is_left_alone():
    rows = _rows({("A", "male"): 99, ("A", "female"): 1, ("B", "female"): 4})
    weights = gender_balancing_weights(rows, ["ethnicity"], max_weight=3.0)
    raw = np.r_[[100 / 198] * 99, [3.0], [1.0] * 4]
    assert np.allclose(weights, raw / raw.mean())


def test_categorical_columns_with_unknown_values_get_finite_weights():
    rows = pd.DataFrame(
        {
            "ethnicity": pd.Categorical(["A", "A", None, None, None, "B"]),
            "age_band": pd.Categorical(["0-2", "0-2", "0-2", "0-2", "0-2", "60+"]),
            "gender": pd.Categorical(["male", "female", "male", "male", "female", "female"]),
        }
    )
    weights = gender_balancing_weights(rows, ["ethnicity", "age_band"])
    assert np.isfinite(weights).all()
    # The three unknowns form one cell: its two men weigh 3/4 each, its woman 3/2.
    raw = np.r_[1.0, 1.0, 0.75, 0.75, 1.5, 1.0]
    assert np.allclose(weights, raw / raw.mean())


def test_a_missing_gender_is_an_error_not_a_third_gender():
    rows = pd.DataFrame({"ethnicity": ["A", "A"], "gender": ["male", None]})
    with pytest.raises(ValueError, match="1 rows have no gender"):
        gender_balancing_weights(rows, ["ethnicity"])


def test_no_columns_means_no_weighting_and_a_missing_column_is_named():
    rows = _rows({("A", "male"): 2, ("A", "female"): 1})
    assert np.array_equal(gender_balancing_weights(rows, ()), np.ones(3))
    with pytest.raises(ValueError, match="age_band"):
        gender_balancing_weights(rows, ["age_band"])
    assert training_weights(rows, TrainConfig()) is None
    assert len(training_weights(rows, TrainConfig(balance_gender_within=("ethnicity",)))) == 3


def test_training_takes_one_weight_per_face_and_refuses_bad_weights():
    from facegen.modeling.model import ModelConfig
    from facegen.modeling.train import train

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (24, 48, 48)).astype("uint8")
    labels = np.tile([0, 1], 12)
    small = ModelConfig(widths=(4, 8))
    config = TrainConfig(epochs=1, batch_size=8)
    losses = {
        name: train(
            images, labels, images[:8], labels[:8], model_config=small, train_config=config,
            sample_weight=weights, progress=False,
        ).history["loss"].iloc[0]
        for name, weights in [
            ("none", None), ("ones", np.ones(24)), ("uneven", np.linspace(0.1, 1.9, 24))
        ]
    }  # fmt: skip
    # Deterministic training: weights of 1 change nothing, uneven weights change the loss.
    assert losses["ones"] == pytest.approx(losses["none"], rel=1e-6)
    assert losses["uneven"] != pytest.approx(losses["none"], rel=1e-3)
    with pytest.raises(ValueError, match="3 sample weights for 24 training images"):
        train(
            images, labels, images[:8], labels[:8], model_config=small, train_config=config,
            sample_weight=np.ones(3), progress=False,
        )  # fmt: skip
    with pytest.raises(ValueError, match="finite and non-negative"):
        train(
            images, labels, images[:8], labels[:8], model_config=small, train_config=config,
            sample_weight=np.full(24, np.nan), progress=False,
        )  # fmt: skip
