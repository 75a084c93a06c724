"""The ablation's bookkeeping: every variant is a valid configuration, results replace by name."""

import math
import sys

import pytest

from facegen import config
from facegen.modeling.model import ModelConfig
from facegen.modeling.train import TrainConfig
from facegen.reporting import ablation_table

sys.path.insert(0, str(config.PROJECT_ROOT / "benchmarks"))
import ablation_variants as ablation


def _trainable(variant):
    try:
        return ablation.current_settings(variant)
    except ValueError:
        return None


def test_every_variant_builds_valid_configs_or_names_the_commit_that_can():
    defaults = []
    for variant in ablation.VARIANTS:
        settings = _trainable(variant)
        if settings is None:
            with pytest.raises(ValueError, match=ablation.REMOVED_OPTIONS_COMMIT):
                ablation.current_settings(variant)
            continue
        model, train = ModelConfig(**settings[0]), TrainConfig(**settings[1])
        if model == ModelConfig() and train == TrainConfig():
            defaults.append(variant)
    assert len(defaults) == 1 and "default" in defaults[0].name


def test_rejected_options_left_the_model_code():
    removed = {"head", "residual", "standardize", "convs_per_block", "single_resample"}
    assert not removed & set(ModelConfig.__dataclass_fields__)
    assert not {"label_smoothing", "ema_momentum"} & set(TrainConfig.__dataclass_fields__)
    trainable = [v.name for v in ablation.VARIANTS if _trainable(v) is not None]
    assert "flatten head" not in trainable and "24 epochs (headroom check)" in trainable


def test_every_variant_pins_every_setting_so_new_defaults_cannot_change_it():
    # image_size comes from the data unless a resolution row pins it; seed and determinism come
    # from the benchmark's arguments.
    model_fields = set(ModelConfig.__dataclass_fields__) - {"image_size"}
    train_fields = set(TrainConfig.__dataclass_fields__) - {"seed", "deterministic"}
    for variant in ablation.VARIANTS:
        pinned = set(variant.model) - {"image_size"}
        assert model_fields <= pinned, (variant.name, model_fields - pinned)
        assert train_fields <= set(variant.train), (variant.name, train_fields - set(variant.train))


def test_recording_replaces_a_variants_row_and_keeps_the_list_order(tmp_path):
    path = tmp_path / "ablation.csv"
    first, second = ablation.VARIANTS[0].name, ablation.VARIANTS[1].name
    row = {column: None for column in ablation_table.COLUMNS}
    ablation.record({**row, "variant": second, "val_accuracy": 0.5}, path)
    ablation.record({**row, "variant": first, "val_accuracy": 0.6}, path)
    ablation.record({**row, "variant": second, "val_accuracy": 0.7}, path)
    table = ablation_table.load_results(path)
    assert table["variant"].tolist() == [first, second]
    assert table["val_accuracy"].tolist() == [0.6, 0.7]


def test_the_committed_results_cover_every_variant():
    table = ablation_table.load_results()
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
