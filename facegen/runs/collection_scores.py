"""Score a model on a face collection that is not UTKFace, with the test split's own tables.

Every face takes the one path for faces from anywhere (``faces.framing``: detect, align to
UTKFace's frame, preprocess), then the same ``evaluate_predictions`` as UTKFace's test split, so
the two are read side by side. Files that cannot be used are counted with their reason; a face
whose landmarks are not found is classified whole and counted as such.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from facegen import config
from facegen.data.external import (
    Collection,
    CollectionError,
    external_halves,
    not_usable,
    read_collection,
)
from facegen.evaluation.label_audit import LabelAudit, audit_splits
from facegen.evaluation.summary import evaluate_predictions
from facegen.faces.batch import frame_files
from facegen.faces.framing import Framing
from facegen.reporting.tables import comparison_table, with_interval
from facegen.reporting.templates import estimate


@dataclass
class CollectionScore:
    """One collection, one half: per-face rows, the evaluation, and what could not be scored."""

    collection: Collection
    half: str
    rows: pd.DataFrame  # usable faces: labels, framing, p_female
    images: np.ndarray  # the model's input for each row, uint8 (n, size, size)
    metrics: dict[str, Any]
    coverage: dict[str, Any]

    def headline(self) -> dict[str, Any]:
        """The few figures the index and model card show, named ``external_*``."""
        head = self.metrics["headline"]
        out = {"external_collection": f"{self.collection.name} ({self.half})"}
        for key in ("test_accuracy", "test_accuracy_low", "test_accuracy_high"):
            out[key.replace("test_", "external_")] = head[key]
        for key in ("recall_female", "recall_male", "recall_gap"):
            for suffix in ("", "_low", "_high"):
                out[f"external_{key}{suffix}"] = head[f"{key}{suffix}"]
        out["external_aligned_share"] = self.coverage["aligned_share"]
        out["external_n"] = head["n_test"]
        return out

    def summary_text(self) -> str:
        """What a terminal user reads: accuracy, recall per gender, coverage, each group."""
        head, cover = self.metrics["headline"], self.coverage
        lines = [
            f"{self.collection.name} ({self.half} half): {cover['scored']:,} faces scored, "
            f"{cover['aligned']:,} aligned, {cover['whole_image']:,} whole image (no face found), "
            f"{cover['unreadable']:,} unreadable",
            f"  accuracy       {with_interval(head, 'test_accuracy')}",
            f"  recall, women  {with_interval(head, 'recall_female')}",
            f"  recall, men    {with_interval(head, 'recall_male')}",
            f"  gap (men - women) {with_interval(head, 'recall_gap')}",
        ]
        for name in ("ethnicity", "age_band"):
            table = self.metrics["subgroups"][name]
            lines.append(f"  by {name.replace('_', ' ')}:")
            lines += [
                f"    {row[name]!s:<18} "
                f"{estimate(row['accuracy'], row['accuracy_low'], row['accuracy_high'])}  "
                f"n={int(row['n']):,}"
                for _, row in table.iterrows()
            ]
        return "\n".join(lines) + "\n"


def score_collection(
    model,
    collection: Collection | str | os.PathLike,
    *,
    half: str = "test",
    size: int = config.IMAGE_SIZE,
    n_boot: int = 1000,
    seed: int = config.SEED,
    views: str | None = None,
    max_faces: int | None = None,
    progress: bool = False,
    ray_model: str | os.PathLike | None = None,
    ray_parts: str | os.PathLike | None = None,
    verbose: bool = False,
) -> CollectionScore:
    """Frame, classify and evaluate one half of a collection (``config.EXTERNAL_HALVES``).

    ``max_faces`` takes a seeded sample of the half (a quick run's profile); None keeps it all.
    ``ray_model``: frame and classify on Ray's actors with this model file (``evaluate --ray``,
    ``predict.on_ray.frame_and_classify``) instead of here; the evaluation is the same.
    ``ray_parts``: the folder that job keeps its finished chunks in, so that run again after an
    interruption it goes on where it stopped (None: nothing kept).
    """
    from facegen.modeling.inference import predict_proba

    if half not in config.EXTERNAL_HALVES:
        raise ValueError(f"half must be one of {config.EXTERNAL_HALVES}, not {half!r}")
    if not isinstance(collection, Collection):
        collection = read_collection(collection)
    usable = collection.usable.assign(half=external_halves(collection.usable))
    chosen = usable if half == "all" else usable[usable["half"] == half]
    if max_faces is not None and len(chosen) > max_faces:
        chosen = chosen.sample(max_faces, random_state=seed).sort_index()
    views = views or config.TEST_TIME_VIEWS
    if ray_model is not None:
        from facegen.predict.on_ray import frame_and_classify

        framed, p_framed = frame_and_classify(
            chosen["file"].tolist(), [str(p) for p in chosen["path"]], size, ray_model,
            views=views, parts=ray_parts, progress=progress, verbose=verbose,
        )  # fmt: skip
    else:
        framed = frame_files(
            chosen["file"].tolist(), chosen["path"].tolist(), size, progress=progress
        )
    position = {name: i for i, name in enumerate(framed.files)}
    rows = chosen[chosen["file"].isin(position)].reset_index(drop=True)
    if rows.empty:  # evaluate_predictions would only say "y_true is empty"
        raise CollectionError(_nothing_scored(collection, half, len(chosen), framed.errors))
    order = np.array([position[name] for name in rows["file"]], dtype=np.int64)
    images = framed.images[order]
    rows["framing"] = [framed.framing[i] for i in order]
    rows["turn"] = framed.turn[order]
    rows["p_female"] = (
        p_framed[order] if ray_model is not None else predict_proba(model, images, views=views)
    )
    metrics = evaluate_predictions(
        rows, _labels(rows), rows["p_female"].to_numpy(), n_boot=n_boot, seed=seed
    )
    coverage = _coverage(collection, chosen, rows, framed.errors)
    metrics["coverage"] = coverage
    metrics["collection"] = {"name": collection.name, "root": str(collection.root),
                             "layout": collection.layout, "half": half}  # fmt: skip
    return CollectionScore(collection, half, rows, images, metrics, coverage)


def _labels(rows: pd.DataFrame) -> np.ndarray:
    """The rows' genders as the evaluation's labels: 1 for female, 0 for male
    (``config.GENDERS``)."""
    return (rows["gender"] == "female").to_numpy(dtype=np.int8)


def _write_json(path: Path, data: Any) -> None:
    """``data`` as indented JSON at ``path``, written atomically: every JSON file here."""
    from facegen.atomic import atomic_write_text
    from facegen.evaluation.jsonable import to_jsonable

    atomic_write_text(path, json.dumps(to_jsonable(data), indent=2) + "\n")


def _nothing_scored(collection: Collection, half: str, in_half: int, errors: dict[str, str]) -> str:
    message = f"{collection.name} ({half} half): no face to score; {in_half:,} usable listed"
    if errors:
        name, reason = next(iter(errors.items()))
        message += f", {len(errors):,} unreadable (such as {name}: {reason})"
    return message + not_usable(collection)


def _coverage(
    collection: Collection, chosen: pd.DataFrame, rows: pd.DataFrame, errors: dict[str, str]
) -> dict[str, Any]:
    listed = collection.frame
    aligned = int((rows["framing"] == Framing.ALIGNED).sum())
    return {
        "listed": len(listed),
        "unusable_labels_or_files": {str(k): int(v) for k, v in collection.problems().items()},
        "in_half": len(chosen),
        "unreadable": len(errors),
        "unreadable_examples": dict(list(errors.items())[:5]),
        "scored": len(rows),
        "aligned": aligned,
        "whole_image": int((rows["framing"] == Framing.WHOLE_IMAGE).sum()),
        "aligned_share": aligned / len(rows) if len(rows) else float("nan"),
    }


def external_paths(given: list[str] | str | None = None) -> list[Path]:
    """The collections to evaluate: those given, else ``$FACEGEN_EXTERNAL`` (``os.pathsep``)."""
    if isinstance(given, str):
        given = [given]
    if not given:
        given = [p for p in os.environ.get(config.EXTERNAL_ENV, "").split(os.pathsep) if p]
    return [Path(p).expanduser() for p in given]


def external_dir(run_dir: str | os.PathLike, collection: str, half: str) -> Path:
    """Where a run keeps one half's tables: ``<run>/external/<collection>-<half>/``."""
    from facegen.data.external import slug

    return Path(run_dir) / "external" / f"{slug(collection)}-{half}"


