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
__version__ = "0.1.0"

_LAZY = {
    "DataNotFoundError": "facegen.data.utkface",
    "Dataset": "facegen.data.dataset",
    "load_dataset": "facegen.data.dataset",
}

if TYPE_CHECKING:
    from facegen.data.dataset import Dataset, load_dataset
    from facegen.data.utkface import DataNotFoundError


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'facegen' has no attribute {name!r}")
