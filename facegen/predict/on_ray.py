"""``facegen predict --ray`` and ``facegen evaluate --ray``: the same per-file work as
in-process, as a Ray Data job.

Imported only when ``--ray`` is given. Files go to Ray in blocks (``CROP_BLOCK`` crops, or as
many photos as a worker process takes at once in-process); each block is decoded, searched,
aligned (``classify.analyse_files``) and classified (``inference.predict_proba``) in an actor
that loads the detector and the model's ONNX copy once, in its constructor, so nothing
unpicklable is ever sent and TensorFlow is never imported. The rows are ``output.rows``'s, the
CSV's columns: one per face, one per file without a face.

The output is a Parquet folder. Each block's rows become one file, named by a hash of the
block's files and written under a hidden temporary name, then renamed: a reader never sees half
a file. Run again with the same folder, a job skips every file already in it, so an interrupted
job goes on where it stopped and nothing is done twice.

``evaluate --ray`` sends a collection's files in the chunks in-process evaluation frames
(``faces.batch._frame_chunk``), classifies each chunk in its actor, keeps each chunk's answer as
a Parquet part (resumable the same way), and evaluates the gathered faces here as
``runs.collection_scores`` always does; it writes the same tables as without ``--ray``.

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
from dataclasses import dataclass, field
from pathlib import Path

from facegen.cluster import require_ray, start_ray
from facegen.errors import UsageError
from facegen.predict.inputs import InputFile
from facegen.quiet import captured_stderr

PART_PREFIX = "part-"
CROP_BLOCK = 256
"""Crops sent to an actor at once, and written as one part file. Each block costs the driver and
Ray a task, an answer and a Parquet file however few crops it holds, and the actor a detector
and a model call; 256 (in-process workers take 32) makes that small beside the crops' own cost,
and 4,096 crops still make 16 blocks for the actors to share. Photos, each worth dozens of
crops, go in-process's few at a time."""


def model_for_actors(model_path: str | os.PathLike) -> Path:
    """The ONNX file the actors load: the model itself, or a ``.keras`` model's checked copy.
    A Keras model without one would start TensorFlow in every actor, so it is refused."""
    from facegen.modeling.export import onnx_path
    from facegen.modeling.saving import current_copy, require_model_file

    path = require_model_file(model_path)
    if path.suffix == ".onnx":
        return path
    copy = onnx_path(path)
    if current_copy(path) is not None:
        return copy
    raise UsageError(
        f"{path}: --ray runs the model's ONNX copy and {copy} is missing or out of date; "
        "save the model again (modeling.saving.save_model) or predict without --ray"
    )


def process_cpu() -> float:
    """CPU seconds this process has used so far, all its threads (user and system)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Actor:
    """What both actors share: one thread each for OpenCV, the detector and the classifier (an
    actor holds one CPU; onnxruntime's default, a thread per core that spins between calls,
    doubled the CPU a face), both networks loaded and run once in the constructor, so that
    start-up is paid and counted before the first block; and each answer says what CPU its
    process has used, for ``RayJob.actor_cpu``."""

    def __init__(self, model: str) -> None:
        import numpy as np

        from facegen.faces import detect
        from facegen.faces.workers import one_thread_each
        from facegen.modeling.saving import load_onnx

        one_thread_each()
        detect.detect_in_crops([np.zeros((8, 8, 3), np.uint8)])
        self.model = load_onnx(model, threads=1)
        self.model(np.zeros((1, *self.model.input_shape[1:]), np.uint8))
        self.ready_cpu = process_cpu()

    def _report(self, answer: dict) -> dict:
        count = len(next(iter(answer.values())))
        return answer | {
            "pid": [os.getpid()] * count,
            "ready_cpu": [self.ready_cpu] * count,
            "cpu": [process_cpu()] * count,
        }


class _Classifier(_Actor):
    """One Ray actor for ``predict --ray``: a block of files at a time."""

    def __init__(self, model: str, cropped: bool, batch_size: int, views: str | None) -> None:
        super().__init__(model)
        self.size = int(self.model.input_shape[1])
        self.cropped, self.batch_size, self.views = cropped, batch_size, views

    def __call__(self, batch: dict) -> dict:
        return self._report({
            "block": list(batch["block"]),
            "rows": [json.dumps(self.rows(json.loads(block))) for block in batch["files"]],
        })  # fmt: skip

    def rows(self, block: list[list[str]]) -> list[dict]:
        """The output rows of one block of ``(path, name)`` pairs, in the block's order."""
        from facegen.predict.classify import analyse_files, classify_analysed
        from facegen.predict.output import rows

        results = analyse_files([path for path, _ in block], self.size, self.cropped)
        for result, (_, name) in zip(results, block, strict=True):
            result.name = name
        classify_analysed(results, self.model, batch_size=self.batch_size, views=self.views)
        return rows(results)