def read_external_summary(run_dir: str | os.PathLike) -> dict[str, Any]:
    """``external.json`` of a run: the first collection's headline, for the index and card."""
    path = Path(run_dir) / "external.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return data.get("headline", {})


def write_score(score: CollectionScore, out: str | os.PathLike) -> Path:
    """``metrics.json`` and ``predictions.csv`` of one scored collection, written atomically."""
    from facegen.atomic import atomic_write_text

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / "metrics.json", score.metrics)
    columns = ["file", "gender", "ethnicity", "age_band", "half", "framing", "turn", "p_female"]
    atomic_write_text(
        out / "predictions.csv", score.rows[columns].to_csv(index=False, lineterminator="\n")
    )
    return out


def score_for_run(
    run_dir: str | os.PathLike,
    model,
    collections: list[Collection],
    *,
    size: int,
    n_boot: int,
    seed: int,
    views: str | None = None,
    max_faces: int | None = None,
    progress: bool = False,
) -> dict[str, dict[str, CollectionScore]]:
    """Both halves of every collection, written under ``<run>/external/`` with ``external.json``.

    ``external.json`` keeps each collection's two headlines and, under ``headline``, the first
    collection's test half: the figure the index and the model card show.
    """
    run_dir = Path(run_dir)
    scores: dict[str, dict[str, CollectionScore]] = {}
    for collection in collections:
        scores[collection.name] = {}
        for half in ("val", "test"):
            score = score_collection(
                model, collection, half=half, size=size, n_boot=n_boot, seed=seed,
                views=views, max_faces=max_faces, progress=progress,
            )  # fmt: skip
            write_score(score, external_dir(run_dir, collection.name, half))
            scores[collection.name][half] = score
    summary = {
        "collections": {
            name: {half: score.headline() for half, score in halves.items()}
            for name, halves in scores.items()
        },
        "headline": next(iter(scores.values()))["test"].headline() if scores else {},
    }
    _write_json(run_dir / "external.json", summary)
    return scores


