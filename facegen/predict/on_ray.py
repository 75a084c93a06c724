"""``facegen predict --ray`` and ``facegen evaluate --ray``: the same per-file work as
in-process, as a Ray Data job.

Imported only when ``--ray`` is given. Files go to Ray in blocks (as many as a worker process
takes at once in-process); each block is decoded, searched, aligned (``classify.analyse_files``)
and classified (``inference.predict_proba``) in an actor that loads the detector and the
model's ONNX copy once, in its constructor, so nothing unpicklable is ever sent and TensorFlow is
never imported. The rows are ``output.rows``'s, the CSV's columns: one per face, one per file
without a face.

The output is a Parquet folder. Each block's rows become one file, named by a hash of the
block's files and written under a hidden temporary name, then renamed: a reader never sees half
a file. Run again with the same folder, a job skips every file already in it, so an interrupted
job goes on where it stopped and nothing is done twice.

``evaluate --ray`` sends a collection's files in the chunks in-process evaluation frames
(``faces.batch._frame_chunk``), classifies each chunk in its actor, and evaluates the gathered
faces here as ``runs.collection_scores`` always does; it writes the same tables, not Parquet.

Without ``RAY_ADDRESS`` a local Ray starts on this machine, on 127.0.0.1 only, without a
dashboard; with it, the job joins that cluster as Ray's own tools do. Ray's own warnings and
log lines reach the terminal only with ``-v``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from facegen.cluster import require_ray, start_ray
from facegen.errors import UsageError
from facegen.predict.inputs import InputFile
from facegen.quiet import captured_stderr

PART_PREFIX = "part-"


def model_for_actors(model_path: str | os.PathLike) -> Path:
    """The ONNX file the actors load: the model itself, or a ``.keras`` model's checked copy.
    A Keras model without one would start TensorFlow in every actor, so it is refused."""
    from facegen.modeling.export import onnx_path
    from facegen.modeling.saving import current_copy

    path = Path(model_path)
    if path.suffix == ".onnx":
        return path
    copy = onnx_path(path)
    if current_copy(path) is not None:
        return copy
    raise UsageError(
        f"{path}: --ray runs the model's ONNX copy and {copy} is missing or out of date; "
        "save the model again (modeling.saving.save_model) or predict without --ray"
    )


class _Classifier:
    """One Ray actor: the detector and the classifier loaded once, then a block at a time."""

    def __init__(self, model: str, cropped: bool, batch_size: int, views: str | None) -> None:
        import cv2

        from facegen.faces import detect
        from facegen.modeling.saving import load_onnx

        cv2.setNumThreads(1)
        detect.use_threads(1)
        self.model = load_onnx(model)
        self.size = int(self.model.input_shape[1])
        self.cropped, self.batch_size, self.views = cropped, batch_size, views

    def __call__(self, batch: dict) -> dict:
        return {
            "block": list(batch["block"]),
            "rows": [json.dumps(self.rows(json.loads(block))) for block in batch["files"]],
        }

    def rows(self, block: list[list[str]]) -> list[dict]:
        """The output rows of one block of ``(path, name)`` pairs, in the block's order."""
        from facegen.predict.classify import analyse_files, classify_analysed
        from facegen.predict.output import rows

        results = analyse_files([path for path, _ in block], self.size, self.cropped)
        for result, (_, name) in zip(results, block, strict=True):
            result.name = name
        classify_analysed(results, self.model, batch_size=self.batch_size, views=self.views)
        return _jsonable(rows(results))


def _jsonable(table: list[dict]) -> list[dict]:
    return [{k: (str(v) if k in ("status", "framing") and v is not None else v)
             for k, v in row.items()} for row in table]  # fmt: skip


@dataclass
class RayJob:
    """What a ``--ray`` job did: files classified now, files found done by an earlier run."""

    out: Path
    done_before: int
    done_now: int


