"""Training throughput of model variants, per CPU second and per wall second, measured in turns.

    python benchmarks/bench_train_speed.py [--rounds 2] [--batches 15]

On a shared 2-core VM the wall-clock rate swings by 2x as the other core comes and goes, so each
variant is timed in turns with the others on the same random faces, and the rate per CPU second
(process time) is printed beside it: that one is stable enough to compare variants by. No data
is needed: the cost of a training step does not depend on what the faces show.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

VARIANTS = {
    "default": {},
    "16-channel stem": {"widths": (16, 32, 64, 128, 256)},
    "192 channels last": {"widths": (8, 32, 64, 128, 192)},
    "wider middle blocks": {"widths": (8, 32, 96, 192, 256)},
    "no augmentation": {"rotation": 0.0, "zoom": 0.0, "shift": 0.0, "flip": False},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batches", type=int, default=15, help="batches of 128 per timing")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    from facegen.modeling.model import ModelConfig, build_model

    keras.utils.set_random_seed(0)
    n = 128 * args.batches
    faces = np.random.default_rng(0).integers(0, 256, (n, 48, 48, 1), dtype=np.uint8)
    labels = np.tile([0.0, 1.0], n // 2).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((faces, labels)).batch(128).prefetch(2)
    models = {}
    for name, overrides in VARIANTS.items():
        model = build_model(ModelConfig(**overrides))
        model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss="binary_crossentropy")
        # Trace and warm up outside the timing.
        model.fit(data.take(3), epochs=1, verbose=0, shuffle=False)
        models[name] = model
    per_cpu = {name: [] for name in models}
    per_wall = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, model in models.items():
            wall, cpu = time.perf_counter(), time.process_time()
            model.fit(data, epochs=1, verbose=0, shuffle=False)
            per_wall[name].append(n / (time.perf_counter() - wall))
            per_cpu[name].append(n / (time.process_time() - cpu))
    base = np.median(per_cpu["default"])
    print(f"training images per CPU second and per wall second ({n} faces x {args.rounds} rounds)")
    for name in models:
        cpu, wall = np.median(per_cpu[name]), np.median(per_wall[name])
        print(
            f"  {name:<28} {cpu:6.0f} /CPU-s ({cpu / base:4.2f}x default)  {wall:6.0f} /s wall  "
            f"{models[name].count_params():>9,} parameters"
        )


if __name__ == "__main__":
    main()
