"""Training augmentation as one geometric transform, so each face is resampled only once.

Keras' chained ``RandomRotation``, ``RandomZoom`` and ``RandomTranslation`` interpolate a face three
times, and the blur trains the model on softer faces than it is tested on (measured by
``benchmarks/measure_blur.py``; docs/decisions.md). Here flip, rotation, scale and shift are
composed into one matrix and applied by one ``affine_transform``; a plain flip adds no blur.
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="facegen")
class FaceAugmentation(layers.Layer):
    """Random horizontal flip, rotation, zoom and shift in one bilinear resampling.

    The ranges follow the Keras layers they replace: ``rotation`` is a fraction of a full turn,
    ``zoom`` a fraction of the size (either way), ``shift`` a fraction of the width and height.
    Borders are filled by reflection. At inference the layer passes faces through untouched.
    """

    def __init__(
        self,
        rotation: float = 0.0,
        zoom: float = 0.0,
        shift: float = 0.0,
        flip: bool = True,
        seed: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.rotation, self.zoom, self.shift, self.flip = rotation, zoom, shift, flip
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # XLA has no kernel for the projective transform; Keras' own RandomRotation says the same.
        self.supports_jit = False

    def _uniform(self, n):
        return keras.random.uniform((n,), -1.0, 1.0, seed=self.seed_generator)

    def call(self, images, training=None):
        if not training:
            return images
        n = ops.shape(images)[0]
        height, width = images.shape[1], images.shape[2]
        angle = self._uniform(n) * (self.rotation * 2 * math.pi)
        scale = 1.0 + self._uniform(n) * self.zoom  # >1 samples a larger area: zooms out
        mirror = ops.where(self._uniform(n) < 0, -1.0, 1.0) if self.flip else ops.ones((n,))
        shift_x = self._uniform(n) * (self.shift * width)
        shift_y = self._uniform(n) * (self.shift * height)
        cos, sin = ops.cos(angle) * scale, ops.sin(angle) * scale
        # Output pixel -> input pixel: centre, mirror, rotate and scale, then shift back.
        a0, a1, b0, b1 = cos * mirror, -sin, sin * mirror, cos
        cx, cy = (width - 1) / 2, (height - 1) / 2
        a2 = cx - a0 * cx - a1 * cy + shift_x
        b2 = cy - b0 * cx - b1 * cy + shift_y
        zeros = ops.zeros_like(a0)
        transform = ops.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
        return ops.image.affine_transform(
            images, transform, interpolation="bilinear", fill_mode="reflect"
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "rotation": self.rotation,
            "zoom": self.zoom,
            "shift": self.shift,
            "flip": self.flip,
            "seed": self.seed,
        }
