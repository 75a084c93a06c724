"""A run folder and the settings of one run, as every notebook of the pipeline sees them.

Each notebook opens the same folder; the first to load the data pins ``split.csv`` and every
later one checks it, so all notebooks (and ``facegen train``) agree on which face is where.
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

from facegen import config
from facegen.atomic import atomic_path, atomic_write_text
from facegen.data.dataset import Dataset, load_dataset
from facegen.data.split import read_split
from facegen.errors import BadInputError, UsageError

FIGURE_DPI = 110


@dataclass(frozen=True)
class Settings:
    """The parameters a notebook was run with, with the profile's defaults filled in."""

    data_dir: str | None
    image_size: int
    seed: int
    epochs: int
    profile: str
    max_images: int | None
    n_boot: int

    @classmethod
    def resolve(
        cls,
        *,
        data_dir: str | None = None,
        image_size: int | None = None,
        seed: int | None = None,
        epochs: int | None = None,
        profile: str | None = None,
        max_images: int | None = None,
        n_boot: int | None = None,
    ) -> Settings:
        """Fill in the profile's defaults and check every value, so that a bad ``-p`` value is
        refused before any notebook starts rather than inside a kernel."""
        profile = profile or os.environ.get(config.PROFILE_ENV) or "full"
        if profile not in config.PROFILES:
            raise UsageError(f"profile must be one of {sorted(config.PROFILES)}, not {profile!r}")
        defaults = config.PROFILES[profile]
        if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
            raise UsageError(f"data_dir must be a path, not {data_dir!r}")
        if max_images is None:
            max_images = defaults["max_images"]
        return cls(
            data_dir=None if data_dir is None else str(data_dir),
            image_size=config.check_image_size(
                config.IMAGE_SIZE if image_size is None else image_size
            ),
            seed=_whole_number("seed", config.SEED if seed is None else seed, minimum=0),
            epochs=_whole_number("epochs", defaults["epochs"] if epochs is None else epochs),
            profile=profile,
            max_images=None if max_images is None else _whole_number("max_images", max_images),
            n_boot=_whole_number("n_boot", defaults["n_boot"] if n_boot is None else n_boot),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PARAMETERS: dict[str, None] = dict.fromkeys([*(f.name for f in fields(Settings)), "run_dir"])
"""The papermill parameters every notebook's ``parameters`` cell assigns, in any order, each to
its default here, None: ``Settings.resolve`` fills in the profile's values and ``Run`` the
folder. The one list of them; tests/test_notebooks.py holds each notebook's cell to it."""

OWN_PARAMETERS: dict[str, dict[str, None]] = {"05_cross_dataset": {"external": None}}
"""Parameters that one notebook alone takes, beyond ``PARAMETERS``."""


def notebook_parameters(name: str) -> dict[str, None]:
    """The names and defaults that notebook ``name``'s ``parameters`` cell assigns."""
    return {**PARAMETERS, **OWN_PARAMETERS.get(name, {})}


def _whole_number(name: str, value: Any, *, minimum: int = 1) -> int:
    """``value`` as a whole number of at least ``minimum``, or a UsageError naming the parameter
    (``-p`` values arrive as whatever Python literal was typed)."""
    try:
        number = operator.index(value)
    except TypeError:
        raise UsageError(f"{name} must be a whole number, not {value!r}") from None
    if number < minimum:
        raise UsageError(f"{name} must be at least {minimum}, not {number}")
    return number


def interactive_run_dir(settings: Settings) -> Path:
    """Where a notebook opened by hand writes: one folder per setting, so that changing ``seed``
    or ``profile`` in JupyterLab starts a fresh folder instead of failing on the split pinned by
    the previous setting.

    ``reports/interactive/<profile>-seed<seed>-size<image_size>/``, with ``-epochs<N>`` and
    ``-max<N>`` when those differ from the profile's, and ``-data<hash>`` for a data folder
    named by ``data_dir`` or ``$FACEGEN_DATA_DIR``.
    """
    defaults = config.PROFILES[settings.profile]
    name = f"{settings.profile}-seed{settings.seed}-size{settings.image_size}"
    if settings.epochs != defaults["epochs"]:
        name += f"-epochs{settings.epochs}"
    if settings.max_images != defaults["max_images"]:
        name += f"-max{settings.max_images}"
    data = settings.data_dir or os.environ.get(config.DATA_DIR_ENV)
    if data:
        folder = str(Path(data).expanduser().absolute())
        name += "-data" + hashlib.blake2b(folder.encode(), digest_size=3).hexdigest()
    return config.REPORTS_DIR / "interactive" / name


class SplitMismatchError(BadInputError):
    """The data no longer matches the split this run started with."""


class Run:
    """Paths and atomic writers for one run folder (``reports/<run-id>/``)."""

    def __init__(self, root: str | os.PathLike | None, settings: Settings) -> None:
        root = root or os.environ.get(config.RUN_DIR_ENV)
        self.root = Path(root) if root else interactive_run_dir(settings)
        self.settings = settings
        self.figures = self.root / "figures"
        self.figures.mkdir(parents=True, exist_ok=True)

    split_path = property(lambda self: self.root / "split.csv")
    model_path = property(lambda self: self.root / "model.keras")

    def dataset(self, *, progress: bool = False) -> Dataset:
        """Load the data with this run's settings, and pin or check the run's split."""
        s = self.settings
        # Sampled before aligning, so a quick run aligns only the faces it keeps.
        dataset = (
            load_dataset(
                s.data_dir, image_size=s.image_size, seed=s.seed, progress=progress, align=False
            )
            .sample(s.max_images)
            .aligned(progress=progress)
        )
        if not self.split_path.exists():
            dataset.write_split(self.split_path)
            return dataset
        pinned = read_split(self.split_path).set_index("file")["split"]
        current = dataset.used.set_index("file")["split"]
        if not current.sort_index().equals(pinned.sort_index()):
            raise SplitMismatchError(
                f"The data or settings changed since {self.split_path} was written: the split "
                "no longer matches. Start a new run folder."
            )
        return dataset

    def figure(self, figure, name: str) -> None:
        """Save a figure as ``figures/<name>.png`` and show that very PNG in the notebook.

        Showing the saved file, not the live figure, makes the HTML report and the figures
        folder identical by construction. Returns nothing, so a notebook cell ending in this
        call shows the picture and no path.
        """
        path = self.save_figure(figure, name)
        try:
            from IPython.display import Image, display

            display(Image(filename=str(path)))
        except ImportError:  # plain Python: the file is the output
            pass

    def record_data(self, dataset: Dataset) -> Path:
        """``data.json``: where the data came from, its fingerprint, quality report and split."""
        return self.write_json(
            "data.json",
            {
                "data_dir": str(dataset.data_dir),
                "fingerprint": dataset.fingerprint,
                "image_size": dataset.image_size,
                "seed": dataset.seed,
                "quality": dataset.quality.to_dict(),
                "split_sizes": dataset.split_sizes()["files"].to_dict(),
                "settings": self.settings.to_dict(),
            },
        )

    def save_figure(self, figure, name: str) -> Path:
        """Write ``figures/<name>.png`` atomically and close the figure."""
        import matplotlib.pyplot as plt

        path = self.figures / f"{name}.png"
        with atomic_path(path, suffix=".png") as tmp:
            figure.savefig(tmp, dpi=FIGURE_DPI, bbox_inches="tight")
        plt.close(figure)
        return path

    def headline(self) -> dict[str, Any]:
        """The test split's headline figures, as the evaluation notebook wrote them."""
        return json.loads((self.root / "metrics.json").read_text())["headline"]

    def write_json(self, name: str, data: Any) -> Path:
        from facegen.evaluation.jsonable import to_jsonable

        path = self.root / name
        atomic_write_text(path, json.dumps(to_jsonable(data), indent=2, sort_keys=False) + "\n")
        return path

    def write_table(self, name: str, table: pd.DataFrame) -> Path:
        path = self.root / name
        atomic_write_text(path, table.to_csv(index=False, lineterminator="\n"))
        return path


def open_run(run_dir: str | os.PathLike | None = None, **parameters: Any) -> Run:
    """The run folder for a notebook's papermill parameters (``run_dir`` plus Settings fields)."""
    return Run(run_dir, Settings.resolve(**parameters))
