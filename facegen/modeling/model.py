"""The convolutional network and its augmentation, built with Keras.

Augmentation lives inside the model as a layer (``facegen.modeling.augment``): it runs only in
training and passes faces through untouched at inference, it travels with the saved ``.keras``
file, and prediction needs nothing but the uint8 48x48 face that
``facegen.features.preprocess_face`` makes.
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
    # Five blocks, pooling after each but the last (48 -> 24 -> 12 -> 6 -> 3): channels grow
    # where the maps are small, so capacity is cheap. The 48x48 block has only 8 channels: at
    # full resolution it costs far more per channel than it gives, and 8 instead of 16 trains
    # about 20% faster, time spent on 12 epochs instead of 10. Regularisation is light because
    # in this budget the model underfits (training accuracy trailed validation accuracy):
    # halving dropout and augmentation raised validation accuracy from 0.907 to 0.911. Every
    # variant tried is in the ablation table (facegen.modeling.ablation).
    widths: tuple[int, ...] = (8, 32, 64, 128, 256)
    convs_per_block: int = 1
    stem_stride: int = 1  # 2: the first convolution halves the input (48 -> 24) at once
    activation: str = "relu"  # any Keras activation name, e.g. "silu"
    # "gap": global average pooling of the last maps; "flatten": every position of the last
    # 3x3 map keeps its own weights, so the head knows where on the aligned face a feature is.
    head: str = "gap"
    # Scale each face to zero mean and unit variance, so lighting and contrast vary less.
    standardize: bool = False
    # A shortcut around each block's convolutions (ResNet's basic block: the block's input,
    # through a 1x1 convolution where the width changes, is added before the last activation).
    residual: bool = False
    dropout: float = 0.1
    rotation: float = 0.02  # fraction of a full turn: 0.02 is about 7 degrees either way
    zoom: float = 0.05
    shift: float = 0.04
    flip: bool = True
    # One combined transform (facegen.modeling.augment) instead of Keras' three chained layers,
    # which resample, and so blur, each face three times.
    single_resample: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


def augmentation(config: ModelConfig) -> keras.Layer:
    """Rotation, flipping, scaling and shifting: the variation a face crop has in the wild."""
    if config.single_resample:
        return FaceAugmentation(
            config.rotation, config.zoom, config.shift, config.flip, name="augmentation"
        )
    steps = [layers.RandomFlip("horizontal")] if config.flip else []
    steps += [
        layers.RandomRotation(config.rotation, fill_mode="reflect"),
        layers.RandomZoom(config.zoom, fill_mode="reflect"),
        layers.RandomTranslation(config.shift, config.shift, fill_mode="reflect"),
    ]
    return keras.Sequential(steps, name="augmentation")


def build_model(config: ModelConfig | None = None) -> keras.Model:
    """Conv-BN-activation blocks, max pooling, global average pooling, dropout, one sigmoid unit.

    The output is the probability that the face is labelled female (UTKFace gender 1). The final
    layer computes in float32 so mixed precision on a GPU leaves the probabilities exact enough.
    """
    config = config or ModelConfig()
    inputs = keras.Input((config.image_size, config.image_size, 1), name="face", dtype="uint8")
    x = layers.Rescaling(1 / 255, name="scale")(inputs)
    x = augmentation(config)(x)
    if config.standardize:
        x = layers.LayerNormalization(
            axis=(1, 2, 3), center=False, scale=False, name="standardize"
        )(x)
    for block, width in enumerate(config.widths):
        block_input = x
        for conv in range(config.convs_per_block):
            strides = config.stem_stride if block == conv == 0 else 1
            x = layers.Conv2D(
                width,
                3,
                strides=strides,
                padding="same",
                use_bias=False,
                name=f"block{block}_conv{conv}",
            )(x)
            x = layers.BatchNormalization(name=f"block{block}_bn{conv}")(x)
            if config.residual and conv == config.convs_per_block - 1:
                x = layers.Add(name=f"block{block}_add")([x, _shortcut(block_input, x, block)])
            x = layers.Activation(config.activation, name=f"block{block}_act{conv}")(x)
        if block < len(config.widths) - 1:
            x = layers.MaxPooling2D(name=f"block{block}_pool")(x)
    if config.head == "flatten":
        x = layers.Flatten(name="pool")(x)
    elif config.head == "gap":
        x = layers.GlobalAveragePooling2D(name="pool")(x)
    else:
        raise ValueError(f"unknown head {config.head!r}: 'gap' or 'flatten'")
    x = layers.Dropout(config.dropout, name="dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", dtype="float32", name="p_female")(x)
    return keras.Model(inputs, outputs, name="facegen_cnn")


def _shortcut(block_input, block_output, block: int):
    """The block's input, matched to its output's width and size by a strided 1x1 convolution."""
    stride = block_input.shape[1] // block_output.shape[1]
    if block_input.shape[-1] == block_output.shape[-1] and stride == 1:
        return block_input
    x = layers.Conv2D(
        block_output.shape[-1],
        1,
        strides=stride,
        use_bias=False,
        name=f"block{block}_shortcut",
    )(block_input)
    return layers.BatchNormalization(name=f"block{block}_shortcut_bn")(x)


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