@dataclass
class RayJob:
    """What a ``--ray`` job did: files classified now, files found done by an earlier run, and
    each actor's CPU seconds, by process id: (when it was ready, at its last answer). The
    second less the first is the CPU its blocks cost; the first, its start-up
    (``benchmarks/bench_ray.py`` tells the two apart with it)."""

    out: Path
    done_before: int
    done_now: int
    actor_cpu: dict[int, tuple[float, float]] = field(default_factory=dict)


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
    block_files: int | None = None,
) -> RayJob:
    """Classify ``inputs`` on Ray into the Parquet folder ``out``, skipping files already there.

    ``actors``: how many (None: one per CPU of the cluster). ``block_files``: files a block
    (None: ``CROP_BLOCK`` crops, or in-process's few photos). ``stop_after`` ends the job after
    that many blocks were written, as an interrupted one would (for tests).
    """
    from facegen.predict.classify import _PHOTO_CHUNK

    ray = require_ray()
    model = str(model_for_actors(model_path))
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: --ray writes a Parquet folder, and this is a file")
    _refuse_repeated_names(inputs)
    out.mkdir(parents=True, exist_ok=True)
    _check_same_job(out, model, cropped=bool(cropped), views=views)
    _clean_temporary(out)
    done = done_files(out)
    todo = [item for item in inputs if item.name not in done]
    unusable = [item for item in todo if item.problem is not None]
    if unusable:
        write_part(out, _block_name([(str(i.path), i.name) for i in unusable]), [
            {"file": i.name, "status": "error", "detail": i.problem} for i in unusable
        ])  # fmt: skip
    readable = [(str(item.path), item.name) for item in todo if item.problem is None]
    step = block_files or (CROP_BLOCK if cropped else _PHOTO_CHUNK)
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


def _check_same_job(
    out: Path, model: str, remedy: str = "or write to a new -o", **settings
) -> None:
    """Record the job in ``out`` (the model's hash and ``settings``), or refuse to resume one
    made with another model or settings (saying ``remedy``): the folder's rows would otherwise
    mix two models' answers."""
    from facegen.atomic import atomic_write_text
    from facegen.modeling.export import file_sha256

    job = {"model_sha256": file_sha256(model), **settings}
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
                f"resume it with the same model and options, {remedy}"
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
    job.actor_cpu = _map_on_ray(
        ray, _Classifier, kwargs, items, done, total=total, terminal=terminal,
        progress=progress, verbose=verbose, actors=actors, stop_after=stop_after,
    )  # fmt: skip


def _map_on_ray(ray, actor, kwargs, items, done, *, total, terminal, progress, verbose,
                actors=None, stop_after=None) -> dict[int, tuple[float, float]]:  # fmt: skip
    """Each of ``items`` through a pool of ``actor`` (one CPU each, built once with ``kwargs``),
    one item per call; ``done(row)`` takes each answer as it comes and says how many files it
    held. Gives each actor's CPU, as ``RayJob.actor_cpu``. The items start in the object store
    (``from_items``), so no read task waits behind the actors for a CPU (on 2 cores, Ray Data's
    default read tasks stall: issue 22)."""
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
        answered, cpu = 0, {}
        with tqdm(total=total, desc="classifying on Ray", unit="img", file=terminal,
                  disable=not progress, leave=False) as bar:  # fmt: skip
            for row in dataset.iter_rows():
                cpu[int(row["pid"])] = (float(row["ready_cpu"]), float(row["cpu"]))
                bar.update(done(row))
                answered += 1
                if stop_after is not None and answered >= stop_after:
                    break
    finally:
        if started:
            ray.shutdown()
    return cpu


class _Framer(_Actor):
    """One Ray actor for ``facegen evaluate --ray``: a chunk of crops framed by the function
    in-process evaluation uses (``faces.batch._frame_chunk``), then classified; the answer is
    the chunk's part file, as Parquet bytes (``_chunk_table``)."""

    def __init__(self, model: str, size: int, views: str | None) -> None:
        super().__init__(model)
        self.size, self.views = size, views

    def __call__(self, batch: dict) -> dict:
        import io

        import numpy as np
        import pyarrow.parquet as pq

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
            buffer = io.BytesIO()
            pq.write_table(_chunk_table(chunk, p_female), buffer)
            answers.append(buffer.getvalue())
        return self._report({"part": list(batch["part"]), "answer": answers})


