"""``make report``: the notebooks run by papermill, in order, into one run folder.

Everything the notebooks will read is checked before the first one starts (``resolve_inputs``):
parameter names and values, and the data, so a typo costs one message and leaves no half-made
run folder. Once the folder exists, whatever stops the run (a failing cell, a kernel that dies,
any other exception, Ctrl-C) leaves it marked failed or interrupted, in its manifest, a FAILED
file and the index, rather than looking like a result or like a run still going.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from facegen import config
from facegen.errors import RunFailed, UsageError
from facegen.progress import is_progress_line
from facegen.reporting.model_card import write_model_card
from facegen.reporting.pages import export_html
from facegen.runs.folders import create_run_folder, new_run_id, update_index
from facegen.runs.manifest import finish_manifest, new_manifest, write_manifest
from facegen.runs.run import Settings, notebook_parameters

__all__ = ["ReportFailed", "new_run_id", "resolve_inputs", "run_report"]

KERNEL_LOG = "kernels.log"
"""What the notebooks' kernels write outside their cells (ipykernel's warnings, the last words of a
kernel that died), kept in the run folder instead of the terminal. TensorFlow starts quietly in
each kernel (``runs.notebook.start``), so its start-up lines are not among them."""

SET_BY_THE_PIPELINE = ("run_dir",)
"""Notebook parameters that ``run_report`` sets itself (one run folder per run)."""


class ReportFailed(RunFailed):
    """A notebook failed or its kernel died; the message names the notebook and, where known, the
    cell and the error."""


def _notebooks() -> list[tuple[str, Path]]:
    """The pipeline's notebooks in order, read from ``config`` at call time."""
    return [(name, config.NOTEBOOKS_DIR / f"{name}.ipynb") for name in config.NOTEBOOKS]


def known_parameters() -> list[str]:
    """Every parameter a notebook of the pipeline declares in its ``parameters`` cell
    (``run.notebook_parameters``); papermill itself would inject an unknown name and carry on."""
    return sorted({name for notebook in config.NOTEBOOKS for name in notebook_parameters(notebook)})


def _declared(parameters: dict[str, Any], notebook: str) -> dict[str, Any]:
    """The parameters ``notebook`` declares: one meant for another notebook (``external`` is
    only 05's) would make papermill warn on the terminal and inject a name nothing reads."""
    names = notebook_parameters(notebook)
    return {name: value for name, value in parameters.items() if name in names}


def check_parameter_names(parameters: dict[str, Any]) -> None:
    """Refuse a parameter no notebook declares (a typo would otherwise be ignored silently), and
    one the pipeline sets itself."""
    fixed = sorted(set(parameters) & set(SET_BY_THE_PIPELINE))
    if fixed:
        raise UsageError(
            f"{', '.join(fixed)} is set by facegen report (one new folder per run; "
            "--reports-dir chooses where)"
        )
    known = known_parameters()
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        names = ", ".join(name for name in known if name not in SET_BY_THE_PIPELINE)
        raise UsageError(
            f"unknown notebook parameter {', '.join(unknown)}; the notebooks take: {names}"
        )


def resolve_inputs(parameters: dict[str, Any]) -> tuple[dict[str, Any], Settings]:
    """Check and locate everything the notebooks will read, before the first one starts.

    Returns the parameters every notebook receives, with paths absolute and the data folder
    located (each kernel then reads the very same folder), and the run's Settings. Raises a
    UsageError (exit status 2) for an unknown parameter or a bad value, DataNotFoundError (also 2)
    when there is no data. Every other input a run reads (external face collections, for example)
    is to be located here too, so that a missing one also stops the run before it starts.
    """
    from facegen.data.utkface import locate_data_dir

    parameters = _absolute_paths(dict(parameters))
    check_parameter_names(parameters)
    settings = Settings.resolve(
        **{k: v for k, v in parameters.items() if k in Settings.__dataclass_fields__}
    )
    data_dir = str(locate_data_dir(settings.data_dir))
    return {**parameters, "data_dir": data_dir}, replace(settings, data_dir=data_dir)


def _absolute_paths(parameters: dict) -> dict:
    """The notebooks run with the run folder as their working directory, so a relative path the
    user gave (``--data-dir``, ``$FACEGEN_DATA_DIR``, ``$FACEGEN_CACHE_DIR``: relative to where
    they typed the command) is made absolute before the kernels start, which inherit the
    environment."""
    for name in (config.DATA_DIR_ENV, config.CACHE_DIR_ENV):
        if os.environ.get(name):
            os.environ[name] = str(Path(os.environ[name]).expanduser().absolute())
    if isinstance(parameters.get("data_dir"), (str, os.PathLike)):
        data_dir = str(Path(parameters["data_dir"]).expanduser().absolute())
        parameters = {**parameters, "data_dir": data_dir}
    external = _external_collections(parameters.get("external"))
    return {**parameters, "external": external} if external else parameters