def done_files(out: Path) -> set[str]:
    """The files the output folder already accounts for (its finished part files)."""
    import pyarrow.parquet as pq

    files: set[str] = set()
    for part in sorted(out.glob(f"{PART_PREFIX}*.parquet")):
        files.update(pq.read_table(part, columns=["file"]).column("file").to_pylist())
    return files


def _clean_temporary(out: Path) -> None:
    """Temporary files a killed job left (hidden, ``.tmp``): never read, removed on restart."""
    for leftover in out.glob(f".{PART_PREFIX}*.tmp"):
        leftover.unlink(missing_ok=True)


def _block_name(block: Sequence[tuple[str, str]]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for _, name in block:
        digest.update(name.encode() + b"\n")
    return f"{PART_PREFIX}{digest.hexdigest()}.parquet"


def write_part(out: Path, name: str, table: list[dict]) -> None:
    """One block's rows as one Parquet file, written under a temporary name then renamed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from facegen.atomic import atomic_path

    with atomic_path(out / name) as tmp:
        pq.write_table(pa.Table.from_pylist(table, schema=schema()), tmp)


def schema():
    """The Parquet columns: the CSV's, typed (faceless files leave the face's empty)."""
    import pyarrow as pa

    from facegen.predict.output import COLUMNS

    types = {column: pa.int32() for column in ("face", "x", "y", "width", "height")}
    types |= {"probability": pa.float64(), "p_female": pa.float64()}
    return pa.schema([(column, types.get(column, pa.string())) for column in COLUMNS])


def _quiet_ray_data(verbose: bool) -> None:
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # ours is on stderr, one bar for the job
    if hasattr(context, "print_on_execution_start"):
        context.print_on_execution_start = verbose
    if not verbose:
        for name in ("ray", "ray.data", "ray.serve"):
            logging.getLogger(name).setLevel(logging.ERROR)


def predict_on_ray(
    inputs: Sequence[InputFile],
    model_path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    cropped: bool = False,
    batch_size: int = 1024,
    views: str | None = None,
    progress: bool = True,
    verbose: bool = False,
    actors: int | None = None,
    stop_after: int | None = None,
) -> RayJob:
    """Classify ``inputs`` on Ray into the Parquet folder ``out``, skipping files already there.

    ``actors``: how many (None: one per CPU of the cluster). ``stop_after`` ends the job after
    that many blocks were written, as an interrupted one would (for tests).
    """
    from facegen.predict.classify import _CHUNK, _PHOTO_CHUNK

    ray = require_ray()
    model = str(model_for_actors(model_path))
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: --ray writes a Parquet folder, and this is a file")
    _refuse_repeated_names(inputs)
    out.mkdir(parents=True, exist_ok=True)
    _check_same_job(out, model, cropped=cropped, views=views)
    _clean_temporary(out)
    done = done_files(out)
    todo = [item for item in inputs if item.name not in done]
    unusable = [item for item in todo if item.problem is not None]
    if unusable:
        write_part(out, _block_name([(str(i.path), i.name) for i in unusable]), [
            {"file": i.name, "status": "error", "detail": i.problem} for i in unusable
        ])  # fmt: skip
    readable = [(str(item.path), item.name) for item in todo if item.problem is None]
    step = _CHUNK if cropped else _PHOTO_CHUNK
    blocks = [readable[i : i + step] for i in range(0, len(readable), step)]
    job = RayJob(out, done_before=len(inputs) - len(todo), done_now=len(unusable))
    if not blocks:
        return job
    # Ray's C++ core writes its warnings and error lines (one per actor pool) straight to file
    # descriptor 2: without -v they are captured, and shown only if the job fails.
    terminal = os.fdopen(os.dup(2), "w")
    with terminal, contextlib.nullcontext() if verbose else captured_stderr():
        _run_blocks(ray, job, blocks, model, terminal, cropped=cropped, batch_size=batch_size,
                    views=views, progress=progress, verbose=verbose, actors=actors,
                    stop_after=stop_after)  # fmt: skip
    return job


JOB_FILE = "_facegen_job.json"
"""What a Parquet folder's rows were made with; a resumed job must match it. The leading
underscore keeps it out of what pyarrow and pandas read as the data set."""


def _check_same_job(out: Path, model: str, *, cropped: bool, views: str | None) -> None:
    """Record the job in ``out``, or refuse to resume one made with another model or settings:
    the folder's rows would otherwise mix two models' answers."""
    from facegen.atomic import atomic_write_text
    from facegen.modeling.export import file_sha256

    job = {"model_sha256": file_sha256(model), "cropped": bool(cropped), "views": views}
    path = out / JOB_FILE
    if path.exists():
        try:
            recorded = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise UsageError(f"{path}: cannot read the job this folder holds ({exc})") from None
        changed = sorted(key for key in job if recorded.get(key) != job[key])
        if changed:
            raise UsageError(
                f"{out} holds a job made with another {', '.join(changed)}; "
                "resume it with the same model and options, or write to a new -o"
            )
    else:
        atomic_write_text(path, json.dumps(job, indent=2) + "\n")


def _refuse_repeated_names(inputs: Sequence[InputFile]) -> None:
    """Rows and resuming go by the name a file is shown under; two inputs shown under one name
    (photos/x.jpg from two folders called photos) would be taken for one file."""
    seen: dict[str, str] = {}
    for item in inputs:
        if item.name in seen and seen[item.name] != str(item.path):
            raise UsageError(
                f"{seen[item.name]} and {item.path} are both shown as {item.name}: --ray needs "
                "one name per file; pass their parent folders, or the files themselves"
            )
        seen[item.name] = str(item.path)


def _run_blocks(ray, job, blocks, model, terminal, *, cropped, batch_size, views, progress,
                verbose, actors, stop_after) -> None:  # fmt: skip
    names = {_block_name(block): block for block in blocks}
    items = [{"block": name, "files": json.dumps(block)} for name, block in names.items()]
    kwargs = {"model": model, "cropped": cropped, "batch_size": batch_size, "views": views}

    def done(row: dict) -> int:
        write_part(job.out, row["block"], json.loads(row["rows"]))
        job.done_now += len(names[row["block"]])
        return len(names[row["block"]])

    total = sum(len(block) for block in blocks)
    _map_on_ray(
        ray, _Classifier, kwargs, items, done, total=total, terminal=terminal,
        progress=progress, verbose=verbose, actors=actors, stop_after=stop_after,
    )  # fmt: skip


def _map_on_ray(ray, actor, kwargs, items, done, *, total, terminal, progress, verbose,
                actors=None, stop_after=None) -> None:  # fmt: skip
    """Each of ``items`` through a pool of ``actor`` (one CPU each, built once with ``kwargs``),
    one item per call; ``done(row)`` takes each answer as it comes and says how many files it
    held. The items start in the object store (``from_items``), so no read task waits behind
    the actors for a CPU (on 2 cores, Ray Data's default read tasks stall: issue 22)."""
    from tqdm import tqdm

    started = start_ray(ray, verbose=verbose)
    try:
        _quiet_ray_data(verbose)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        pool = max(1, min(actors or cpus, len(items)))
        dataset = ray.data.from_items(items, override_num_blocks=min(len(items), 4 * pool))
        dataset = dataset.map_batches(
            actor, fn_constructor_kwargs=kwargs, batch_size=1, num_cpus=1, concurrency=pool
        )
        answered = 0
        with tqdm(total=total, desc="classifying on Ray", unit="img", file=terminal,
                  disable=not progress, leave=False) as bar:  # fmt: skip
            for row in dataset.iter_rows():
                bar.update(done(row))
                answered += 1
                if stop_after is not None and answered >= stop_after:
                    break
    finally:
        if started:
            ray.shutdown()


class _Framer:
    """One Ray actor for ``facegen evaluate --ray``: a chunk of crops framed by the function
    in-process evaluation uses (``faces.batch._frame_chunk``), then classified."""

    def __init__(self, model: str, size: int, views: str | None) -> None:
        import cv2

        from facegen.faces import detect
        from facegen.modeling.saving import load_onnx

        cv2.setNumThreads(1)
        detect.use_threads(1)
        self.model = load_onnx(model)
        self.size, self.views = size, views

    def __call__(self, batch: dict) -> dict:
        import pickle

        import numpy as np

        from facegen.faces.batch import _frame_chunk
        from facegen.modeling.inference import predict_proba

        answers = []
        for files in batch["files"]:
            chunk = _frame_chunk(tuple(json.loads(files)), self.size)
            faces = [framed.face for _, framed in chunk.framed]
            p_female = (
                predict_proba(self.model, np.stack(faces), views=self.views)
                if faces
                else np.zeros(0)
            )
            answers.append(pickle.dumps((chunk, p_female)))
        return {"index": list(batch["index"]), "answer": answers}


def frame_and_classify(
    files: Sequence[str],
    paths: Sequence[str],
    size: int,
    model_path: str | os.PathLike,
    *,
    views: str | None,
    progress: bool = False,
    verbose: bool = False,
):
    """``faces.batch.frame_files``'s result for a collection, and each kept face's P(female),
    from actors on Ray (``evaluate --ray``). Files that cannot be used keep their reasons."""
    import pickle

    import numpy as np

    from facegen.faces.batch import _BATCH, assemble_chunks

    ray = require_ray()
    model = str(model_for_actors(model_path))
    chunks = [
        [list(files[start : start + _BATCH]), list(paths[start : start + _BATCH])]
        for start in range(0, len(paths), _BATCH)
    ]
    items = [{"index": i, "files": json.dumps(chunk)} for i, chunk in enumerate(chunks)]
    answers: dict[int, tuple] = {}

    def done(row: dict) -> int:
        chunk, p_female = pickle.loads(row["answer"])
        answers[int(row["index"])] = (chunk, p_female)
        return len(chunk.framed) + len(chunk.errors)

    if items:
        terminal = os.fdopen(os.dup(2), "w")
        with terminal, contextlib.nullcontext() if verbose else captured_stderr():
            _map_on_ray(
                ray, _Framer, {"model": model, "size": size, "views": views}, items, done,
                total=len(paths), terminal=terminal, progress=progress, verbose=verbose,
            )  # fmt: skip
    ordered = [answers[i] for i in range(len(items))]
    framed = assemble_chunks([chunk for chunk, _ in ordered], size)
    p_female = np.concatenate([p for _, p in ordered]) if ordered else np.zeros(0)
    return framed, p_female.astype(np.float64)


def read_rows(out: str | os.PathLike):
    """The whole output folder as one pandas table, ordered by file and face."""
    import pyarrow.parquet as pq

    parts = sorted(Path(out).glob(f"{PART_PREFIX}*.parquet"))
    if not parts:
        import pyarrow as pa

        return pa.Table.from_pylist([], schema=schema()).to_pandas()
    table = pq.ParquetDataset([str(p) for p in parts]).read().to_pandas()
    return table.sort_values(["file", "face"], na_position="first").reset_index(drop=True)


def summary(out: str | os.PathLike) -> tuple[str, bool]:
    """``output.summary``'s line for the whole folder, and whether any file was processed."""
    table = read_rows(out)
    files = table.drop_duplicates("file")
    faces = int((table["status"] == "ok").sum())
    with_faces = int((files["status"] == "ok").sum())
    faceless = int((files["status"] == "no face").sum())
    failed = int((files["status"] == "error").sum())
    from facegen.predict.output import summary_line

    line = summary_line(
        files=len(files), faces=faces, with_faces=with_faces, faceless=faceless, failed=failed
    )
    return line, failed < len(files)
