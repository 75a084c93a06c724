"""The model's own decision point: where women and men are recognised equally often on validation.

A network trained on UTKFace at the usual 0.5 recognises men more often than women even on
UTKFace's own validation split, and faces from elsewhere widen that gap two to three times
(docs/decisions.md, *The model's own decision point*). So after training, the decision point is
moved to where recall for women equals recall for men on the validation split, and the move
travels inside the saved model as its last layer: every caller keeps reading "female when the
score is at least 0.5", ``facegen predict`` on a bare ``.keras`` file decides as the run's
evaluation did, and the test split and external collections never take part in the choice. The
offset is chosen for the run's test-time views (``config.TEST_TIME_VIEWS``); other views decide
close to, not exactly at, equal recall.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from facegen.evaluation.metrics import confusion_counts, rates_from_counts

_EPSILON = 1e-7  # keeps logit() finite for scores of exactly 0 or 1
_REACH = 20.0  # offsets searched, in logits: far past any score a float32 sigmoid can give


def _logit(p: Any) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPSILON, 1 - _EPSILON)
    return np.log(p) - np.log1p(-p)


def shifted(view_probabilities: Any, offset: float) -> np.ndarray:
    """Each face's score once ``offset`` is added to every view's logit, averaged over views as
    ``modeling.inference.predict_proba`` averages them: exactly what the shifted model gives."""
    logits = _logit(np.atleast_2d(view_probabilities)) + offset
    return (1 / (1 + np.exp(-logits))).mean(axis=0)


def threshold_for(offset: float) -> float:
    """The unshifted single-view score that ``offset`` turns into 0.5: where the network decides."""
    return float(1 / (1 + np.exp(offset)))


def accuracy_and_recalls(labels: np.ndarray, scores: np.ndarray) -> dict[str, float | None]:
    """Accuracy and recall for women and for men at 0.5 (None where a gender is absent), from
    the evaluation's own confusion counts."""
    predicted = (np.asarray(scores) >= 0.5).astype(np.int8)
    rates = rates_from_counts(*confusion_counts(np.asarray(labels), predicted))
    return {
        name: None if np.isnan(rates[name]) else float(rates[name])
        for name in ("accuracy", "recall_female", "recall_male")
    }


@dataclass(frozen=True)
class Balance:
    """The chosen offset and what it did on the validation split it was chosen on."""

    offset: float  # added to the logit; > 0 moves faces towards "female"
    before: dict[str, float | None]
    after: dict[str, float | None]
    note: str = ""  # why the point was not moved, when it was not

    @property
    def threshold(self) -> float:
        """The unshifted score that now decides, for a single view."""
        return threshold_for(self.offset)

    def to_dict(self) -> dict:
        return {
            "offset": self.offset,
            "threshold": self.threshold,
            "validation_before": self.before,
            "validation_after": self.after,
            "note": self.note,
        }


def _edge(holds: Callable[[float], bool], low: float, high: float, iterations: int) -> float:
    """Where a condition that only ever turns from false to true as the offset grows turns."""
    if holds(low):
        return low
    for _ in range(iterations):
        middle = (low + high) / 2
        low, high = (low, middle) if holds(middle) else (middle, high)
    return high


def balancing_offset(view_probabilities: Any, labels: Any, *, iterations: int = 60) -> Balance:
    """The logit offset at which recall for women equals recall for men on these faces.

    ``view_probabilities`` is (views, faces) or (faces,). Recall for women only rises with the
    offset and recall for men only falls, so their difference is a staircase that bisection can
    search. With finitely many faces the two rarely meet exactly: the step with the smaller
    difference is kept, and the offset is the middle of that step, so no validation face sits on
    the boundary where float32 rounding in the saved layer could flip it.
    """
    probabilities = np.atleast_2d(np.asarray(view_probabilities, dtype=np.float64))
    labels = np.asarray(labels).astype(int).reshape(-1)
    if probabilities.shape[1] != len(labels):
        raise ValueError(f"{probabilities.shape[1]} scores for {len(labels)} labels")
    if set(np.unique(labels)) != {0, 1}:
        raise ValueError("balancing needs faces of both genders")

    def difference(offset: float) -> float:
        rates = accuracy_and_recalls(labels, shifted(probabilities, offset))
        return rates["recall_female"] - rates["recall_male"]

    low, high = -_REACH, _REACH
    crossing = _edge(lambda o: difference(o) >= 0, low, high, iterations)
    below = crossing - 1e-9  # on the step before the crossing
    chosen = min((below, crossing), key=lambda o: (abs(difference(o)), abs(o)))
    step = difference(chosen)
    start = _edge(lambda o: difference(o) >= step, low, chosen, iterations)
    end = _edge(lambda o: difference(o) > step, chosen, high, iterations)
    offset = (start + end) / 2
    return Balance(
        offset=float(offset),
        before=accuracy_and_recalls(labels, shifted(probabilities, 0.0)),
        after=accuracy_and_recalls(labels, shifted(probabilities, offset)),
    )


@keras.saving.register_keras_serializable(package="facegen")
class DecisionShift(layers.Layer):
    """Adds a fixed offset to the logit of a probability: the model's decision point, saved with it.

    Not trained. ``threshold`` (in the config, for a reader of the saved file) is the score of the
    unshifted network that the shifted output turns into 0.5.
    """

    def __init__(self, offset: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.offset = float(offset)

    def call(self, probabilities):
        p = ops.clip(probabilities, _EPSILON, 1 - _EPSILON)
        # log(1 - p), not log1p(-p): ONNX has no Log1p, and the model is also saved as ONNX.
        return ops.sigmoid(ops.log(p) - ops.log(1 - p) + self.offset)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        threshold = threshold_for(self.offset)
        return {**super().get_config(), "offset": self.offset, "threshold": threshold}

    @classmethod
    def from_config(cls, config: dict) -> DecisionShift:
        config = dict(config)
        config.pop("threshold", None)
        return cls(**config)


def with_decision_shift(model: keras.Model, offset: float) -> keras.Model:
    """``model`` followed by a ``DecisionShift``: same weights, same input, one score per face."""
    if any(isinstance(layer, DecisionShift) for layer in model.layers):
        raise ValueError(f"model {model.name!r} already has its decision point; shift the network")
    outputs = DecisionShift(offset, dtype="float32", name="decision")(model.output)
    return keras.Model(model.input, outputs, name=model.name)


def balanced_model(
    model: keras.Model, val_images: np.ndarray, val_labels: Any, *, views: str | None = None
) -> tuple[keras.Model, Balance]:
    """``model`` with its decision point moved to equal recall on the validation faces, scored
    with the test-time ``views`` every later prediction uses (None: ``config.TEST_TIME_VIEWS``)."""
    from facegen.modeling.inference import view_probabilities

    probabilities = view_probabilities(model, val_images, views=views)
    labels = np.asarray(val_labels).astype(int).reshape(-1)
    if len(np.unique(labels)) < 2:  # a tiny run's validation split can hold one gender only
        scores = shifted(probabilities, 0.0)
        unmoved = accuracy_and_recalls(labels, scores)
        balance = Balance(
            0.0, unmoved, unmoved, note="left at 0.5: the validation split has one gender"
        )
    else:
        balance = balancing_offset(probabilities, labels)
    return with_decision_shift(model, balance.offset), balance
