"""Shared fixtures: small UTKFace-like folders and real faces that the tests generate themselves.

No real UTKFace or FairFace image is ever stored in the repository (their licences forbid
redistribution); tests that need the real set read it from FACEGEN_DATA_DIR and are skipped
without it. Tests that need a face a detector can find use scikit-image's public-domain
astronaut photo (shipped in its wheel), cut, turned and pasted into the photos they need.
"""

from __future__ import annotations

import functools
import io
import os
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

# Captured before the autouse fixture below hides it from the unit tests.
REAL_DATA_DIR = os.environ.get("FACEGEN_DATA_DIR")


def synthetic_face(seed: int, size: int = 64) -> np.ndarray:
    """A smooth random BGR image: distinct per seed, and JPEG-friendly like a real photo."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    image = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
    return cv2.GaussianBlur(image, (5, 5), 0)


def jpeg_bytes(image: np.ndarray, quality: int = 95) -> bytes:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return encoded.tobytes()


def png_bytes(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    return encoded.tobytes()


def cmyk_jpeg_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB)).convert("CMYK").save(buffer, "JPEG")
    return buffer.getvalue()


ASTRONAUT_BOX = (182, 64, 83, 107)
"""The astronaut's face in ``astronaut()`` (left, top, width, height), around which the tests cut
their crops: brow to chin, ear to ear."""
ASTRONAUT_DETECTED_BOX = (178, 57, 95, 120)
"""Where the detector boxes that face (a little wider than the cut: forehead and jaw), measured
once."""
ASTRONAUT_LANDMARKS = np.array(
    [[204.8, 100.8], [247.4, 103.4], [223.6, 129.2], [202.5, 138.1], [244.2, 140.6]]
)
"""The detector's five landmarks on ``astronaut()`` (eyes, nose tip, mouth corners), measured
once; they agree with MTCNN's, measured before it was replaced, to within 2.8 px."""


@cache
def _astronaut() -> np.ndarray:
    from skimage import data

    image = data.astronaut()
    image.setflags(write=False)
    return image


def astronaut() -> np.ndarray:
    """scikit-image's astronaut (public domain): 512x512 RGB, one face at ``ASTRONAUT_BOX``."""
    return _astronaut().copy()


def astronaut_face(margin: float = 0.5, size: int | None = 200) -> np.ndarray:
    """The astronaut's face cut out with ``margin`` times its box on every side, RGB.

    A negative margin cuts into the face (a crop the face overfills). ``size``: resized to a
    square of that side, as UTKFace's 200 px crops are; None keeps the cut as it is.
    """
    x, y, width, height = ASTRONAUT_BOX
    dx, dy = round(margin * width), round(margin * height)
    face = astronaut()[max(0, y - dy) : y + height + dy, max(0, x - dx) : x + width + dx]
    if size is None:
        return np.ascontiguousarray(face)
    return cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)


def rgb_png_bytes(rgb: np.ndarray) -> bytes:
    """PNG bytes of an RGB (or grayscale) image."""
    return png_bytes(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else rgb)


def rgb_jpeg_bytes(rgb: np.ndarray, quality: int = 95) -> bytes:
    """JPEG bytes of an RGB (or grayscale) image."""
    return jpeg_bytes(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else rgb, quality)


def exif_rotated_jpeg_bytes(rgb: np.ndarray) -> bytes:
    """A phone photo: pixels stored turned 90 degrees anticlockwise, EXIF Orientation 6.

    Orientation 6 tells a viewer to turn the stored pixels 90 degrees clockwise, so a reader that
    honours it shows ``rgb`` upright; one that ignores it shows the face lying on its side.
    """
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(np.rot90(rgb))).save(
        buffer, "JPEG", quality=95, exif=exif.tobytes()
    )
    return buffer.getvalue()


def utk_name(age: int, gender: int, race: int | None, stamp: int) -> str:
    middle = f"{age}_{gender}_{race}" if race is not None else f"{age}_{gender}"
    return f"{middle}_2017010{stamp:010d}.jpg.chip.jpg"


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory, monkeypatch):
    """Every test gets its own cache and never sees the real data, data/raw/ or the user's own
    settings (an exported FACEGEN_EXTERNAL or FACEGEN_PROFILE) by accident."""
    from facegen import config

    for name in (config.DATA_DIR_ENV, config.EXTERNAL_ENV, config.PROFILE_ENV,
                 config.RUN_DIR_ENV, config.VERBOSE_ENV):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FACEGEN_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    empty_raw = tmp_path_factory.mktemp("raw")
    monkeypatch.setattr("facegen.config.default_raw_dir", lambda: empty_raw)


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray for a test module, started as ``cluster.start_ray`` starts one (127.0.0.1
    only, no dashboard), on 2 CPUs whatever the machine has, so the tests see CI's machine."""
    pytest.importorskip("ray.tune")
    from facegen import cluster

    saved = {name: os.environ.get(name) for name in ("RAY_ADDRESS", cluster.LOOPBACK_ONLY)}
    os.environ.pop("RAY_ADDRESS", None)
    ray = cluster.require_ray()
    init = ray.init
    ray.init = functools.partial(init, num_cpus=2)
    try:
        assert cluster.start_ray(ray, verbose=False)
    finally:
        ray.init = init
    yield ray
    ray.shutdown()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def model_path(tmp_path_factory) -> Path:
    """A tiny untrained facegen model (seeded): the plumbing, not the accuracy, is under test."""
    import keras

    from facegen.modeling.model import ModelConfig, build_model
    from facegen.modeling.saving import save_model

    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("model") / "model.keras"
    save_model(build_model(ModelConfig(widths=(4, 8), dropout=0.0)), path)
    return path


@pytest.fixture
def face_folder(tmp_path: Path) -> Path:
    """A balanced folder of 120 valid synthetic faces named like UTKFace."""
    folder = tmp_path / "UTKFace"
    folder.mkdir()
    ages = [1, 5, 15, 25, 35, 45, 70]
    for i in range(120):
        name = utk_name(ages[i % len(ages)], i % 2, (i // 2) % 5, i)
        (folder / name).write_bytes(jpeg_bytes(synthetic_face(i)))
    return folder


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    if not REAL_DATA_DIR:
        pytest.skip("FACEGEN_DATA_DIR is not set: real-data tests need the UTKFace folder")
    return Path(REAL_DATA_DIR)
