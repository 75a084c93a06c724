"""What every notebook does first: open the run, load its data, state the settings (the summary
each page opens with is ``reporting.pages.Summary``)."""

from __future__ import annotations

import os
from typing import Any

from facegen import config
from facegen.data.dataset import Dataset
from facegen.quiet import start_tensorflow_quietly
from facegen.runs.environment import environment_summary
from facegen.runs.run import Run, open_run


def start(run_dir: str | os.PathLike | None = None, **parameters: Any) -> tuple[Run, Dataset]:
    """The run folder for the notebook's papermill parameters, and its data with the split pinned.

    Prints where the data came from, its fingerprint, the settings and package versions, so each
    page states what it was computed from. TensorFlow is started first, quietly: the kernel
    forwards C++ writes to the page, and its start-up notices ("failed call to cuInit" on every
    machine without a GPU) would read there as failures; ``facegen report -v`` asks for them.
    """
    if not os.environ.get(config.VERBOSE_ENV):
        start_tensorflow_quietly()
    run = open_run(run_dir, **parameters)
    dataset = run.dataset(progress=True)
    used, source = len(dataset.used), dataset.data_dir
    print(f"{used:,} faces from {source} (fingerprint {dataset.fingerprint})")
    print(f"run folder {run.root}")
    print(run.settings)
    print(environment_summary())
    return run, dataset
