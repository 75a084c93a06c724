"""facegen: a facial gender classifier on UTKFace, measured in detail across subgroups.

The notebooks in ``notebooks/`` tell the story; this package does the work. Start with
``facegen.load_dataset()``.

The top-level names are imported on first use, so ``import facegen`` (and each preprocessing
worker process, which imports the package) stays quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["DataNotFoundError", "Dataset", "load_dataset"]

_LAZY = {
    "DataNotFoundError": "facegen.data.utkface",
    "Dataset": "facegen.data.dataset",
    "load_dataset": "facegen.data.dataset",
}

if TYPE_CHECKING:
    from facegen.data.dataset import Dataset, load_dataset
    from facegen.data.utkface import DataNotFoundError


def package_version() -> str:
    """The installed version, from the package metadata: pyproject.toml is the one place it is
    written."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("facegen")
    except PackageNotFoundError:
        return "unknown (not installed)"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        return package_version()
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'facegen' has no attribute {name!r}")