def _external_collections(given: list[str] | str | None) -> list[str]:
    """The external collections as absolute paths, each checked before any notebook starts."""
    from facegen.data.external import CollectionNotFoundError
    from facegen.runs.collection_scores import external_paths

    paths = [path.absolute() for path in external_paths(given)]
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise CollectionNotFoundError(f"external collection not found: {', '.join(missing)}")
    return [str(path) for path in paths]


def run_report(
    parameters: dict[str, Any] | None = None,
    *,
    root: str | os.PathLike | None = None,
    run_id: str | None = None,
    progress: bool = True,
    verbose: bool = False,
) -> Path:
    """Execute the notebooks in order into ``<root>/<run-id>/`` and return that folder.

    ``parameters`` are the notebooks' papermill parameters (the Settings fields); ``run_dir`` is
    set here. ``progress`` prints which notebook runs and one line per training epoch to stderr;
    ``verbose`` relays everything the cells print and leaves the kernels' own output on the
    terminal. Raises ReportFailed when a notebook fails or its kernel dies, KeyboardInterrupt when
    interrupted, and any other exception as it is, each after marking the run.
    """
    parameters, settings = resolve_inputs(parameters or {})
    root = Path(root).absolute() if root else config.REPORTS_DIR
    run_dir = create_run_folder(root, run_id or new_run_id(settings), exact=run_id is not None)
    manifest = new_manifest(run_dir, settings, parameters)
    write_manifest(run_dir, manifest)
    start = time.perf_counter()
    notebooks = _notebooks()
    step, began = None, start
    try:
        for number, (name, source) in enumerate(notebooks, 1):
            step, began = name, time.perf_counter()
            _say(progress, f"[{number}/{len(notebooks)}] {name} ...")
            _execute(source, run_dir / f"{name}.ipynb", parameters, run_dir, progress, verbose)
            seconds = time.perf_counter() - began
            export_html(run_dir / f"{name}.ipynb", run_dir / f"{name}.html", run_dir.name)
            manifest["notebooks"].append(
                {"name": name, "seconds": round(seconds, 1), "status": "complete"}
            )
            write_manifest(run_dir, manifest)
            _say(progress, f"[{number}/{len(notebooks)}] {name} done in {seconds:.0f} s")
        step = "model card"
        write_model_card(run_dir)
    except BaseException as exc:
        now = time.perf_counter()
        failure = _record_failure(run_dir, manifest, step, exc, now - began, now - start)
        _raise_for(exc, f"{failure['message']} (run folder {run_dir})")
    finish_manifest(run_dir, manifest, "complete", time.perf_counter() - start)
    update_index(root)
    return run_dir


