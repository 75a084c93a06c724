"""The network: five conv-BN-ReLU blocks, global average pooling, one sigmoid unit."""

import numpy as np

from facegen.modeling.model import ModelConfig, build_model


def test_the_model_pools_five_blocks_into_one_probability():
    model = build_model()
    names = [layer.name for layer in model.layers]
    assert [n for n in names if n.endswith("_conv0")] == [f"block{b}_conv0" for b in range(5)]
    assert [n for n in names if n.endswith("_pool")] == [f"block{b}_pool" for b in range(4)]
    assert model.get_layer("pool").__class__.__name__ == "GlobalAveragePooling2D"
    assert model.get_layer("pool").output.shape[-1] == ModelConfig().widths[-1]
    faces = np.random.default_rng(0).integers(0, 256, (3, 48, 48, 1), dtype=np.uint8)
    probabilities = np.asarray(model(faces, training=False))
    assert probabilities.shape == (3, 1)
    assert ((probabilities > 0) & (probabilities < 1)).all()


def test_the_widths_and_input_size_are_the_configurations():
    model = build_model(ModelConfig(image_size=32, widths=(4, 8)))
    assert model.input_shape == (None, 32, 32, 1)
    assert model.get_layer("block1_conv0").filters == 8
