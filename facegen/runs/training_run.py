"""``facegen train``: the training notebook's work as one command, into a run folder.

It calls the same ``train_for_run`` and ``evaluate_run`` as notebooks 03 and 04, and
writes the same files (``model.keras`` and its ONNX copy, ``split.csv``, ``history.csv``,
``training.json``, ``metrics.json``, ``label_audit.csv``, ``manifest.json``, model card), so
``facegen predict`` and the index treat a scripted run like a notebook run.

Interruption: the model is written atomically once training ends, so a Ctrl-C or a killed
process never leaves half a model where a good one was. Training itself is not checkpointed
(a full run takes minutes); a rerun into an unfinished folder restarts from epoch 1 with the
folder's pinned split, and says so. A complete folder is left alone unless asked to retrain.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from facegen import config
from facegen.data.dataset import Dataset
from facegen.errors import UsageError
from facegen.modeling.balance import balanced_model
from facegen.modeling.model import ModelConfig
from facegen.modeling.saving import save_model
from facegen.modeling.train import TrainConfig, TrainResult, train_on_dataset
from facegen.runs.manifest import finish_manifest, new_manifest, read_manifest, write_manifest
from facegen.runs.run import Run, Settings


class RunFolderError(UsageError):
    """The output folder cannot be used as asked; the message says why and what to do."""


@dataclass(frozen=True)
class StartDecision:
    """Whether a run starts fresh or restarts an earlier attempt, and what to tell the user."""

    restart: bool
    message: str


def decide_start(run_dir: Path, *, retrain: bool) -> StartDecision:
    """Look at ``run_dir`` before training and decide, with a message for the user."""
    manifest = read_manifest(run_dir)
    if manifest is None:
        if run_dir.exists() and any(run_dir.iterdir()):
            raise RunFolderError(
                f"{run_dir} is not empty and holds no facegen run (no manifest.json); "
                "choose a new --out folder"
            )
        return StartDecision(False, f"Starting a new run in {run_dir}")
    status = manifest.get("status")
    if status == "complete" and not retrain:
        accuracy = manifest.get("headline", {}).get("test_accuracy")
        held = f" (test accuracy {accuracy:.4f})" if accuracy is not None else ""
        raise RunFolderError(
            f"{run_dir} already holds a complete run{held}; pass --retrain to train it again "
            "(the current model stays in place until the new one is saved), or choose "
            "another --out folder"
        )
    if manifest.get("kind", "report") != "train":
        raise RunFolderError(
            f"{run_dir} holds a notebook report run; `facegen train` only continues its own "
            "runs. Choose another --out folder"
        )
    reason = "was complete; retraining as asked" if status == "complete" else f"was {status}"
    return StartDecision(
        True,
        f"Restarting the run in {run_dir}: it {reason}. Training starts again from epoch 1 "
        "on the split pinned in its split.csv"
        + (
            "; the existing model.keras is kept until the new one is saved"
            if (run_dir / "model.keras").exists()
            else ""
        ),
    )


def default_run_dir(settings: Settings) -> Path:
    """A new, empty folder ``reports/<time>-train-<profile>-seed<seed>[-N]/``, unique even when
    two runs start in the same second."""
    from facegen.runs.folders import create_run_folder, new_run_id

    return create_run_folder(config.REPORTS_DIR, new_run_id(settings, kind="train"))


def train_run(
    settings: Settings,
    run_dir: str | os.PathLike | None = None,
    *,
    retrain: bool = False,
    progress: bool = True,
    say: Callable[[str], None] = print,
) -> Path:
    """Train, evaluate on validation and test, and write a complete run folder; return it.

    On KeyboardInterrupt or any error the manifest says "interrupted" or "failed" (and a FAILED
    file says why) before the exception propagates.
    """
    from facegen.modeling.saving import load_classifier
    from facegen.reporting.model_card import write_model_card
    from facegen.runs.evaluate_run import evaluate_run
    from facegen.runs.folders import update_index

    run_dir = Path(run_dir) if run_dir else default_run_dir(settings)
    decision = decide_start(run_dir, retrain=retrain)
    say(decision.message)
    run = Run(run_dir, settings)
    if decision.restart:
        for stale in ("metrics.json", "FAILED", "model_card.md", "model_card.html"):
            (run_dir / stale).unlink(missing_ok=True)
    manifest = new_manifest(run_dir, settings, settings.to_dict(), kind="train")
    write_manifest(run_dir, manifest)
    start = time.perf_counter()
    try:
        dataset = run.dataset(progress=progress)
        run.record_data(dataset)
        say(
            f"{len(dataset.used):,} faces (fingerprint {dataset.fingerprint}); split "
            + ", ".join(f"{k} {v:,}" for k, v in dataset.split_sizes()["files"].items())
        )
        train_for_run(run, dataset, progress=progress)
        # Scored as saved, as every later caller runs it; the evaluation page's own call.
        evaluate_run(run, dataset, load_classifier(run.model_path))
        write_model_card(run_dir)
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        message = "interrupted" if interrupted else f"{type(exc).__name__}: {exc}"
        finish_manifest(
            run_dir,
            manifest,
            "interrupted" if interrupted else "failed",
            time.perf_counter() - start,
            failure={"step": "train", "error": message, "message": f"training {message}"},
        )
        update_index(run_dir.parent)
        raise
    finish_manifest(run_dir, manifest, "complete", time.perf_counter() - start)
    update_index(run_dir.parent)
    return run_dir


def profile_settings(**parameters) -> Settings:
    """Settings for the script, with the same defaults and checks as the notebooks'."""
    return Settings.resolve(**{k: v for k, v in parameters.items() if v is not None})


def train_for_run(
    run: Run,
    dataset: Dataset,
    *,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train on the run's train split, select on its validation split, save everything.

    The network of the best validation epoch gets its decision point moved to equal recall for
    women and men on the validation split (``modeling.balance``) before it is saved. Writes
    ``model.keras`` with its ONNX copy, ``history.csv`` and ``training.json`` (with the decision
    point) into the run folder. The training notebook and ``facegen train`` both call this.
    """
    settings = run.settings
    model_config = model_config or ModelConfig(image_size=settings.image_size)
    train_config = train_config or TrainConfig(epochs=settings.epochs, seed=settings.seed)
    result = train_on_dataset(dataset, model_config, train_config, progress=progress)
    val_images, val_rows = dataset.part("val")
    result.model, balance = balanced_model(result.model, val_images, dataset.labels(val_rows))
    result.decision_point = balance.to_dict()
    sizes = dataset.split_sizes()["files"]
    save_model(result.model, run.model_path)
    run.write_table("history.csv", result.history)
    run.write_json(
        "training.json",
        {
            **result.summary(),
            "n_train": int(sizes["train"]),
            "n_val": int(sizes["val"]),
            "model_config": result.model_config,
            "train_config": result.train_config,
            # How this model's predictions are made, by the notebook and `facegen predict`.
            "test_time_views": config.TEST_TIME_VIEWS,
        },
    )
    return result
