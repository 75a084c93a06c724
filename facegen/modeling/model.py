"""The convolutional network and its augmentation, built with Keras.

Augmentation lives inside the model as a layer (``facegen.modeling.augment``): it runs only in
training and passes faces through untouched at inference, it travels with the saved ``.keras``
file (and is left out of its ONNX copy), and prediction needs nothing but the uint8 48x48 face,
lighting evened, that ``facegen.faces.preprocess.model_input`` makes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import keras
import numpy as np
from keras import layers

from facegen.modeling.augment import FaceAugmentation


@dataclass(frozen=True)
class ModelConfig:
    """Architecture knobs; the defaults are what ``make report`` trains."""

    image_size: int = 48
    # Five blocks, pooling after each but the last (48 -> 24 -> 12 -> 6 -> 3); channels grow where
    # the maps are small. Light regularisation: in this budget the model underfits. The ablation
    # behind each default: docs/decisions.md.
    widths: tuple[int, ...] = (8, 32, 64, 128, 256)
    dropout: float = 0.1
    rotation: float = 0.02  # fraction of a full turn: 0.02 is about 7 degrees either way
    zoom: float = 0.05
    shift: float = 0.04
    flip: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


def augmentation(config: ModelConfig) -> keras.Layer:
    """Rotation, flipping, scaling and shifting as one transform, so each face is resampled once."""
    return FaceAugmentation(
        config.rotation,
        config.zoom,
        config.shift,
        config.flip,
        name="augmentation",
    )


def build_model(config: ModelConfig | None = None) -> keras.Model:
    """Conv-BN-activation blocks, max pooling, global average pooling, dropout, one sigmoid unit.

    The output is the probability that the face is labelled female (UTKFace gender 1). The final
    layer computes in float32 so mixed precision on a GPU leaves the probabilities exact enough.
    """
    config = config or ModelConfig()
    inputs = keras.Input((config.image_size, config.image_size, 1), name="face", dtype="uint8")
    x = layers.Rescaling(1 / 255, name="scale")(inputs)
    x = augmentation(config)(x)
    for block, width in enumerate(config.widths):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"block{block}_conv0")(x)
        x = layers.BatchNormalization(name=f"block{block}_bn0")(x)
        x = layers.Activation("relu", name=f"block{block}_act0")(x)
        if block < len(config.widths) - 1:
            x = layers.MaxPooling2D(name=f"block{block}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(config.dropout, name="dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", dtype="float32", name="p_female")(x)
    return keras.Model(inputs, outputs, name="facegen_cnn")


def augmentation_examples(
    faces: np.ndarray, config: ModelConfig | None = None, *, copies: int = 7, seed: int = 0
) -> np.ndarray:
    """Each face followed by ``copies`` random augmentations of it, as uint8 (N*(copies+1), H, W).

    Runs the model's own augmentation layers in training mode, so the preview shows exactly
    the variation training sees.
    """
    config = config or ModelConfig(image_size=faces.shape[1])
    keras.utils.set_random_seed(seed)
    layer = augmentation(config)
    batch = faces[..., None].astype("float32")
    rows = []
    for face, variants in zip(
        faces,
        np.stack(
            [keras.ops.convert_to_numpy(layer(batch, training=True)) for _ in range(copies)], axis=1
        ),
        strict=True,
    ):
        rows.append(face)
        rows.extend(np.clip(variants[..., 0], 0, 255).astype(np.uint8))
    return np.stack(rows)
