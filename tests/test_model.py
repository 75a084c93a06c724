"""The network's options: the ablation-only ones build as described, a wrong one is refused."""

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