def audit_collection(
    run_dir: str | os.PathLike,
    name: str,
    halves: dict[str, CollectionScore],
    *,
    n_boot: int,
    seed: int,
) -> tuple[LabelAudit, np.ndarray]:
    """The label audit of a collection's scored halves, audited as one set, and their faces in
    the audit's order (for ``plots.doubted_faces``).

    The model never trained on any of the collection's faces, so both halves' scores are
    out-of-sample. Writes ``<run>/external/<collection>-audit/label_audit.csv`` (one row per
    face, most doubted first) and ``label_audit.json`` (the summary, as in metrics.json).
    """
    from facegen.atomic import atomic_write_text

    parts = {
        half: (score.rows, _labels(score.rows), score.rows["p_female"].to_numpy())
        for half, score in halves.items()
    }
    audit = audit_splits(parts, n_boot=n_boot, seed=seed)
    out = external_dir(run_dir, name, "audit")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(
        out / "label_audit.csv", audit.table().to_csv(index=False, lineterminator="\n")
    )
    _write_json(out / "label_audit.json", audit.summary)
    images = np.concatenate([score.images for score in halves.values()])
    return audit, images


def read_label_audit(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The ``label_audit`` section the evaluation page wrote into the run's metrics.json; empty
    when the run has none."""
    path = Path(run_dir) / "metrics.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text()).get("label_audit", {})


def comparison(
    utkface: dict[str, Any], scores: dict[str, dict[str, CollectionScore]]
) -> pd.DataFrame:
    """UTKFace's test headline beside both halves of every scored collection, one row each."""
    headlines, aligned = {"UTKFace test": utkface}, {}
    for name, halves in scores.items():
        for half, score in halves.items():
            headlines[f"{name} {half}"] = score.metrics["headline"]
            aligned[f"{name} {half}"] = score.coverage["aligned_share"]
    return comparison_table(headlines, aligned)


def threshold_table(scores: dict[str, dict[str, CollectionScore]]) -> pd.DataFrame:
    """Per collection: its test half at the model's threshold, and at one chosen on its
    validation half (``evaluation.thresholds``); the second row is a what-if, never a default."""
    from facegen.evaluation.thresholds import balanced_threshold, with_threshold

    rows = []
    for name, halves in scores.items():
        val, test = halves["val"].rows, halves["test"].rows
        head = halves["test"].metrics["headline"]
        rows.append(
            {
                "collection": name,
                "threshold": "the model's own",
                "accuracy": head["test_accuracy"],
                **{k: head[k] for k in ("recall_female", "recall_male", "recall_gap")},
            }
        )
        optimizer = balanced_threshold(val["gender"] == "female", val["p_female"])
        chosen = with_threshold(optimizer, test["gender"] == "female", test["p_female"])
        rows.append({"collection": name, "threshold": "chosen on validation", **chosen})
    columns = ["collection", "threshold", "accuracy", "recall_female", "recall_male", "recall_gap"]
    return pd.DataFrame(rows, columns=columns)  # fmt: skip


def face_titles(rows: pd.DataFrame) -> list[str]:
    """'female 0.87' per face: its label and the model's score for *female* (0.5 is its decision
    point); faces used whole say so."""
    return [
        f"{gender} {p:.2f}{' (whole)' if framing == Framing.WHOLE_IMAGE else ''}"
        for gender, p, framing in zip(
            rows["gender"], rows["p_female"], rows["framing"], strict=True
        )
    ]
