"""Save and load models: Keras' native format, atomically and in safe mode, with an ONNX copy.

``save_model`` writes the ``.keras`` file and its ONNX copy (``modeling.export``);
``load_classifier`` is what everything that classifies loads, the copy when it is that model's,
so that classifying starts without TensorFlow.
"""

from __future__ import annotations

import logging
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from facegen.atomic import atomic_path
from facegen.errors import BadInputError, UsageError

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # Keras is imported on first use: the command line starts without it
    import keras

    from facegen.modeling.inference import Classifier, OnnxModel


class ModelLoadError(BadInputError):
    """The model file is damaged or not a facegen model; the message says which."""


class ModelNotFoundError(UsageError, ModelLoadError):
    """No model where one was asked for: a usage error (exit status 2), like a missing data folder,
    and still a ModelLoadError for callers that catch every model problem."""


def require_model_file(path: str | os.PathLike) -> Path:
    """``path``, or the one message every loader gives for a model that is not there."""
    path = Path(path)
    if not path.exists():
        raise ModelNotFoundError(
            f"{path}: no such model file (train one with `make report` or "
            "`facegen train`, or pass --model)"
        )
    return path


def load_model(path: str | os.PathLike) -> keras.Model:
    """Load a ``.keras`` model in Keras safe mode: a model file can never run arbitrary code."""
    path = require_model_file(path)
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
    """Save in the native ``.keras`` format and beside it as ONNX, each atomically: a crash never
    leaves half a model, and a copy from before names another file's hash, so it is not used."""
    from facegen.modeling.export import export_onnx

    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{path}: models are saved in the native .keras format")
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
    export_onnx(model, path)
    return path


def load_onnx(path: str | os.PathLike, *, threads: int | None = None) -> OnnxModel:
    """An ONNX model written by ``save_model``, ready for ``modeling.inference``.

    ``threads``: onnxruntime's threads for it (None: one per core). A process that is one of
    several workers takes 1: idle threads spin after each call and burn the other workers' CPU.
    """
    from facegen.modeling.inference import OnnxModel

    path = require_model_file(path)
    try:
        model = OnnxModel(path.read_bytes(), str(path), threads=threads)
    except Exception as exc:
        raise ModelLoadError(f"{path}: could not be loaded as an ONNX model ({exc})") from None
    shape = model.input_shape
    if len(shape) != 4 or shape[-1] != 1 or model.output_shape[-1] != 1:
        raise ModelLoadError(
            f"{path}: expects input {shape} and gives {model.output_shape}; a facegen model "
            "takes (None, size, size, 1) faces and gives one score"
        )
    return model


def current_copy(path: str | os.PathLike) -> OnnxModel | None:
    """A ``.keras`` model's ONNX copy, loaded, when it was made from this very file (checked by
    hash); None when there is none, it is stale, or it is damaged (with a warning: a damaged
    copy must not block the model it copies)."""
    from facegen.modeling.export import SOURCE_KEY, file_sha256, onnx_path

    path = Path(path)
    copy = onnx_path(path)
    if path.suffix != ".keras" or not path.exists() or not copy.exists():
        return None
    try:
        model = load_onnx(copy)
    except ModelLoadError as exc:
        log.warning("Not using %s: %s", copy, exc)
        return None
    return model if model.metadata.get(SOURCE_KEY) == file_sha256(path) else None


def load_classifier(path: str | os.PathLike) -> Classifier:
    """The model to classify with: an ``.onnx`` file as it is; for a ``.keras`` file, its
    ``current_copy``, else the Keras model itself (a model saved before copies were made),
    which starts TensorFlow."""
    path = Path(path)
    if path.suffix == ".onnx":
        return load_onnx(path)
    return current_copy(path) or load_model(path)
