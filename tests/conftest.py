"""Shared fixtures: small UTKFace-like folders that the tests generate themselves.

No real UTKFace image is ever stored in the repository (its licence forbids redistribution);
tests that need the real set read it from FACEGEN_DATA_DIR and are skipped without it.
"""

from __future__ import annotations

import io
import os
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


def utk_name(age: int, gender: int, race: int | None, stamp: int) -> str:
    middle = f"{age}_{gender}_{race}" if race is not None else f"{age}_{gender}"
    return f"{middle}_2017010{stamp:010d}.jpg.chip.jpg"


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory, monkeypatch):
    """Every test gets its own cache and never sees the real data or data/raw/ by accident."""
    monkeypatch.delenv("FACEGEN_DATA_DIR", raising=False)
    monkeypatch.setenv("FACEGEN_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    empty_raw = tmp_path_factory.mktemp("raw")
    monkeypatch.setattr("facegen.config.default_raw_dir", lambda: empty_raw)


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
