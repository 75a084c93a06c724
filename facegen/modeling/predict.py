"""Use a trained model: load it safely and classify preprocessed faces in batches."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from facegen import config

if TYPE_CHECKING:
    import keras


class ModelLoadError(RuntimeError):
    """The model file is missing, damaged or not a facegen model; the message says which."""


def load_model(path: str | os.PathLike) -> keras.Model:
    """Load a ``.keras`` model in Keras safe mode: a model file can never run arbitrary code."""
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(
            f"{path}: no such model file (train one with `make report` or "
            "`facegen train`, or pass --model)"
        )
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise ModelLoadError(
            f"{path}: not a native Keras .keras model file (damaged or another format)"
        )
    import keras

    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:
        raise ModelLoadError(f"{path}: could not be loaded as a Keras model ({exc})") from None
    shape = tuple(model.input_shape)
    if len(shape) != 4 or shape[-1] != 1 or tuple(model.output_shape)[-1] != 1:
        raise ModelLoadError(
            f"{path}: expects input {shape} and gives {model.output_shape}; "
            "a facegen model takes (None, size, size, 1) faces and gives one "
            "probability"
        )
    return model


def predict_proba(
    model: keras.Model,
    images: np.ndarray,
    *,
    batch_size: int = 512,
    flip_average: bool | None = None,
) -> np.ndarray:
    """Probability that each face is labelled female; ``images`` are uint8 (N, size, size).

    ``flip_average`` averages each face with its mirror image (test-time augmentation): faces
    are left-right symmetric, so the two views are equally valid and their mean is steadier.
    None means ``config.FLIP_AVERAGE``, the project's one setting for it.
    """
    if flip_average is None:
        flip_average = config.FLIP_AVERAGE
    if len(images) == 0:
        return np.zeros(0, np.float32)
    batch = images[..., None] if images.ndim == 3 else images
    probabilities = model.predict(batch, batch_size=batch_size, verbose=0).reshape(-1)
    if flip_average:
        mirrored = model.predict(batch[:, :, ::-1], batch_size=batch_size, verbose=0)
        probabilities = (probabilities + mirrored.reshape(-1)) / 2
    return probabilities.astype(np.float32)
