"""Single-pass augmentation: the transforms it promises, one resampling, none at inference."""

import cv2
import keras
import numpy as np
import pytest

from facegen.modeling.augment import FaceAugmentation
from facegen.modeling.model import ModelConfig, augmentation, build_model


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    """Sharp synthetic 48x48 faces: noise texture, so any interpolation shows as lost detail."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (64, 48, 48, 1)).astype("float32")


def _sharpness(images: np.ndarray) -> float:
    return float(np.mean([cv2.Laplacian(f[..., 0], cv2.CV_32F).var() for f in images]))


def test_inference_passes_faces_through_untouched(faces):
    layer = FaceAugmentation(rotation=0.1, zoom=0.2, shift=0.1)
    assert np.array_equal(keras.ops.convert_to_numpy(layer(faces)), faces)
    assert np.array_equal(keras.ops.convert_to_numpy(layer(faces, training=False)), faces)


def test_a_flip_alone_mirrors_exactly_and_about_half_the_faces(faces):
    keras.utils.set_random_seed(1)
    out = keras.ops.convert_to_numpy(FaceAugmentation(flip=True)(faces, training=True))
    mirrored = [np.array_equal(o, f[:, ::-1]) for o, f in zip(out, faces, strict=True)]
    kept = [np.array_equal(o, f) for o, f in zip(out, faces, strict=True)]
    assert all(m or k for m, k in zip(mirrored, kept, strict=True))
    assert 0.25 < np.mean(mirrored) < 0.75


def test_a_pure_shift_moves_the_face_by_whole_pixels_when_the_shift_is_whole():
    # A shift of exactly 0.25 of 8 pixels is two pixels: the transform must land on pixels.
    face = np.zeros((1, 8, 8, 1), "float32")
    face[0, 3, 3, 0] = 1.0
    layer = FaceAugmentation(shift=0.25, flip=False)
    layer._uniform = lambda n: keras.ops.ones((n,))  # the largest shift, both ways
    out = keras.ops.convert_to_numpy(layer(face, training=True))[0, ..., 0]
    # Output pixel (x, y) samples input (x + 2, y + 2): the bright pixel moves up and left.
    assert out[1, 1] == pytest.approx(1.0) and out.sum() == pytest.approx(1.0)


def _largest(layer: FaceAugmentation) -> FaceAugmentation:
    """Every random draw at its maximum, so the transform is known exactly."""
    layer._uniform = lambda n: keras.ops.ones((n,))
    return layer


def test_rotation_turns_about_the_centre():
    face = np.random.default_rng(4).random((1, 9, 9, 1)).astype("float32")
    turned = _largest(FaceAugmentation(rotation=0.25, flip=False))(face, training=True)
    # A quarter turn of a square about its centre lands on pixels: exactly np.rot90.
    assert np.allclose(keras.ops.convert_to_numpy(turned)[0], np.rot90(face[0]), atol=1e-4)


def test_zoom_scales_about_the_centre():
    face = np.random.default_rng(5).random((1, 9, 9, 1)).astype("float32")
    zoomed = _largest(FaceAugmentation(zoom=0.5, flip=False))(face, training=True)
    zoomed = keras.ops.convert_to_numpy(zoomed)[0, ..., 0]
    # Scale 1.5 (zoomed out): output (4 + d) samples input (4 + 1.5 d); the centre stays put.
    assert zoomed[4, 4] == pytest.approx(face[0, 4, 4, 0])
    assert zoomed[4, 6] == pytest.approx(face[0, 4, 7, 0])
    assert zoomed[2, 4] == pytest.approx(face[0, 1, 4, 0])


def test_one_resampling_keeps_more_detail_than_keras_chained_layers(faces):
    settings = {"rotation": 0.02, "zoom": 0.05, "shift": 0.04}
    keras.utils.set_random_seed(2)
    once = augmentation(ModelConfig(**settings))(faces, training=True)
    keras.utils.set_random_seed(2)
    chained = keras.Sequential(
        [
            keras.layers.RandomRotation(settings["rotation"], fill_mode="reflect"),
            keras.layers.RandomZoom(settings["zoom"], fill_mode="reflect"),
            keras.layers.RandomTranslation(
                settings["shift"], settings["shift"], fill_mode="reflect"
            ),
        ]
    )(faces, training=True)
    once, chained = keras.ops.convert_to_numpy(once), keras.ops.convert_to_numpy(chained)
    assert not np.array_equal(once, faces)  # it did transform
    assert _sharpness(once) > 1.3 * _sharpness(chained)


def test_the_layer_survives_a_safe_mode_save_and_load(tmp_path):
    model = build_model(ModelConfig(widths=(4, 8), rotation=0.05, zoom=0.1, shift=0.02))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path, compile=False, safe_mode=True)
    layer = loaded.get_layer("augmentation")
    assert isinstance(layer, FaceAugmentation)
    assert (layer.rotation, layer.zoom, layer.shift, layer.flip) == (0.05, 0.1, 0.02, True)
    faces = np.random.default_rng(3).integers(0, 256, (4, 48, 48, 1)).astype("uint8")
    assert np.allclose(loaded.predict(faces, verbose=0), model.predict(faces, verbose=0))


@pytest.mark.slow
def test_facegen_loads_a_saved_model_in_a_fresh_process(tmp_path):
    # Only facegen.modeling.predict is imported there: loading must register the layer itself.
    import subprocess
    import sys

    path = tmp_path / "m.keras"
    build_model(ModelConfig(widths=(4, 8))).save(path)
    code = (
        "import sys; from facegen.modeling.saving import load_model; "
        "print(type(load_model(sys.argv[1]).get_layer('augmentation')).__name__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("FaceAugmentation")
