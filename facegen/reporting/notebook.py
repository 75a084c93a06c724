"""What every notebook does first and last: open the run, load its data, state the settings;
and the short summary each page opens with, filled in once the page has found it."""

from __future__ import annotations

import os
from typing import Any

from facegen import config
from facegen.data.dataset import Dataset
from facegen.quiet import start_tensorflow_quietly
from facegen.reporting.environment import environment_summary
from facegen.reporting.run import Run, open_run


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


class Summary:
    """A Markdown block shown where it is created and replaced once its figures are known.

    The opening cell of a page creates it; the page's last cell calls ``update``. Jupyter (and
    papermill, through nbclient) rewrite the first output in place, so the saved page opens with
    what it found although the figures are computed further down.
    """

    def __init__(self, placeholder: str = "*The summary appears here once the page has run.*"):
        from IPython.display import Markdown, display

        self._handle = display(Markdown(placeholder), display_id=True)

    def update(self, markdown: str) -> None:
        from IPython.display import Markdown

        if self._handle is not None:
            self._handle.update(Markdown(markdown))
