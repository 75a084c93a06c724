"""Test-time views: which views a face gets, that shifts move it the right way, and the mean."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from facegen.config import VIEW_SETS
from facegen.modeling.inference import _shifted, predict_proba


@pytest.fixture(scope="module")
def linear_model() -> keras.Model:
    """sigmoid(w . pixels): every pixel position has its own weight, so any view that moves or
    mirrors the face changes the output, and the expected mean can be computed by hand."""
    inputs = keras.Input((6, 6, 1), dtype="uint8")
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    weights = np.random.default_rng(0).normal(size=(36, 1)).astype("float32")
    model.layers[-1].set_weights([weights, np.zeros(1, "float32")])
    return model


def _by_hand(model: keras.Model, views: list[np.ndarray]) -> np.ndarray:
    weights, bias = model.layers[-1].get_weights()
    flat = [v.reshape(len(v), -1).astype("float64") / 255 for v in views]
    logits = [f @ weights[:, 0] + bias[0] for f in flat]
    return np.mean([1 / (1 + np.exp(-z)) for z in logits], axis=0)


def test_a_shift_moves_the_face_one_pixel_and_reflects_the_edge():
    face = np.arange(36, dtype=np.uint8).reshape(1, 6, 6, 1)
    right = _shifted(face, 0, 1)
    assert np.array_equal(right[:, :, 1:], face[:, :, :-1])
    assert np.array_equal(right[:, :, 0], face[:, :, 0])  # mirrored about the border
    down = _shifted(face, 1, 0)
    assert np.array_equal(down[:, 1:], face[:, :-1])
    up = _shifted(face, -1, 0)
    assert np.array_equal(up[:, :-1], face[:, 1:]) and np.array_equal(up[:, -1], face[:, -1])
    left = _shifted(face, 0, -1)
    assert np.array_equal(left[:, :, :-1], face[:, :, 1:])
    assert np.array_equal(left[:, :, -1], face[:, :, -1])


@pytest.mark.parametrize(("dy", "dx"), [(0, 1), (0, -1), (1, 0), (-1, 0)])
def test_a_shift_fills_the_edge_as_the_training_augmentation_does(dy, dx):
    face = np.random.default_rng(3).integers(0, 256, (1, 8, 8, 1)).astype("float32")
    # keras' affine transform maps each output pixel (x, y) to the input pixel (x - dx, y - dy).
    transform = np.array([[1, 0, -dx, 0, 1, -dy, 0, 0]], "float32")
    keras_shift = keras.ops.image.affine_transform(
        face, transform, interpolation="nearest", fill_mode="reflect"
    )
    assert np.array_equal(_shifted(face, dy, dx), keras.ops.convert_to_numpy(keras_shift))


@pytest.mark.parametrize("views", VIEW_SETS)
def test_each_view_set_averages_exactly_its_views(linear_model, views):
    faces = np.random.default_rng(1).integers(0, 256, (5, 6, 6), dtype=np.uint8)
    plain = faces[..., None]
    mirrored = plain[:, :, ::-1]
    expected_views = {
        "none": [plain],
        "flip": [plain, mirrored],
        "flip+shift": [plain, mirrored]
        + [_shifted(f, dy, dx) for f in (plain, mirrored)
           for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0))],
    }[views]  # fmt: skip
    got = predict_proba(linear_model, faces, views=views)
    assert got == pytest.approx(_by_hand(linear_model, expected_views), abs=1e-5)


def test_the_view_sets_give_different_probabilities(linear_model):
    faces = np.random.default_rng(2).integers(0, 256, (5, 6, 6), dtype=np.uint8)
    results = [predict_proba(linear_model, faces, views=v) for v in VIEW_SETS]
    assert not np.allclose(results[0], results[1]) and not np.allclose(results[1], results[2])


def test_an_unknown_view_set_is_refused_with_the_choices(linear_model):
    with pytest.raises(ValueError, match="flip\\+shift"):
        predict_proba(linear_model, np.zeros((1, 6, 6), np.uint8), views="rotate")


def test_the_model_card_names_the_views_of_new_and_old_runs():
    from facegen.reporting.model_card import _views_sentence

    assert "ten times" in _views_sentence({"test_time_views": "flip+shift"})
    assert "mirror image" in _views_sentence({"flip_average": True})
    assert _views_sentence({"flip_average": False}) == ""
    assert _views_sentence({}) == ""
