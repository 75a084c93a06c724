"""The trained model as ONNX, so that classifying needs onnxruntime and not TensorFlow.

Training stays in Keras; everything that classifies (the evaluation pages, ``facegen predict``,
``facegen evaluate``) runs the exported copy through ``modeling.inference``, so a prediction
costs no TensorFlow start-up and every caller computes the same numbers. The copy names the
SHA-256 of the ``.keras`` file it was made from: a copy left beside a model that was later
replaced is recognised as stale and never used for it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from facegen.atomic import atomic_write_bytes
from facegen.quiet import captured_stderr

if TYPE_CHECKING:
    import keras

SOURCE_KEY = "facegen.keras_sha256"
"""The ONNX metadata entry holding the SHA-256 of the ``.keras`` file it was exported from."""
OPSET = 17
INPUT_NAME = "face"


def onnx_path(model_path: str | os.PathLike) -> Path:
    """Where a ``.keras`` model's ONNX copy lives: beside it, same name, ``.onnx``."""
    return Path(model_path).with_suffix(".onnx")


def file_sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def export_onnx(model: keras.Model, model_path: str | os.PathLike) -> Path:
    """Write ``model`` (saved at ``model_path``) as ONNX beside it, atomically; return the path.

    The graph is traced in inference mode (augmentation and dropout pass faces through) with a
    free batch dimension and the model's own uint8 input, so the copy takes exactly what the
    Keras model takes.
    """
    import tensorflow as tf
    import tf2onnx

    shape = (None, *model.input_shape[1:])
    signature = (tf.TensorSpec(shape, tf.uint8, name=INPUT_NAME),)
    forward = tf.function(lambda faces: model(faces, training=False))
    tf2onnx.logging.set_level(tf2onnx.logging.ERROR)
    with captured_stderr():  # TensorFlow's graph optimiser announces each session it starts
        proto, _ = tf2onnx.convert.from_function(forward, input_signature=signature, opset=OPSET)
    entry = proto.metadata_props.add()
    entry.key, entry.value = SOURCE_KEY, file_sha256(model_path)
    target = onnx_path(model_path)
    atomic_write_bytes(target, proto.SerializeToString())
    return target
