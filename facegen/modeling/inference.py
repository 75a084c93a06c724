"""Probabilities from faces: the forward pass, averaged over the test-time views.

Every caller classifies through ``view_probabilities``, with either model: the ONNX copy that
every saved model has (``OnnxModel``, on onnxruntime, no TensorFlow), which the evaluation pages,
``facegen predict`` and ``facegen evaluate`` use, or the Keras model itself, which training uses
before anything is saved. The two agree to well within 1e-5 (tests/test_export.py).
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Union

import numpy as np

from facegen import config
from facegen.errors import BadInputError

if TYPE_CHECKING:
    import keras


class OnnxModel:
    """A facegen model exported to ONNX (``modeling.export``), run by onnxruntime.

    Offers what callers read of a Keras model (``input_shape``) and is called on a uint8 batch
    (N, size, size, 1), giving (N, 1) scores, as the Keras model is.
    """

    def __init__(self, data: bytes, source: str, *, threads: int | None = None) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        if threads is not None:  # else one per core, which spin between calls
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            data, options, providers=["CPUExecutionProvider"]
        )
        (face,) = self._session.get_inputs()
        self._input = face.name
        self.source = source
        self.input_shape = (None, *face.shape[1:])
        self.output_shape = (None, *self._session.get_outputs()[0].shape[1:])
        self.metadata = dict(self._session.get_modelmeta().custom_metadata_map)

    def __call__(self, faces: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input: faces})[0]


Classifier = Union[OnnxModel, "keras.Model"]

_INFERENCE = weakref.WeakKeyDictionary()


def _inference_function(model: Classifier):
    """The model's forward pass, made once per model.

    An ``OnnxModel`` is its own forward pass. For a Keras model, one traced TensorFlow function:
    ``model.predict`` rebuilds a data pipeline and steps through Keras' loop on every call. The
    shape is fixed at (any, size, size, 1) so the last, smaller batch does not trigger a new
    trace.
    """
    if isinstance(model, OnnxModel):
        return model
    import tensorflow as tf

    function = _INFERENCE.get(model)
    if function is None:
        spec = tf.TensorSpec((None, *model.input_shape[1:]), model.inputs[0].dtype)
        function = tf.function(lambda x: model(x, training=False), input_signature=[spec])
        _INFERENCE[model] = function
    return function


def _shifted(faces: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Faces moved by whole pixels (``dy`` down, ``dx`` right); the uncovered edge is filled by
    reflection about the border, as the training augmentation fills it."""
    pad = max(abs(dy), abs(dx))
    padded = np.pad(faces, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="symmetric")
    height, width = faces.shape[1:3]
    top, left = pad - dy, pad - dx
    return padded[:, top : top + height, left : left + width]


def _views(faces: np.ndarray, kind: str) -> Iterator[np.ndarray]:
    mirrored = faces[:, :, ::-1]
    yield faces
    if kind == "none":
        return
    yield mirrored
    if kind == "flip":
        return
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        yield _shifted(faces, dy, dx)
        yield _shifted(mirrored, dy, dx)


def run_views(training: dict) -> str | None:
    """The test-time views a run was evaluated with, from its ``training.json`` contents (None
    when it records none). Runs from before the shifted views record only whether they
    flip-averaged."""
    if training.get("test_time_views") in config.VIEW_SETS:
        return training["test_time_views"]
    if "flip_average" in training:
        return "flip" if training["flip_average"] else "none"
    return None


def recorded_views(model_path: str | os.PathLike) -> str | None:
    """The views of the run that made this model (None for a model outside a run folder):
    predicting with them keeps ``facegen predict`` what the run's evaluation measured."""
    path = Path(model_path).with_name("training.json")
    if not path.exists():
        return None
    try:
        training = json.loads(path.read_text())
        problem = None if isinstance(training, dict) else "not a JSON object"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problem = str(exc)
    if problem:
        raise BadInputError(
            f"{path}: cannot read the run's test-time views ({problem}); "
            "pass --views to choose them"
        )
    return run_views(training)


def view_probabilities(
    model: Classifier,
    images: np.ndarray,
    *,
    batch_size: int = 1024,
    views: str | None = None,
) -> np.ndarray:
    """Each view's probability that each face is labelled female, as (views, N) float32: what
    ``predict_proba`` averages, and what ``modeling.balance`` needs to choose the decision point
    exactly as prediction will apply it."""
    views = config.TEST_TIME_VIEWS if views is None else views
    if views not in config.VIEW_SETS:
        choices = ", ".join(config.VIEW_SETS)
        raise ValueError(f"unknown test-time views {views!r}; choose one of {choices}")
    if len(images) == 0:
        return np.zeros((1, 0), np.float32)
    batch = images[..., None] if images.ndim == 3 else images
    forward = _inference_function(model)

    def run(faces: np.ndarray) -> np.ndarray:
        return np.concatenate(
            [
                np.asarray(forward(np.ascontiguousarray(faces[i : i + batch_size]))).reshape(-1)
                for i in range(0, len(faces), batch_size)
            ]
        )

    return np.stack([run(view) for view in _views(batch, views)]).astype(np.float32)


def predict_proba(
    model: Classifier,
    images: np.ndarray,
    *,
    batch_size: int = 1024,
    views: str | None = None,
) -> np.ndarray:
    """Probability that each face is labelled female; ``images`` are uint8 (N, size, size).

    ``views`` (one of ``config.VIEW_SETS``) is the test-time augmentation: the probabilities of a
    face's views are averaged, since a face is as valid mirrored or a pixel off and the mean is
    steadier than any one view. None means ``config.TEST_TIME_VIEWS``.
    """
    probabilities = view_probabilities(model, images, batch_size=batch_size, views=views)
    return probabilities.mean(axis=0).astype(np.float32)
