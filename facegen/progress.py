"""The progress lines facegen prints while it trains, and how ``facegen report`` recognises them.

A notebook's cells also print tables, model summaries and settings, which belong in the pages but
not on the terminal; ``facegen report`` relays only the lines made here (one per training epoch),
so its output stays one line per step. Kept free of TensorFlow, which the report process never
imports.
"""

from __future__ import annotations

import re

_EPOCH_LINE = re.compile(r"^epoch +\d+/\d+  ")


def epoch_line(epoch: int, epochs: int, row: dict[str, float], *, best: bool) -> str:
    """One training epoch: losses and accuracies, seconds, and whether it is the best so far."""
    return (
        f"epoch {epoch:>3}/{epochs}  loss {row['loss']:.4f}  "
        f"acc {row['accuracy']:.4f}  val_loss {row['val_loss']:.4f}  "
        f"val_acc {row['val_accuracy']:.4f}  {row['seconds']:.0f}s" + ("  *best" if best else "")
    )


def is_progress_line(line: str) -> bool:
    """Whether a line a notebook printed is one of facegen's progress lines."""
    return bool(_EPOCH_LINE.match(line))
