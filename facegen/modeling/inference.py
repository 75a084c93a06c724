"""Probabilities from faces: the forward pass, averaged over the test-time views."""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from facegen import config
from facegen.errors import BadInputError

if TYPE_CHECKING:
    import keras


_INFERENCE = weakref.WeakKeyDictionary()


def _inference_function(model: keras.Model):
    """The model's forward pass as one traced TensorFlow function, made once per model.

    ``model.predict`` rebuilds a data pipeline and steps through Keras' loop on every call, which
    costs speed (measured: docs/decisions.md). The shape is fixed at (any, size, size, 1) so the
    last, smaller batch does not trigger a new trace.
    """
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
    model: keras.Model,
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
    model: keras.Model,
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
