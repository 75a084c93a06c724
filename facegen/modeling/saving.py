"""Save and load models in Keras' native format: atomically, and in safe mode."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from facegen.atomic import atomic_path
from facegen.errors import BadInputError, UsageError

if TYPE_CHECKING:  # Keras is imported on first use: the command line starts without it
    import keras


class ModelLoadError(BadInputError):
    """The model file is damaged or not a facegen model; the message says which."""


class ModelNotFoundError(UsageError, ModelLoadError):
    """No model where one was asked for: a usage error (exit status 2), like a missing data folder,
    and still a ModelLoadError for callers that catch every model problem."""


def load_model(path: str | os.PathLike) -> keras.Model:
    """Load a ``.keras`` model in Keras safe mode: a model file can never run arbitrary code."""
    path = Path(path)
    if not path.exists():
        raise ModelNotFoundError(
            f"{path}: no such model file (train one with `make report` or "
            "`facegen train`, or pass --model)"
        )
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise ModelLoadError(
            f"{path}: not a native Keras .keras model file (damaged or another format)"
        )
    import keras

    # Registers the custom layers (augmentation, decision point), which a saved model names but
    # Keras cannot import.
    import facegen.modeling.augment
    import facegen.modeling.balance  # noqa: F401

    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:
        raise ModelLoadError(f"{path}: could not be loaded as a Keras model ({exc})") from None
    shape = tuple(model.input_shape)
    if len(shape) != 4 or shape[-1] != 1 or tuple(model.output_shape)[-1] != 1:
        raise ModelLoadError(
            f"{path}: expects input {shape} and gives {model.output_shape}; "
            "a facegen model takes (None, size, size, 1) faces and gives one "
            "score"
        )
    return model


def save_model(model: keras.Model, path: str | os.PathLike) -> Path:
    """Save in the native ``.keras`` format, atomically: a crash never leaves half a model."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{path}: models are saved in the native .keras format")
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
    return path
