"""A run's evaluation, computed and written once: what the evaluation notebook shows and what
``facegen train`` writes, from the same call, so their ``metrics.json`` cannot drift apart.

The saved model scores the validation and test splits once each; the test split gets every
metric (``evaluate_predictions``), validation its summary, and both, being out-of-sample, the
label audit (``evaluation.label_audit``). ``metrics.json`` and ``label_audit.csv`` are written
here, atomically, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from facegen.data.dataset import Dataset
from facegen.evaluation.label_audit import LabelAudit
from facegen.runs.run import Run


@dataclass
class RunEvaluation:
    """What the evaluation page shows: the metrics, the test split as scored, and the audit with
    the faces it audited (validation then test, the audit's order)."""

    metrics: dict[str, Any]
    test_images: np.ndarray
    test_rows: pd.DataFrame
    test_labels: np.ndarray
    test_prob: np.ndarray
    audit: LabelAudit
    audit_images: np.ndarray


def evaluate_run(run: Run, dataset: Dataset, model) -> RunEvaluation:
    """Score validation and test with ``model`` (the run's, as saved), evaluate and audit them,
    and write ``metrics.json`` and ``label_audit.csv`` into the run folder."""
    from facegen.evaluation.label_audit import audit_splits
    from facegen.evaluation.metrics import classification_summary
    from facegen.evaluation.summary import evaluate_predictions
    from facegen.modeling.inference import predict_proba

    settings = run.settings
    val_images, val_rows = dataset.part("val")
    val_labels, val_prob = dataset.labels(val_rows), predict_proba(model, val_images)
    test_images, test_rows = dataset.part("test")
    test_labels, test_prob = dataset.labels(test_rows), predict_proba(model, test_images)
    metrics = evaluate_predictions(
        test_rows, test_labels, test_prob, n_boot=settings.n_boot, seed=settings.seed
    )
    metrics["validation"] = classification_summary(val_labels, val_prob)
    audit = audit_splits(
        {"val": (val_rows, val_labels, val_prob), "test": (test_rows, test_labels, test_prob)},
        n_boot=settings.n_boot,
        seed=settings.seed,
    )
    metrics["label_audit"] = audit.summary
    run.write_table("label_audit.csv", audit.table())
    run.write_json("metrics.json", metrics)
    return RunEvaluation(
        metrics, test_images, test_rows, test_labels, test_prob, audit,
        np.concatenate([val_images, test_images]),
    )  # fmt: skip
