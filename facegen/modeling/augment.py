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
        squeeze: float = 0.0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.rotation, self.zoom, self.shift, self.flip = rotation, zoom, shift, flip
        self.squeeze = squeeze
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
        # ``squeeze`` narrows the face (samples a wider strip), as a head turned aside looks.
        narrow = 1.0 + (self._uniform(n) + 1.0) / 2.0 * self.squeeze if self.squeeze else 1.0
        a0, a1, b0, b1 = cos * mirror * narrow, -sin, sin * mirror * narrow, cos
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
            "squeeze": self.squeeze,
        }


@keras.saving.register_keras_serializable(package="facegen")
class PhotometricAugmentation(layers.Layer):
    """Random brightness, contrast, gamma and blur of faces scaled to [0, 1], in training only.

    Faces from elsewhere are darker, flatter and softer than UTKFace's (docs/decisions.md), so
    training sees some of that variation. ``brightness`` is added (a fraction of full scale),
    ``contrast`` and ``gamma`` are log-scale ranges, and ``blur`` is the largest weight of a
    Gaussian-blurred copy (sigma 1.5 px) mixed into each face.
    """

    def __init__(
        self,
        brightness: float = 0.0,
        contrast: float = 0.0,
        gamma: float = 0.0,
        blur: float = 0.0,
        seed: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.brightness, self.contrast, self.gamma, self.blur = brightness, contrast, gamma, blur
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        kernel = [math.exp(-(i * i) / (2 * 1.5**2)) for i in range(-3, 4)]
        total = sum(kernel)
        self._kernel = [k / total for k in kernel]

    def _uniform(self, n, low=-1.0, high=1.0):
        return ops.reshape(
            keras.random.uniform((n,), low, high, seed=self.seed_generator), (-1, 1, 1, 1)
        )

    def _blurred(self, images):
        channels = images.shape[-1]
        row = ops.reshape(ops.convert_to_tensor(self._kernel, images.dtype), (1, 7, 1, 1))
        row = ops.tile(row, (1, 1, channels, 1))
        column = ops.reshape(ops.convert_to_tensor(self._kernel, images.dtype), (7, 1, 1, 1))
        column = ops.tile(column, (1, 1, channels, 1))
        padded = ops.pad(images, ((0, 0), (3, 3), (3, 3), (0, 0)), mode="reflect")
        return ops.depthwise_conv(ops.depthwise_conv(padded, row), column)

    def call(self, images, training=None):
        if not training:
            return images
        n = ops.shape(images)[0]
        if self.blur:
            weight = self._uniform(n, 0.0, self.blur)
            images = (1 - weight) * images + weight * self._blurred(images)
        if self.gamma:
            images = ops.power(ops.clip(images, 1e-4, 1.0), ops.exp(self._uniform(n) * self.gamma))
        if self.contrast:
            mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
            images = mean + (images - mean) * ops.exp(self._uniform(n) * self.contrast)
        if self.brightness:
            images = images + self._uniform(n) * self.brightness
        return ops.clip(images, 0.0, 1.0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "brightness": self.brightness,
            "contrast": self.contrast,
            "gamma": self.gamma,
            "blur": self.blur,
            "seed": self.seed,
        }
