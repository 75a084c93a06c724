"""One call from a folder of files to a model-ready, split, quality-checked dataset.

``load_dataset()`` is what notebooks and scripts call: it finds the data, reads the labels,
collapses duplicates, preprocesses (from cache when it can), drops unreadable files with a reason,
groups near-duplicates and splits, then finds and aligns each face as any face from elsewhere is
(``faces.framing``). Everything it decided is on the returned ``Dataset``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from facegen import config
from facegen.atomic import atomic_path
from facegen.data.frame import RowStatus
from facegen.data.near_duplicates import near_duplicate_groups
from facegen.data.quality import QualityReport, quality_report
from facegen.data.split import assign_splits, write_split
from facegen.data.utkface import load_frame
from facegen.errors import BadInputError
from facegen.faces.batch import frame_files
from facegen.faces.cache import cache_key, load_faces
from facegen.faces.framing import Framing
from facegen.faces.preprocess import model_input

log = logging.getLogger(__name__)


@dataclass
class Dataset:
    """Faces, labels, split and the record of every decision taken on the way."""

    frame: pd.DataFrame  # every file found; ``split`` is set for the files used
    images: np.ndarray  # uint8 [n_used, size, size], in the order of ``used``
    data_dir: Path
    image_size: int
    seed: int
    from_cache: bool = False

    @property
    def used(self) -> pd.DataFrame:
        """The files that made it into the split, in the order of ``images``."""
        return self.frame[self.frame["split"].notna()]

    @property
    def quality(self) -> QualityReport:
        return quality_report(self.frame)

    @property
    def fingerprint(self) -> str:
        """Identifies the exact set of files found (names and contents), for manifests."""
        digest = hashlib.blake2b(digest_size=12)
        for name, fingerprint in zip(self.frame["file"], self.frame["fingerprint"], strict=False):
            digest.update(f"{name}\t{fingerprint}\n".encode())
        return digest.hexdigest()

    def part(self, split: str) -> tuple[np.ndarray, pd.DataFrame]:
        """Images and rows of one split ('train', 'val' or 'test')."""
        mask = (self.used["split"] == split).to_numpy()
        if split not in config.SPLIT_NAMES:
            raise ValueError(f"split must be one of {config.SPLIT_NAMES}, not {split!r}")
        return self.images[mask], self.used[mask]

    def sample(self, max_images: int | None, seed: int | None = None) -> Dataset:
        """A smaller dataset with at most ``max_images`` used faces, each keeping its split.

        For quick runs (the smoke profile): rows are drawn per split in proportion, so every
        split keeps some faces. Excluded files stay in the frame so the quality report holds.
        """
        used = self.used
        if max_images is None or len(used) <= max_images:
            return self
        rng = np.random.default_rng(self.seed if seed is None else seed)
        keep = np.zeros(len(used), dtype=bool)
        for name in config.SPLIT_NAMES:
            members = np.flatnonzero((used["split"] == name).to_numpy())
            take = max(1, round(max_images * len(members) / len(used))) if len(members) else 0
            keep[rng.choice(members, size=min(take, len(members)), replace=False)] = True
        frame = self.frame.copy()
        frame.loc[used.index[~keep], "split"] = np.nan
        return Dataset(
            frame=frame,
            images=self.images[keep],
            data_dir=self.data_dir,
            image_size=self.image_size,
            seed=self.seed,
            from_cache=self.from_cache,
        )

    def aligned(self, *, cache: bool = True, progress: bool = False) -> Dataset:
        """The used faces found and aligned by ``faces.framing`` (what ``load_dataset`` does by
        default), for a dataset loaded with ``align=False``: a quick run samples first and then
        aligns only the faces it keeps. A dataset already aligned is returned as it is."""
        if "framing" in self.frame:
            return self
        used = self.used
        images, framing, turn = _aligned(
            used, self.images, self.image_size, cache=cache, progress=progress
        )
        frame = self.frame.copy()
        frame["framing"] = pd.Series(framing, index=used.index).reindex(frame.index)
        frame["turn"] = pd.Series(turn, index=used.index).reindex(frame.index)
        return replace(self, frame=frame, images=images)

    def at_size(self, size: int, *, progress: bool = False) -> Dataset:
        """The same faces and split, preprocessed to another input size: a resolution ablation.

        The split is kept rather than remade, because near-duplicates are found on the pixels at
        one size and could group differently at another; a comparison across sizes then compares
        models on the very same faces.
        """
        size = config.check_image_size(size)
        if size == self.image_size:
            return self
        faces = load_faces(self.used, size, progress=progress)
        missing = sorted(set(self.used["file"]) & set(faces.errors))
        if missing:
            raise ValueError(f"{len(missing)} faces could not be read at {size} px: {missing[:3]}")
        images = faces.images[faces.index_for(self.used["file"].tolist())]
        if "framing" in self.frame:
            images, _, _ = _aligned(self.used, images, size, cache=True, progress=progress)
        return replace(self, images=images, image_size=size, from_cache=faces.from_cache)

    def labels(self, rows: pd.DataFrame) -> np.ndarray:
        """0 = male, 1 = female, as the model is trained (UTKFace's own codes)."""
        return rows["gender"].cat.codes.to_numpy().astype(np.int64)

    def split_sizes(self) -> pd.DataFrame:
        """Files per split, with the share of the used set."""
        counts = self.used["split"].value_counts().reindex(list(config.SPLIT_NAMES), fill_value=0)
        return pd.DataFrame({"files": counts, "share": (counts / counts.sum()).round(3)})

    def write_split(self, path: str | os.PathLike) -> Path:
        return write_split(self.used, path)

    def _framing_lines(self) -> list[str]:
        if "framing" not in self.frame:
            return ["Faces used as stored (not aligned)"]
        counts = self.used["framing"].value_counts()
        return ["Framing"] + [f"  {name:<12} {n:>6,}" for name, n in counts.items()]

    def __str__(self) -> str:
        sizes = self.split_sizes()
        lines = [
            f"UTKFace from {self.data_dir}",
            f"  {self.image_size}x{self.image_size} grayscale, seed {self.seed}, "
            f"fingerprint {self.fingerprint}" + (" (from cache)" if self.from_cache else ""),
            str(self.quality),
            *self._framing_lines(),
            "Split",
            *(f"  {row.Index:<5} {row.files:>6,}  ({row.share:.1%})" for row in sizes.itertuples()),
        ]
        return "\n".join(lines)


def load_dataset(
    data_dir: str | os.PathLike | None = None,
    *,
    image_size: int = config.IMAGE_SIZE,
    seed: int = config.SEED,
    download: bool = True,
    cache: bool = True,
    progress: bool = True,
    align: bool = True,
) -> Dataset:
    """Find, check, preprocess and split UTKFace (see the module docstring for the steps).

    ``align``: the model's inputs are the faces found and aligned by the same code as every
    face from elsewhere (``faces.framing``), so training and prediction share one geometry by
    construction; False keeps the stored crops as they are, which is all the quality report and
    the split need (the real-data tests use it to count quickly).
    """
    image_size = config.check_image_size(image_size)
    frame = load_frame(data_dir, download=download)
    data_dir = Path(frame["path"].iat[0]).parent if len(frame) else Path(data_dir or ".")
    usable = frame[frame["status"].eq(RowStatus.OK)]
    faces = load_faces(usable, image_size, cache=cache, progress=progress)
    unreadable = frame["file"].isin(faces.errors)
    frame.loc[unreadable, "status"] = RowStatus.UNREADABLE
    frame.loc[unreadable, "note"] = frame.loc[unreadable, "file"].map(faces.errors)

    used = frame[frame["status"].eq(RowStatus.OK)]
    if used.empty:
        raise BadInputError(
            f"No usable face images in {data_dir}: see the quality report.\n{quality_report(frame)}"
        )
    images = faces.images[faces.index_for(used["file"].tolist())]
    # Near-duplicates are found on the stored crops, so the split never depends on the detector.
    groups = _near_duplicate_groups(images, used, image_size, cache=cache)
    frame["near_dup_group"] = pd.Series(groups, index=used.index).reindex(frame.index)
    frame["near_dup_group"] = frame["near_dup_group"].astype("Int64")
    frame["split"] = assign_splits(used, groups, seed).reindex(frame.index)
    dataset = Dataset(
        frame=frame,
        images=images,
        data_dir=data_dir,
        image_size=image_size,
        seed=seed,
        from_cache=faces.from_cache,
    )
    return dataset.aligned(cache=cache, progress=progress) if align else dataset


def _aligned(
    used: pd.DataFrame, stored: np.ndarray, size: int, *, cache: bool, progress: bool
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Each used face aligned to the landmark template (whole when no face is found), with how
    it was framed and how far its head is turned.

    A file that decoded once for the stored crops decodes again here; should it not, its
    stored crop is used whole, through the same lighting step as every whole-image face,
    rather than losing a face from the split.
    """
    framed = frame_files(
        used["file"].tolist(), used["path"].tolist(), size, cache=cache, progress=progress
    )
    position = {name: i for i, name in enumerate(framed.files)}
    images, framing = stored.copy(), [Framing.WHOLE_IMAGE] * len(used)
    turn = np.full(len(used), np.nan)
    for row, name in enumerate(used["file"]):
        if name not in position:
            images[row] = model_input(stored[row], size)
            continue
        images[row] = framed.images[position[name]]
        framing[row] = framed.framing[position[name]]
        turn[row] = framed.turn[position[name]]
    return images, framing, turn


def _near_duplicate_groups(
    images: np.ndarray, used: pd.DataFrame, size: int, *, cache: bool
) -> np.ndarray:
    """Near-duplicate group per used face; cached beside the faces since it takes seconds."""
    key = cache_key(used["file"].tolist(), used["fingerprint"].tolist(), size)
    tag = f"{config.NEAR_DUPLICATE_MAX_BITS}b{config.NEAR_DUPLICATE_MIN_CORRELATION}"
    path = config.cache_dir() / f"neardup-{tag}-{key}.npy"
    if cache and path.exists():
        try:
            groups = np.load(path, allow_pickle=False)
            if len(groups) == len(used):
                return groups
        except Exception as exc:
            log.warning("Recomputing near-duplicates: unreadable %s (%s)", path, exc)
    groups = near_duplicate_groups(images)
    if cache:
        try:
            with atomic_path(path) as tmp, open(tmp, "wb") as handle:
                np.save(handle, groups)
        except OSError as exc:
            log.warning("Could not cache near-duplicate groups (%s)", exc)
    return groups