def _chunk_table(chunk, p_female):
    """One framed and classified chunk as a table: a row per file, in the chunk's order of
    framed files then unusable ones; ``face`` holds the model input's bytes (row-major uint8),
    ``error`` why a file could not be used."""
    import pyarrow as pa

    framed = chunk.framed
    return pa.table(
        {
            "file": [name for name, _ in framed] + list(chunk.errors),
            "error": [None] * len(framed) + list(chunk.errors.values()),
            "face": [face.face.tobytes() for _, face in framed] + [None] * len(chunk.errors),
            "framing": [str(face.framing) for _, face in framed] + [None] * len(chunk.errors),
            "turn": [float(face.turn) for _, face in framed] + [None] * len(chunk.errors),
            "p_female": [float(p) for p in p_female] + [None] * len(chunk.errors),
        },
        schema=pa.schema([("file", pa.string()), ("error", pa.string()), ("face", pa.binary()),
                          ("framing", pa.string()), ("turn", pa.float64()),
                          ("p_female", pa.float64())]),
    )  # fmt: skip


class Stopped(Exception):
    """``frame_and_classify(stop_after=...)`` stopped the job, as an interruption would."""


def frame_and_classify(
    files: Sequence[str],
    paths: Sequence[str],
    size: int,
    model_path: str | os.PathLike,
    *,
    views: str | None,
    parts: str | os.PathLike | None = None,
    progress: bool = False,
    verbose: bool = False,
    chunk_files: int | None = None,
    stop_after: int | None = None,
):
    """``faces.batch.frame_files``'s result for a collection, and each kept face's P(female),
    from actors on Ray (``evaluate --ray``). Files that cannot be used keep their reasons.

    ``parts``: a folder for the job's progress, one Parquet file per chunk of ``chunk_files``
    files (default: in-process evaluation's chunk), written under a temporary name and renamed.
    Run again with the same folder, chunks already there are read, not sent: an interrupted
    job goes on where it stopped. The folder records the model, size and views, and refuses
    another. None: a temporary folder, nothing kept. ``stop_after`` raises ``Stopped`` once
    that many chunks were written (for tests).
    """
    import tempfile

    from facegen.atomic import atomic_write_bytes
    from facegen.faces.batch import _BATCH

    ray = require_ray()
    model = str(model_for_actors(model_path))
    folder = (
        tempfile.TemporaryDirectory(prefix="facegen-ray-")
        if parts is None
        else contextlib.nullcontext(parts)
    )
    with folder as parts:
        parts = Path(parts)
        parts.mkdir(parents=True, exist_ok=True)
        _check_same_job(parts, model, "or delete the folder to start again", size=int(size),
                        views=views)  # fmt: skip
        _clean_temporary(parts)
        step = chunk_files or _BATCH
        chunks = {}
        for start in range(0, len(paths), step):
            chunk = [
                list(files[start : start + step]),
                [str(p) for p in paths[start : start + step]],
            ]
            chunks[_block_name(list(zip(*chunk, strict=True)))] = chunk
        items = [{"part": name, "files": json.dumps(chunk)}
                 for name, chunk in chunks.items() if not (parts / name).exists()]  # fmt: skip
        written = 0

        def done(row: dict) -> int:
            nonlocal written
            atomic_write_bytes(parts / row["part"], row["answer"])
            written += 1
            if stop_after is not None and written >= stop_after:
                raise Stopped(f"stopped after {written} chunks")
            return len(chunks[row["part"]][0])

        if items:
            terminal = os.fdopen(os.dup(2), "w")
            with terminal, contextlib.nullcontext() if verbose else captured_stderr():
                _map_on_ray(
                    ray, _Framer, {"model": model, "size": size, "views": views}, items, done,
                    total=sum(len(chunks[item["part"]][0]) for item in items), terminal=terminal,
                    progress=progress, verbose=verbose,
                )  # fmt: skip
        return _read_chunks([parts / name for name in chunks], size)


def _read_chunks(parts: Sequence[Path], size: int):
    """The chunks' part files, in order, as ``faces.batch.FramedArrays`` and each face's
    P(female); a damaged part names its file (delete it, and a rerun makes it again)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from facegen.faces.batch import FramedArrays
    from facegen.faces.framing import Framing

    tables = []
    for part in parts:
        try:
            tables.append(pq.read_table(part))
        except (OSError, pa.ArrowException) as exc:
            raise UsageError(
                f"{part}: cannot be read ({exc}); delete it and run again to redo its chunk"
            ) from None
    table = pa.concat_tables(tables) if tables else None
    rows = table.to_pydict() if table is not None else {"file": [], "error": []}
    kept = [i for i, error in enumerate(rows["error"]) if error is None]
    images = (
        np.frombuffer(b"".join(rows["face"][i] for i in kept), np.uint8).reshape(-1, size, size)
        if kept
        else np.zeros((0, size, size), np.uint8)
    )
    framed = FramedArrays(
        images=images.copy(),
        files=[rows["file"][i] for i in kept],
        framing=[Framing(rows["framing"][i]) for i in kept],
        turn=np.array([rows["turn"][i] for i in kept], dtype=np.float64),
        errors={rows["file"][i]: e for i, e in enumerate(rows["error"]) if e is not None},
    )
    return framed, np.array([rows["p_female"][i] for i in kept], dtype=np.float64)


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
