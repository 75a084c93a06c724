"""Every constant of the project, defined once.

Labels, age bands, defaults and locations live here so that notebooks, scripts and tests can never
disagree about what "age band 3-12" or "ethnicity 2" means.
"""

from __future__ import annotations

import operator
import os
from pathlib import Path

from facegen.errors import UsageError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
"""The checkout the package was installed from (editable installs keep it next to the code)."""

DATA_DIR_ENV = "FACEGEN_DATA_DIR"
CACHE_DIR_ENV = "FACEGEN_CACHE_DIR"
# Defaults for notebooks opened by hand (and by nbval, which cannot pass parameters):
PROFILE_ENV = "FACEGEN_PROFILE"
RUN_DIR_ENV = "FACEGEN_RUN_DIR"
KAGGLE_HANDLE = "jangedoo/utkface-new"
EXTERNAL_ENV = "FACEGEN_EXTERNAL"
"""Labelled face collections that are not UTKFace, for cross-dataset evaluation: one path, or
several separated by ``os.pathsep`` (``:`` on Linux and macOS)."""
VERBOSE_ENV = "FACEGEN_VERBOSE"
"""Set by ``facegen report -v`` for its kernels: TensorFlow then starts with its notices shown."""
EXTERNAL_HALVES = ("val", "test", "all")
"""What of an external collection is scored: the half for choices, the half reported, or all."""
EXTERNAL_SPLIT_SEED = 0
"""Fixes each external collection's two halves (choices on one, the report on the other),
whatever the run's own seed."""

# Kaggle's archive holds the aligned set twice (top level and under utkface_aligned_cropped/) plus
# the in-the-wild crops; when a user points at the archive's parent we take the first that exists.
KNOWN_SUBFOLDERS = (
    "UTKFace",
    "utkface_aligned_cropped/UTKFace",
    "crop_part1",
    "utkface_aligned_cropped/crop_part1",
)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

# UTKFace codes: gender 0 = male, 1 = female; race 0..4 as below.
GENDERS = ("male", "female")
ETHNICITIES = ("White", "Black", "Asian", "Indian", "Others")
MAX_AGE = 116  # oldest age in UTKFace; anything above is a typo, not a person

# One age-band definition for the whole project: (lower bound inclusive, label).
AGE_BANDS = (
    (0, "0-2"),
    (3, "3-12"),
    (13, "13-19"),
    (20, "20-29"),
    (30, "30-39"),
    (40, "40-59"),
    (60, "60+"),
)
AGE_BAND_LABELS = tuple(label for _, label in AGE_BANDS)

# The packages whose versions every report and manifest states.
REPORTED_PACKAGES = (
    "tensorflow",
    "keras",
    "numpy",
    "pandas",
    "opencv-python-headless",
    "scikit-learn",
    "fairlearn",
    "seaborn",
    "matplotlib",
    "papermill",
    "nbconvert",
    "facegen",
)

IMAGE_SIZE = 48
VIEW_SETS = ("none", "flip", "flip+shift")
"""Test-time views (``facegen.modeling.inference``): the face alone; with its mirror image; and
both moved one pixel right, left, down and up (ten views)."""
TEST_TIME_VIEWS = "flip"
"""The views (one of ``VIEW_SETS``) averaged by the evaluation notebook and ``facegen predict``
alike: each face and its mirror image. The one-pixel shifts cost five times as much for a gain
neither the test splits nor FairFace's validation half confirmed (docs/decisions.md)."""
IMAGE_SIZE_RANGE = (16, 512)  # smaller loses the face; larger than any UTKFace image is pointless
SEED = 42
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)  # train, validation, test
SPLIT_NAMES = ("train", "val", "test")

# Near-duplicates (the same photo re-encoded or slightly re-cropped) are kept on one side of the
# split. A 64-bit perceptual hash within MAX_BITS proposes a pair; a zero-mean pixel correlation of
# at least MIN_CORRELATION confirms it (data.near_duplicates; thresholds in docs/decisions.md).
NEAR_DUPLICATE_MAX_BITS = 10
NEAR_DUPLICATE_MIN_CORRELATION = 0.95


# The pipeline's notebooks, in the order they run, with their page titles.
NOTEBOOKS = ("01_eda", "02_preprocessing", "03_training", "04_evaluation", "05_cross_dataset")
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
NOTEBOOK_TITLES = {
    "01_eda": "1. Exploring the data",
    "02_preprocessing": "2. Preprocessing and split",
    "03_training": "3. Training",
    "04_evaluation": "4. Evaluation",
    "05_cross_dataset": "5. Faces from elsewhere",
}

REPORTS_DIR = PROJECT_ROOT / "reports"
"""Every run folder, and the index page that lists them."""
ABLATION_RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "ablation.csv"
"""The ablation table: written by ``benchmarks/ablation.py``, shown by the training notebook."""


def default_raw_dir() -> Path:
    """Where a user may drop the Kaggle archive's folder without configuring anything."""
    return PROJECT_ROOT / "data" / "raw"


def cache_dir() -> Path:
    """Processed arrays and file indexes; overridable so read-only checkouts still work."""
    env = os.environ.get(CACHE_DIR_ENV)
    return Path(env).expanduser() if env else PROJECT_ROOT / "data" / "processed"


# Run profiles. "full" is what `make report` runs; "smoke" exercises every cell on a few hundred
# faces in seconds, for the notebook tests. Notebook parameters left as None take these values.
PROFILES: dict[str, dict] = {
    "full": {"max_images": None, "epochs": 18, "n_boot": 1000},
    "smoke": {"max_images": 400, "epochs": 2, "n_boot": 100},
}


def check_image_size(size: int) -> int:
    """The one check of an image-size parameter, so every entry point refuses it the same way."""
    low, high = IMAGE_SIZE_RANGE
    try:
        value = operator.index(size)  # a whole number (numpy's too), never a rounded float
    except TypeError:
        value = None
    if value is None or not low <= value <= high:
        raise UsageError(f"image_size must be between {low} and {high} pixels, not {size!r}")
    return value
