"""Fit the CNN: seeded, checkpointed on validation accuracy, saved atomically.

The training notebook and ``facegen train`` both call ``train``; nothing else fits a model. Model
selection looks at the validation split only; the test split never reaches this module.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from facegen import config
from facegen.data.dataset import Dataset
from facegen.errors import BadInputError
from facegen.modeling.model import ModelConfig, build_model
from facegen.progress import epoch_line

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation knobs; the defaults are what ``make report`` uses."""

    epochs: int = config.PROFILES["full"]["epochs"]
    batch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 5e-5
    warmup_epochs: float = 1.0
    seed: int = 42
    deterministic: bool = True  # same seed, same machine: same weights and metrics

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    """What a training run produced, for the notebook, the manifest and the model card."""

    model: keras.Model
    history: pd.DataFrame  # one row per epoch
    best_epoch: int  # 1-based
    best_val_accuracy: float
    seconds: float
    images_per_second: float
    strategy: str
    model_config: dict = field(default_factory=dict)
    train_config: dict = field(default_factory=dict)
    # Set when a run moves the decision point (``modeling.balance``); a bare ``train`` leaves it.
    decision_point: dict | None = None

    def summary(self) -> dict:
        decision = {"decision_point": self.decision_point} if self.decision_point else {}
        return {
            "best_epoch": self.best_epoch,
            "best_val_accuracy": self.best_val_accuracy,
            "train_seconds": round(self.seconds, 1),
            "train_images_per_second": round(self.images_per_second, 1),
            "epochs_run": len(self.history),
            "strategy": self.strategy,
            "parameters": int(self.model.count_params()),
            **decision,
        }


def pick_strategy() -> tf.distribute.Strategy:
    """All GPUs when there are several, the one GPU when there is one, else the CPU as it is.

    On GPUs the global policy becomes mixed float16 (the output layer stays float32); the CPU
    default is unchanged because float16 is slower there.
    """
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        keras.mixed_precision.set_global_policy("mixed_float16")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    if len(gpus) == 1:
        return tf.distribute.OneDeviceStrategy(gpus[0].name)
    return tf.distribute.get_strategy()


def describe_strategy(strategy: tf.distribute.Strategy) -> str:
    """A reader's name for where training ran, for the manifest and the model card."""
    replicas = strategy.num_replicas_in_sync
    precision = keras.mixed_precision.global_policy().name
    precision = "mixed precision" if precision.startswith("mixed") else precision
    if isinstance(strategy, tf.distribute.MirroredStrategy):
        devices = strategy.extended.worker_devices
        kind = "GPUs" if all("GPU" in d.upper() for d in devices) else "devices"
        return f"{replicas} {kind} (MirroredStrategy, {precision})"
    if isinstance(strategy, tf.distribute.OneDeviceStrategy):
        return f"one GPU ({precision})"
    return "CPU (default strategy)"


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Python, NumPy and TensorFlow seeds, and deterministic kernels where TensorFlow has them."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int,
) -> tf.data.Dataset:
    """uint8 faces and 0/1 labels as batches; scaling and augmentation happen inside the model."""
    data = tf.data.Dataset.from_tensor_slices((images[..., None], labels.astype("float32")))
    if shuffle:
        data = data.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def learning_rate_schedule(config: TrainConfig, steps_per_epoch: int):
    """Linear warm-up to the peak rate, then cosine decay to zero at the last step."""
    total = max(1, config.epochs * steps_per_epoch)
    warmup = min(total - 1, int(config.warmup_epochs * steps_per_epoch))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate * 0.1 if warmup else config.learning_rate,
        decay_steps=total - warmup,
        warmup_target=config.learning_rate if warmup else None,
        warmup_steps=warmup,
    )


class _EpochLog(keras.callbacks.Callback):
    """Keeps the best weights in memory and prints one line per epoch (papermill shows it)."""

    def __init__(self, epochs: int, progress: bool) -> None:
        super().__init__()
        self.epochs, self.progress = epochs, progress
        self.rows: list[dict] = []
        self.best_accuracy, self.best_epoch, self.best_weights = -math.inf, 0, None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        row = {
            "epoch": epoch + 1,
            **{k: float(v) for k, v in logs.items()},
            "seconds": time.perf_counter() - self._start,
        }
        self.rows.append(row)
        if row["val_accuracy"] > self.best_accuracy:
            self.best_accuracy, self.best_epoch = row["val_accuracy"], epoch + 1
            self.best_weights = self.model.get_weights()
        if self.progress:
            best = self.best_epoch == epoch + 1
            print(epoch_line(epoch + 1, self.epochs, row, best=best), flush=True)


def train(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    val_images: np.ndarray,
    val_labels: np.ndarray,
    *,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train from scratch and return the model with the weights of its best validation epoch."""
    model_config = model_config or ModelConfig()
    config = train_config or TrainConfig()
    if len(train_images) == 0 or len(val_images) == 0:
        raise BadInputError(
            "training needs at least one training and one validation image: too few faces "
            "(a larger max_images, or more data)"
        )
    seed_everything(config.seed, config.deterministic)
    strategy = pick_strategy()
    steps = math.ceil(len(train_images) / config.batch_size)
    with strategy.scope():
        model = build_model(model_config)
        model.compile(
            optimizer=keras.optimizers.AdamW(
                learning_rate_schedule(config, steps),
                weight_decay=config.weight_decay,
            ),
            loss=keras.losses.BinaryCrossentropy(),
            metrics=[keras.metrics.BinaryAccuracy(name="accuracy")],
        )
    train_data = make_dataset(
        train_images,
        train_labels,
        config.batch_size,
        shuffle=True,
        seed=config.seed,
    )
    val_data = make_dataset(val_images, val_labels, 512, shuffle=False, seed=config.seed)
    epoch_log = _EpochLog(config.epochs, progress)
    start = time.perf_counter()
    model.fit(
        train_data,
        validation_data=val_data,
        epochs=config.epochs,
        verbose=0,
        callbacks=[epoch_log],
        shuffle=False,
    )  # the dataset itself shuffles, seeded
    seconds = time.perf_counter() - start
    if epoch_log.best_weights is not None:
        model.set_weights(epoch_log.best_weights)
    history = pd.DataFrame(epoch_log.rows)
    fit_seconds = float(history["seconds"].sum()) if len(history) else seconds
    return TrainResult(
        model=model,
        history=history,
        best_epoch=epoch_log.best_epoch,
        best_val_accuracy=float(epoch_log.best_accuracy),
        seconds=seconds,
        images_per_second=len(train_images) * len(history) / max(fit_seconds, 1e-9),
        strategy=describe_strategy(strategy),
        model_config=model_config.to_dict(),
        train_config=config.to_dict(),
    )


def train_on_dataset(
    dataset: Dataset,
    model_config: ModelConfig,
    train_config: TrainConfig,
    *,
    progress: bool = True,
) -> TrainResult:
    """Train on the dataset's train split and select on its validation split: what a run and an
    ablation row both train."""
    train_images, train_rows = dataset.part("train")
    val_images, val_rows = dataset.part("val")
    return train(
        train_images,
        dataset.labels(train_rows),
        val_images,
        dataset.labels(val_rows),
        model_config=model_config,
        train_config=train_config,
        progress=progress,
    )
