"""``make report``: the notebooks run by papermill, in order, into one run folder.

A failing notebook stops the run, which is then marked failed (manifest, index, FAILED file)
rather than looking like a result.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from facegen import config
from facegen.reporting.manifest import finish_manifest, new_manifest, write_manifest
from facegen.reporting.model_card import write_model_card
from facegen.reporting.pages import export_html, write_index
from facegen.reporting.run import Settings


class ReportFailed(RuntimeError):
    """A notebook failed; the message names the notebook, the cell and the error."""


def new_run_id(settings: Settings, kind: str | None = None) -> str:
    """``<time>-[<kind>-]<profile>-seed<seed>``; ``kind`` marks runs not made by the notebooks."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    prefix = f"{stamp}-{kind}" if kind else stamp
    return f"{prefix}-{settings.profile}-seed{settings.seed}"


def _absolute_paths(parameters: dict) -> dict:
    """The notebooks run with the run folder as their working directory, so a relative path the
    user gave (``--data-dir``, ``$FACEGEN_DATA_DIR``, ``$FACEGEN_CACHE_DIR``: relative to where
    they typed the command) is made absolute before the kernels start, which inherit the
    environment."""
    for name in (config.DATA_DIR_ENV, config.CACHE_DIR_ENV):
        if os.environ.get(name):
            os.environ[name] = str(Path(os.environ[name]).expanduser().absolute())
    if parameters.get("data_dir"):
        data_dir = str(Path(parameters["data_dir"]).expanduser().absolute())
        parameters = {**parameters, "data_dir": data_dir}
    return {**parameters, "external": _external_collections(parameters.get("external"))}


def _external_collections(given: list[str] | str | None) -> list[str]:
    """The external collections as absolute paths, each checked before any notebook starts."""
    from facegen.data.external import CollectionError
    from facegen.reporting.cross_dataset import external_paths

    paths = [path.absolute() for path in external_paths(given)]
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise CollectionError(f"external collection not found: {', '.join(missing)}")
    return [str(path) for path in paths]


def run_report(
    parameters: dict[str, Any] | None = None,
    *,
    root: str | os.PathLike | None = None,
    run_id: str | None = None,
    progress: bool = True,
) -> Path:
    """Execute the notebooks in order into ``<root>/<run-id>/`` and return that folder.

    ``parameters`` are the notebooks' papermill parameters (data_dir, image_size, seed, epochs,
    profile); ``run_dir`` is set here. Raises ReportFailed when a notebook fails.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    parameters = _absolute_paths({k: v for k, v in (parameters or {}).items() if k != "run_dir"})
    settings = Settings.resolve(
        **{k: v for k, v in parameters.items() if k in Settings.__dataclass_fields__}
    )
    root = Path(root).absolute() if root else config.REPORTS_DIR
    run_dir = root / (run_id or new_run_id(settings))
    run_dir.mkdir(parents=True, exist_ok=False)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the kernels inherit it: quieter reports
    if progress:
        _show_cell_output()
    manifest = new_manifest(run_dir, settings, parameters)
    write_manifest(run_dir, manifest)
    start = time.perf_counter()
    for number, name in enumerate(config.NOTEBOOKS, 1):
        _say(progress, f"[{number}/{len(config.NOTEBOOKS)}] {name} ...")
        began = time.perf_counter()
        output = run_dir / f"{name}.ipynb"
        try:
            papermill.execute_notebook(
                config.PROJECT_ROOT / "notebooks" / f"{name}.ipynb",
                output,
                parameters={**parameters, "run_dir": str(run_dir)},
                kernel_name="python3",
                progress_bar=False,
                log_output=progress,
                cwd=str(run_dir),
            )
        except (PapermillExecutionError, KeyboardInterrupt) as exc:
            seconds = time.perf_counter() - began
            failure = _describe_failure(name, exc)
            manifest["notebooks"].append(
                {"name": name, "seconds": round(seconds, 1), "status": "failed"}
            )
            finish_manifest(
                run_dir, manifest, "failed", time.perf_counter() - start, failure=failure
            )
            if output.exists():
                export_html(output, run_dir / f"{name}.html", run_dir.name)
            write_index(root)
            raise ReportFailed(failure["message"]) from None
        seconds = time.perf_counter() - began
        manifest["notebooks"].append(
            {"name": name, "seconds": round(seconds, 1), "status": "complete"}
        )
        export_html(output, run_dir / f"{name}.html", run_dir.name)
        write_manifest(run_dir, manifest)
        _say(progress, f"[{number}/{len(config.NOTEBOOKS)}] {name} done in {seconds:.0f} s")
    finish_manifest(run_dir, manifest, "complete", time.perf_counter() - start)
    write_model_card(run_dir)
    write_index(root)
    return run_dir


class _StdoutOnly(logging.Filter):
    """papermill logs a cell's stdout at INFO and its stderr (library warnings) at WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno == logging.INFO


def _show_cell_output() -> None:
    """Stream what cells print (the epoch lines above all) to the terminal, once."""
    logger = logging.getLogger("papermill")
    if any(getattr(h, "_facegen", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("    %(message)s"))
    handler.addFilter(_StdoutOnly())
    handler._facegen = True
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, flush=True)


def _describe_failure(name: str, exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, KeyboardInterrupt):
        return {
            "notebook": name,
            "cell": None,
            "error": "interrupted",
            "message": f"{name}: interrupted",
        }
    cell = getattr(exc, "exec_count", None)
    error = f"{getattr(exc, 'ename', type(exc).__name__)}: {getattr(exc, 'evalue', exc)}"
    return {
        "notebook": name,
        "cell": cell,
        "error": error,
        "message": f"{name}.ipynb failed in cell [{cell}]: {error}",
    }
