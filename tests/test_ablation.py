"""The ablation's bookkeeping: every variant is a valid configuration, results replace by name."""

import math

import pytest

from facegen.modeling import ablation
from facegen.modeling.model import ModelConfig
from facegen.modeling.train import TrainConfig


def test_every_variant_builds_valid_configs_and_one_is_the_default():
    for variant in ablation.VARIANTS:
        ModelConfig(**variant.model)
        TrainConfig(**variant.train)
    defaults = [
        v
        for v in ablation.VARIANTS
        if ModelConfig(**v.model) == ModelConfig() and TrainConfig(**v.train) == TrainConfig()
    ]
    assert len(defaults) == 1 and "default" in defaults[0].name


def test_every_variant_pins_every_setting_so_new_defaults_cannot_change_it():
    # image_size comes from the data unless a resolution row pins it; seed and determinism come
    # from the benchmark's arguments.
    model_fields = set(ModelConfig.__dataclass_fields__) - {"image_size"}
    train_fields = set(TrainConfig.__dataclass_fields__) - {"seed", "deterministic"}
    for variant in ablation.VARIANTS:
        pinned = set(variant.model) - {"image_size"}
        assert pinned == model_fields, (variant.name, model_fields ^ pinned)
        assert set(variant.train) == train_fields, (variant.name, train_fields ^ set(variant.train))


def test_recording_replaces_a_variants_row_and_keeps_the_list_order(tmp_path):
    path = tmp_path / "ablation.csv"
    first, second = ablation.VARIANTS[0].name, ablation.VARIANTS[1].name
    row = {column: None for column in ablation.COLUMNS}
    ablation.record({**row, "variant": second, "val_accuracy": 0.5}, path)
    ablation.record({**row, "variant": first, "val_accuracy": 0.6}, path)
    ablation.record({**row, "variant": second, "val_accuracy": 0.7}, path)
    table = ablation.load_results(path)
    assert table["variant"].tolist() == [first, second]
    assert table["val_accuracy"].tolist() == [0.6, 0.7]


def test_the_committed_results_cover_every_variant():
    table = ablation.load_results()
    assert set(table["variant"]) == {v.name for v in ablation.VARIANTS}
    assert table["val_accuracy"].between(0.5, 1).all()
    assert not any(math.isnan(x) for x in table["train_seconds"])


def test_an_unknown_variant_is_named_in_the_error():
    with pytest.raises(ValueError, match="no ablation variant 'nope'"):
        ablation.variant("nope")


def test_a_variant_that_pins_another_size_trains_on_the_same_faces_at_that_size(
    face_folder, tmp_path
):
    import keras

    from facegen import load_dataset

    dataset = load_dataset(face_folder, progress=False)
    tiny = ablation.Variant(
        "tiny at 32",
        "a smoke check",
        "reference",
        model={"image_size": 32, "widths": (4, 8)},
        train={"epochs": 1, "batch_size": 32},
    )
    row = ablation.run_variant(tiny, dataset, save_to=tmp_path / "tiny.keras")
    assert keras.models.load_model(tmp_path / "tiny.keras").input_shape == (None, 32, 32, 1)
    assert row["variant"] == "tiny at 32" and row["epochs"] == 1
    assert 0 <= row["val_accuracy_flip"] <= 1
