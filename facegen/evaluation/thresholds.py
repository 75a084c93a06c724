"""What a threshold chosen on one half of a collection does on the other: a what-if, not a default.

The model's own decision point (0.5 on its output, moved at training to equal recall on
UTKFace's validation split: ``modeling.balance``) is what every figure uses. Faces from elsewhere
can shift the model's scores so that women are missed more often than men; a threshold chosen on
an external collection's validation half shows how much of that gap is the threshold's and how
much the ranking's. fairlearn's ``ThresholdOptimizer`` chooses it: with one group for every
face, its constraint holds trivially and it maximises balanced accuracy, the mean of the two
recalls.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fairlearn.postprocessing import ThresholdOptimizer
from sklearn.base import BaseEstimator, ClassifierMixin

from facegen.evaluation.input_checks import as_labels, as_probabilities
from facegen.evaluation.metrics import confusion_counts, rates_from_counts


class _Scores(ClassifierMixin, BaseEstimator):
    """The model's probabilities as a fitted estimator: ``X``'s one column is ``p_female``."""

    def fit(self, X: Any, y: Any) -> _Scores:
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        p = np.asarray(X, dtype=float)[:, 0]
        return np.column_stack([1 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        return (np.asarray(X, dtype=float)[:, 0] >= 0.5).astype(int)


def balanced_threshold(y_true: Any, y_prob: Any) -> ThresholdOptimizer:
    """A threshold on ``y_prob`` that maximises balanced accuracy on these faces."""
    labels, probabilities = as_labels(y_true, "y_true"), as_probabilities(y_prob)
    optimizer = ThresholdOptimizer(
        estimator=_Scores().fit(probabilities[:, None], labels),
        constraints="demographic_parity",
        objective="balanced_accuracy_score",
        prefit=True,
        predict_method="predict_proba",
    )
    optimizer.fit(probabilities[:, None], labels, sensitive_features=np.zeros(len(labels)))
    return optimizer


def with_threshold(optimizer: ThresholdOptimizer, y_true: Any, y_prob: Any) -> dict[str, float]:
    """Accuracy and recall per gender when ``optimizer`` decides instead of 0.5 (seeded)."""
    labels, probabilities = as_labels(y_true, "y_true"), as_probabilities(y_prob)
    predictions = optimizer.predict(
        probabilities[:, None], sensitive_features=np.zeros(len(labels)), random_state=0
    )
    rates = rates_from_counts(*confusion_counts(labels, np.asarray(predictions)))
    return {name: float(rates[name]) for name in ("accuracy", "recall_female", "recall_male",
                                                    "recall_gap")}  # fmt: skip
