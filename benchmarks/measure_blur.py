"""How much detail training augmentation leaves in a face: one resampling against three.

Prints the mean variance of the Laplacian (a standard sharpness measure: higher is sharper) of
validation faces as they are, after a flip only (no interpolation), after Keras' chained
``RandomRotation`` / ``RandomZoom`` / ``RandomTranslation``, and after ``FaceAugmentation``, which
applies the same random ranges as one transform. The model is tested on faces like the first
row, so augmentation that blurs much more than it must trains on a different kind of image.

    FACEGEN_DATA_DIR=../shared/utkface/UTKFace python benchmarks/measure_blur.py [--n 512]
"""

from __future__ import annotations

import argparse
import os

import numpy as np


def sharpness(faces: np.ndarray) -> float:
    import cv2

    return float(np.mean([cv2.Laplacian(f.astype(np.float32), cv2.CV_32F).var() for f in faces]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("FACEGEN_DATA_DIR"))
    parser.add_argument("--n", type=int, default=512, help="validation faces to measure")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from facegen.data.dataset import load_dataset
    from facegen.modeling.model import ModelConfig, augmentation

    faces, _ = load_dataset(args.data_dir).part("val")
    faces = faces[: args.n]
    batch = faces[..., None].astype("float32")
    print(f"{len(faces)} validation faces; mean variance of the Laplacian (higher is sharper)")
    print(f"  {'as tested (no augmentation)':<44} {sharpness(faces):8.1f}")
    default = ModelConfig()
    # Keras' own layers, chained: the design the one-transform augmentation replaced.
    chained = keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal"),
            keras.layers.RandomRotation(default.rotation, fill_mode="reflect"),
            keras.layers.RandomZoom(default.zoom, fill_mode="reflect"),
            keras.layers.RandomTranslation(default.shift, default.shift, fill_mode="reflect"),
        ]
    )
    for label, layer in (
        ("flip only", augmentation(ModelConfig(rotation=0.0, zoom=0.0, shift=0.0))),
        ("Keras chained layers (three resamplings)", chained),
        ("FaceAugmentation (one resampling)", augmentation(default)),
    ):
        keras.utils.set_random_seed(args.seed)
        out = keras.ops.convert_to_numpy(layer(batch, training=True))[..., 0]
        print(f"  {label:<44} {sharpness(np.clip(out, 0, 255)):8.1f}")
    print(
        f"(rotation {default.rotation}, zoom {default.zoom}, shift {default.shift}: "
        "the default ranges)"
    )


if __name__ == "__main__":
    main()
