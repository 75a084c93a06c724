"""The network's options: the ablation-only ones build as described, a wrong one is refused."""

import keras
import numpy as np
import pytest

from facegen.modeling.model import ModelConfig, build_model


def test_the_default_model_averages_the_last_maps_and_does_not_standardise():
    model = build_model()
    assert model.get_layer("pool").__class__.__name__ == "GlobalAveragePooling2D"
    assert "standardize" not in [layer.name for layer in model.layers]


def test_the_ablation_only_options_build_a_flatten_head_and_per_face_standardisation():
    model = build_model(ModelConfig(head="flatten", standardize=True))
    assert model.get_layer("pool").__class__.__name__ == "Flatten"
    assert model.get_layer("pool").output.shape[-1] == 3 * 3 * 256
    assert model.get_layer("standardize").__class__.__name__ == "LayerNormalization"
    assert model.output_shape == (None, 1)


def test_an_unknown_head_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown head 'max'"):
        build_model(ModelConfig(head="max"))


def test_residual_blocks_add_the_input_through_a_projection_only_where_the_width_changes():
    config = ModelConfig(widths=(8, 8, 16), convs_per_block=2, residual=True)
    model = build_model(config)
    names = [layer.name for layer in model.layers]
    assert {"block0_add", "block1_add", "block2_add"} <= set(names)
    assert "block0_shortcut" in names and "block2_shortcut" in names  # 1 -> 8, 8 -> 16 channels
    assert "block1_shortcut" not in names  # 8 -> 8: the identity
    # The shortcut is what the block adds: with its convolutions zeroed, block 1 passes its
    # input (after the pooling before it) through the final ReLU unchanged.
    for layer in model.layers:
        if layer.name.startswith("block1_conv"):
            layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    bn = model.get_layer("block1_bn1")
    gamma, beta, mean, var = bn.get_weights()
    bn.set_weights([gamma, np.zeros_like(beta), mean, var])
    probe = keras.Model(
        model.input, [model.get_layer("block0_pool").output, model.get_layer("block1_act1").output]
    )
    faces = np.random.default_rng(0).integers(0, 255, (2, 48, 48, 1), dtype=np.uint8)
    before, after = probe(faces, training=False)
    np.testing.assert_allclose(after, np.maximum(before, 0), atol=1e-5)
