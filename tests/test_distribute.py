"""Training under a multi-replica tf.distribute strategy, as on a machine with several GPUs.

CI has no GPU, so two logical CPU devices stand in for two GPUs: MirroredStrategy splits each
batch between them and averages the gradients exactly as it would across GPUs. Logical devices
must be configured before TensorFlow starts, hence the subprocess.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import facegen.modeling.train as train_module
    from facegen.modeling.model import ModelConfig

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    train_module.pick_strategy = lambda: strategy
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (256, 48, 48), dtype=np.uint8)
    labels = rng.integers(0, 2, 256)
    images[labels == 1, :, :24] = 255  # something to learn
    result = train_module.train(
        images, labels, images[:64], labels[:64],
        model_config=ModelConfig(widths=(4, 8)),
        train_config=train_module.TrainConfig(epochs=3, batch_size=64, deterministic=False),
        progress=False,
    )
    print("STRATEGY", result.strategy)
    print("REPLICAS", strategy.num_replicas_in_sync)
    print("EPOCHS", len(result.history))
    """
)


@pytest.mark.slow
def test_training_runs_under_mirrored_strategy_across_two_devices():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "STRATEGY 2 devices (MirroredStrategy, float32)" in done.stdout
    assert "REPLICAS 2" in done.stdout and "EPOCHS 3" in done.stdout
