"""facegen: a facial gender classifier on UTKFace, measured in detail across subgroups.

The notebooks in ``notebooks/`` tell the story; this package does the work. Start with
``facegen.load_dataset()``.
"""

from facegen.data import Dataset, load_dataset
from facegen.dataset import DataNotFoundError

__all__ = ["DataNotFoundError", "Dataset", "load_dataset"]
__version__ = "0.1.0"