def _execute(
    source: Path, output: Path, parameters: dict, run_dir: Path, progress: bool, verbose: bool
) -> None:
    """Run one notebook with papermill in the run folder.

    What cells print reaches the terminal through ``_ProgressRelay`` (facegen's progress lines
    only, unless verbose), never through papermill's log, which adds a line per cell. The kernel's
    own stdout and stderr go to ``kernels.log`` unless verbose.
    """
    import papermill

    options: dict[str, Any] = {}
    if progress or verbose:
        options["stdout_file"] = _ProgressRelay(everything=verbose)
    if verbose:  # the cells' warnings too
        options["stderr_file"] = _ProgressRelay(everything=True)
    with contextlib.ExitStack() as stack:
        if verbose:  # the kernels inherit it: TensorFlow's start-up notices shown too
            stack.enter_context(_environment(config.VERBOSE_ENV, "1"))
        else:
            log = stack.enter_context(open(run_dir / KERNEL_LOG, "ab"))
            log.write(f"== {output.stem} ==\n".encode())
            log.flush()
            options["kernel_manager_class"] = _kernel_manager_class(log)
        papermill.execute_notebook(
            str(source),
            str(output),
            parameters=_declared({**parameters, "run_dir": str(run_dir)}, source.stem),
            kernel_name="python3",
            progress_bar=False,
            log_output=False,
            cwd=str(run_dir),
            **options,
        )


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """``name`` set to ``value`` for the block (for the kernels it starts), then as it was."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


class _ProgressRelay:
    """papermill's ``stdout_file``: receives what the cells print, as they print it, and passes
    facegen's progress lines (every line, with ``everything``) on to stderr, indented under the
    notebook's name."""

    def __init__(self, *, everything: bool = False) -> None:
        self._everything = everything
        self._partial = ""

    def write(self, text: str) -> int:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            if self._everything or is_progress_line(line):
                print(f"    {line}", file=sys.stderr, flush=True)
        return len(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _kernel_manager_class(log: IO[bytes]) -> type:
    """nbclient's kernel manager, launching each kernel with its stdout and stderr in ``log``.

    TensorFlow writes its start-up lines (and, on machines without a GPU, a ``cuInit`` error)
    from C++ straight to the kernel process's stderr, which is otherwise the terminal; no
    environment variable silences all of them in TensorFlow 2.21 (docs/decisions.md).
    """
    from jupyter_client import AsyncKernelManager

    class LoggedKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:
            kw.setdefault("stdout", log)
            kw.setdefault("stderr", log)
            await super().start_kernel(**kw)

    return LoggedKernelManager


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


def _record_failure(
    run_dir: Path,
    manifest: dict,
    step: str | None,
    exc: BaseException,
    step_seconds: float,
    seconds: float,
) -> dict[str, Any]:
    """Mark the run failed or interrupted, in the manifest, a FAILED file and the index, keep the
    page of the notebook that stopped, and return the failure. The page is a courtesy: a notebook
    cut off mid-write may not convert, and that must not stop the record."""
    failure = describe_failure(step, exc, run_dir)
    status = failure.pop("status")
    if failure["notebook"]:
        manifest["notebooks"].append(
            {"name": step, "seconds": round(step_seconds, 1), "status": status}
        )
        output = run_dir / f"{step}.ipynb"
        if output.exists():
            try:
                export_html(output, run_dir / f"{step}.html", run_dir.name)
            except Exception as error:
                failure["page"] = f"not written: {type(error).__name__}: {error}"
    finish_manifest(run_dir, manifest, status, seconds, failure=failure)
    update_index(run_dir.parent)
    return failure


def describe_failure(step: str | None, exc: BaseException, run_dir: Path) -> dict[str, Any]:
    """What stopped the run, where, and one line for the user (``message``)."""
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    notebook = step if step in config.NOTEBOOKS else None
    place = f"{notebook}.ipynb" if notebook else step or "the report"
    failure: dict[str, Any] = {"notebook": notebook, "step": step, "cell": None}
    if _is_interrupt(exc):
        cell = _running_cell(run_dir / f"{notebook}.ipynb") if notebook else None
        where = f" in cell [{cell}]" if cell is not None else ""
        failure.update(
            status="interrupted",
            cell=cell,
            error="interrupted",
            message=f"{place}: interrupted{where}",
        )
    elif isinstance(exc, PapermillExecutionError):
        error = f"{exc.ename}: {exc.evalue}"
        failure.update(
            status="failed",
            cell=exc.exec_count,
            error=error,
            message=f"{place} failed in cell [{exc.exec_count}]: {error}",
        )
    elif isinstance(exc, DeadKernelError):
        cell = _running_cell(run_dir / f"{notebook}.ipynb") if notebook else None
        where = f" in cell [{cell}]" if cell is not None else ""
        failure.update(
            status="failed",
            cell=cell,
            error=f"DeadKernelError: {exc}",
            message=f"{place}: the kernel died{where} (killed, for example for lack of memory, "
            f"or crashed); its last output is in {run_dir / KERNEL_LOG}",
        )
    else:
        error = f"{type(exc).__name__}: {exc}"
        failure.update(status="failed", error=error, message=f"{place} failed: {error}")
    return failure


def _is_interrupt(exc: BaseException) -> bool:
    """Ctrl-C reaches this process (jupyter_client starts each kernel in a session of its own);
    a kernel interrupted some other way (a SIGINT sent to it) ends its cell with
    KeyboardInterrupt, which is an interruption too, not a failure of the notebook."""
    from papermill.exceptions import PapermillExecutionError

    return isinstance(exc, KeyboardInterrupt) or (
        isinstance(exc, PapermillExecutionError) and exc.ename == "KeyboardInterrupt"
    )


def _running_cell(output: Path) -> int | None:
    """The execution count of the last cell papermill started, in the notebook it saved: the one
    running when the kernel died (papermill marks it "completed" all the same)."""
    import nbformat

    try:
        notebook = nbformat.read(output, as_version=4)
    except Exception:  # missing or half-written: the cell is then unknown
        return None
    started = [
        cell
        for cell in notebook.cells
        if cell.get("metadata", {}).get("papermill", {}).get("start_time")
    ]
    return started[-1].get("execution_count") if started else None


def _raise_for(exc: BaseException, message: str) -> None:
    """Re-raise what stopped the run as the command line should see it: a failed notebook or dead
    kernel as ReportFailed (one line, exit status 1), Ctrl-C as KeyboardInterrupt, and anything
    else, a bug, as itself with its traceback."""
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, KeyboardInterrupt):
        raise exc
    if _is_interrupt(exc):
        raise KeyboardInterrupt from exc
    if isinstance(exc, (PapermillExecutionError, DeadKernelError)):
        raise ReportFailed(message) from exc
    raise exc
