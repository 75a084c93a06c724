"""The ONNX copy of a model: made by every save, equal to the Keras model, never used stale."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from facegen.modeling.export import SOURCE_KEY, file_sha256, onnx_path
from facegen.modeling.inference import OnnxModel, predict_proba, view_probabilities
from facegen.modeling.saving import ModelLoadError, load_classifier, load_model, save_model


@pytest.fixture(scope="module")
def spread_model(tmp_path_factory):
    """A saved model, its decision point moved, whose scores spread over (0, 1): agreement is
    tested across the range and not only near 0.5."""
    import keras

    from facegen.modeling.balance import with_decision_shift
    from facegen.modeling.model import build_model

    keras.utils.set_random_seed(3)
    model = build_model()
    images = faces(256, seed=1)[..., None]
    # Like a trained model's: each normalisation layer's statistics those of its inputs (an
    # untrained one passes activations that shrink towards zero), and the last layer scaled so
    # that the logits spread with a standard deviation of about 2.
    for layer in model.layers:
        if layer.name.startswith("block") and "_bn" in layer.name:
            seen = keras.ops.convert_to_numpy(keras.Model(model.input, layer.input)(images))
            gamma, beta, _, _ = layer.get_weights()
            layer.set_weights([gamma, beta, seen.mean(axis=(0, 1, 2)), seen.var(axis=(0, 1, 2))])
    pooled = keras.Model(model.input, model.get_layer("pool").output)(images)
    pooled = keras.ops.convert_to_numpy(pooled)
    kernel, _ = model.get_layer("p_female").get_weights()
    kernel = kernel * 2 / (pooled @ kernel).std()
    model.get_layer("p_female").set_weights([kernel, -(pooled @ kernel).mean(axis=0)])
    model = with_decision_shift(model, 0.7)
    path = tmp_path_factory.mktemp("export") / "model.keras"
    save_model(model, path)
    return path


def faces(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 48, 48), dtype=np.uint8)


def test_every_saved_model_has_an_onnx_copy_naming_its_source(spread_model):
    copy = onnx_path(spread_model)
    assert copy.exists() and copy.name == "model.onnx"
    model = load_classifier(spread_model)
    assert isinstance(model, OnnxModel)
    assert model.metadata[SOURCE_KEY] == file_sha256(spread_model)
    assert model.input_shape == (None, 48, 48, 1)


@pytest.mark.parametrize("views", ["none", "flip", "flip+shift"])
def test_onnx_and_keras_agree_within_1e5(spread_model, views):
    images = faces(300)
    keras_model, onnx_model = load_model(spread_model), load_classifier(spread_model)
    from_keras = view_probabilities(keras_model, images, views=views, batch_size=128)
    from_onnx = view_probabilities(onnx_model, images, views=views, batch_size=128)
    assert from_keras.shape == from_onnx.shape
    assert from_onnx.min() < 0.1 and from_onnx.max() > 0.9  # the whole range is exercised
    assert np.abs(from_keras - from_onnx).max() < 1e-5
    decided = predict_proba(onnx_model, images, views=views) >= 0.5
    assert np.array_equal(decided, predict_proba(keras_model, images, views=views) >= 0.5)


def test_a_copy_left_beside_a_replaced_model_is_not_used(spread_model, tmp_path):
    import keras

    from facegen.modeling.model import build_model

    folder = tmp_path / "run"
    folder.mkdir()
    shutil.copy(spread_model, folder / "model.keras")
    shutil.copy(onnx_path(spread_model), folder / "model.onnx")
    assert isinstance(load_classifier(folder / "model.keras"), OnnxModel)
    keras.utils.set_random_seed(9)
    build_model().save(folder / "model.keras")  # replaced by hand, without a new copy
    assert isinstance(load_classifier(folder / "model.keras"), keras.Model)


def test_a_damaged_onnx_file_is_named_in_the_error(tmp_path):
    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match=r"model\.onnx: could not be loaded as an ONNX"):
        load_classifier(broken)


def test_a_damaged_copy_does_not_block_the_model_it_copies(spread_model, tmp_path, caplog):
    import keras

    folder = tmp_path / "run"
    folder.mkdir()
    shutil.copy(spread_model, folder / "model.keras")
    (folder / "model.onnx").write_bytes(b"garbage")
    assert isinstance(load_classifier(folder / "model.keras"), keras.Model)
    assert "model.onnx" in caplog.text and "could not be loaded as an ONNX" in caplog.text
