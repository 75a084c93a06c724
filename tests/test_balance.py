"""The model's own decision point: equal recall on validation, saved inside the model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from facegen.modeling.balance import (
    DecisionShift,
    accuracy_and_recalls,
    balanced_model,
    balancing_offset,
    shifted,
    with_decision_shift,
)
from facegen.modeling.inference import predict_proba, view_probabilities
from facegen.modeling.model import ModelConfig, build_model
from facegen.modeling.saving import load_model, save_model


def recalls(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    rates = accuracy_and_recalls(labels, scores)
    return rates["recall_female"], rates["recall_male"]


def _male_leaning_scores(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two views of scores where women sit closer to the 0.5 line than men do."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    logits = np.where(labels == 1, 0.6, -2.0) + rng.normal(0, 1.5, n)
    views = np.stack([logits + rng.normal(0, 0.3, n) for _ in range(2)])
    return 1 / (1 + np.exp(-views)), labels


def test_the_offset_equalises_recall_on_the_faces_it_is_chosen_on():
    probabilities, labels = _male_leaning_scores()
    before_female, before_male = recalls(labels, shifted(probabilities, 0.0))
    assert before_male - before_female > 0.1  # the fixture leans male, as the network did

    balance = balancing_offset(probabilities, labels)

    after_female, after_male = recalls(labels, shifted(probabilities, balance.offset))
    assert balance.offset > 0  # towards "female"
    assert abs(after_female - after_male) <= 2 / min(np.bincount(labels))  # one face either way
    assert balance.after["recall_female"] == pytest.approx(after_female)
    assert balance.before["recall_male"] == pytest.approx(before_male)
    assert balance.threshold == pytest.approx(1 / (1 + np.exp(balance.offset)))


def test_a_female_leaning_model_is_moved_the_other_way():
    probabilities, labels = _male_leaning_scores()  # mirrored: men now sit near the line
    assert balancing_offset(1 - probabilities, 1 - labels).offset < 0


def test_bad_inputs_are_refused_by_name():
    probabilities, labels = _male_leaning_scores(100)
    with pytest.raises(ValueError, match="100 scores for 99 labels"):
        balancing_offset(probabilities, labels[:99])
    with pytest.raises(ValueError, match="both genders"):
        balancing_offset(probabilities, np.zeros(100, int))


def _faces(n: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 48, 48), dtype=np.uint8)


def test_the_shifted_model_gives_exactly_what_the_choice_assumed():
    model = build_model(ModelConfig(widths=(4, 8)))
    faces = _faces()
    views = view_probabilities(model, faces, views="flip")
    assert views.shape == (2, len(faces))
    np.testing.assert_allclose(predict_proba(model, faces, views="flip"), views.mean(axis=0))

    moved = with_decision_shift(model, 0.7)
    np.testing.assert_allclose(
        predict_proba(moved, faces, views="flip"), shifted(views, 0.7), atol=1e-5
    )
    assert moved.get_layer("pool") is model.get_layer("pool")  # the same network, one layer more


def test_the_decision_point_survives_saving_in_safe_mode(tmp_path):
    model = with_decision_shift(build_model(ModelConfig(widths=(4, 8))), -0.25)
    faces = _faces(8)
    path = save_model(model, tmp_path / "model.keras")

    loaded = load_model(path)

    layer = loaded.get_layer("decision")
    assert isinstance(layer, DecisionShift) and layer.offset == -0.25
    assert layer.get_config()["threshold"] == pytest.approx(1 / (1 + np.exp(-0.25)))
    np.testing.assert_allclose(predict_proba(loaded, faces), predict_proba(model, faces), atol=1e-6)


def test_a_validation_split_of_one_gender_leaves_the_point_at_one_half():
    model = build_model(ModelConfig(widths=(4, 8)))
    moved, balance = balanced_model(model, _faces(), np.ones(64, int))
    assert balance.offset == 0.0 and "one gender" in balance.note
    # Recall for men is undefined with no men; recall for women is still measured.
    assert balance.before["recall_male"] is None and balance.before["recall_female"] is not None
    json.dumps(balance.to_dict())  # recorded in training.json as it is
    np.testing.assert_allclose(
        predict_proba(moved, _faces()), predict_proba(model, _faces()), atol=1e-6
    )


def test_the_saved_layer_reproduces_the_validation_figures_it_was_chosen_for():
    # A model whose scores are nearly tied: the float32 layer must still decide every validation
    # face as the float64 search did, so the offset keeps clear of every face's boundary.
    model = build_model(ModelConfig(widths=(4, 8)))
    faces = _faces(400, seed=3)
    labels = np.random.default_rng(3).integers(0, 2, 400)
    moved, balance = balanced_model(model, faces, labels, views="flip")
    scores = predict_proba(moved, faces, views="flip")
    female, male = recalls(labels, scores)
    assert (female, male) == (balance.after["recall_female"], balance.after["recall_male"])
    assert np.abs(scores - 0.5).min() > 1e-7


def test_a_model_already_moved_is_not_moved_again():
    moved = with_decision_shift(build_model(ModelConfig(widths=(4, 8))), 0.3)
    with pytest.raises(ValueError, match="already has its decision point"):
        with_decision_shift(moved, 0.1)
