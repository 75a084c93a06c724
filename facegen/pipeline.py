"""Run the four notebooks with papermill into a run folder, and describe the run.

``run_report`` is ``make report`` and ``facegen report``. A run folder holds the executed
notebooks, one HTML page each, the figures, ``metrics.json``, the model, the split, a model card
and ``manifest.json``; ``reports/index.html`` lists every run. A failing notebook stops the run,
which is then marked failed (in its manifest, in the index, in a FAILED file) rather than
looking like a result.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from facegen import config
from facegen.atomic import atomic_write_text
from facegen.manifest import finish_manifest, new_manifest, write_manifest
from facegen.runs import Settings

NOTEBOOKS = ("01_eda", "02_preprocessing", "03_training", "04_evaluation")
NOTEBOOK_TITLES = {
    "01_eda": "1. Exploring the data",
    "02_preprocessing": "2. Preprocessing and split",
    "03_training": "3. Training",
    "04_evaluation": "4. Evaluation",
}


class ReportFailed(RuntimeError):
    """A notebook failed; the message names the notebook, the cell and the error."""


def reports_dir() -> Path:
    return config.PROJECT_ROOT / "reports"


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
    return parameters


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
    root = Path(root).absolute() if root else reports_dir()
    run_dir = root / (run_id or new_run_id(settings))
    run_dir.mkdir(parents=True, exist_ok=False)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the kernels inherit it: quieter reports
    if progress:
        _show_cell_output()
    manifest = new_manifest(run_dir, settings, parameters)
    write_manifest(run_dir, manifest)
    start = time.perf_counter()
    for number, name in enumerate(NOTEBOOKS, 1):
        _say(progress, f"[{number}/{len(NOTEBOOKS)}] {name} ...")
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
        _say(progress, f"[{number}/{len(NOTEBOOKS)}] {name} done in {seconds:.0f} s")
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


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

_CODE_TOGGLE = """
<style>
  body.fg-hide-code .jp-CodeCell .jp-Cell-inputWrapper,
  body.fg-hide-code .jp-OutputPrompt, body.fg-hide-code .jp-InputPrompt,
  body.fg-hide-code .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]
    { display: none !important; }
  .fg-bar { position: sticky; top: 0; z-index: 10; background: #fff; padding: 6px 12px;
            border-bottom: 1px solid #ddd; font: 14px system-ui, sans-serif; }
  .fg-bar button { margin-left: 12px; }
</style>
<div class="fg-bar"><a href="../index.html">All runs</a> · run <b>{run}</b> · {title}
  <button onclick="document.body.classList.toggle('fg-hide-code');
    this.textContent = document.body.classList.contains('fg-hide-code')
    ? 'Show code' : 'Hide code'">Show code</button></div>
"""


def export_html(notebook: Path, target: Path, run_id: str) -> Path:
    """One page per notebook: outputs and narrative first, the code one click away."""
    import nbformat
    from nbconvert import HTMLExporter

    logging.getLogger("traitlets").setLevel(logging.ERROR)  # "alt text missing" per figure
    node = nbformat.read(notebook, as_version=4)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(node)
    title = NOTEBOOK_TITLES.get(notebook.stem, notebook.stem)
    bar = _CODE_TOGGLE.replace("{run}", html.escape(run_id)).replace("{title}", title)
    tag = re.search(r"<body([^>]*)>", body)
    attributes = tag.group(1)
    if 'class="' in attributes:
        attributes = attributes.replace('class="', 'class="fg-hide-code ', 1)
    else:
        attributes += ' class="fg-hide-code"'
    body = f"{body[: tag.start()]}<body{attributes}>{bar}{body[tag.end() :]}"
    body = body.replace("<title>", f"<title>{html.escape(title)} · ", 1)
    atomic_write_text(target, body)
    return target


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def write_index(root: str | os.PathLike | None = None) -> Path:
    """``reports/index.html``: every run, newest first, with its headline numbers and links."""
    root = Path(root).absolute() if root else reports_dir()
    rows = []
    for manifest_path in sorted(root.glob("*/manifest.json"), reverse=True):
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        run = manifest_path.parent.name
        head = manifest.get("headline", {})
        params = manifest.get("parameters", {})
        status = manifest.get("status", "?")
        if status in ("failed", "interrupted"):
            failure = manifest.get("failure", {})
            where = (
                f"{failure['notebook']} cell [{failure.get('cell')}]"
                if failure.get("notebook")
                else "training (facegen train)"
            )
            status = f"{status} in {where}"
        links = " ".join(
            f'<a href="{run}/{name}.html">{name[:2]}</a>'
            for name in NOTEBOOKS
            if (manifest_path.parent / f"{name}.html").exists()
        )
        if (manifest_path.parent / "model_card.html").exists():
            links += f' <a href="{run}/model_card.html">model card</a>'
        links += f' <a href="{run}/manifest.json">manifest</a>'
        accuracy = head.get("test_accuracy")
        interval = (
            f" [{_fmt(head.get('test_accuracy_low'))}, {_fmt(head.get('test_accuracy_high'))}]"
            if accuracy is not None
            else ""
        )
        worst = (
            f"{_fmt(head.get('worst_subgroup'))}: {_fmt(head.get('worst_subgroup_accuracy'))}"
            if head.get("worst_subgroup")
            else "–"
        )
        rows.append(
            f"<tr class='{html.escape(manifest.get('status', ''))}'><td>{html.escape(run)}</td>"
            f"<td>{html.escape(status)}</td><td>{_fmt(params.get('profile'))}</td>"
            f"<td>{_fmt(params.get('epochs'))}</td><td>{_fmt(accuracy)}{interval}</td>"
            f"<td>{_fmt(head.get('f1_macro'))}</td><td>{worst}</td>"
            f"<td>{_fmt(manifest.get('wall_seconds'), 0)} s</td><td>{links}</td></tr>"
        )
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>facegen runs</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em;color:#222}}
table{{border-collapse:collapse}}
td,th{{padding:6px 10px;border-bottom:1px solid #ddd;text-align:left}}
tr.failed td,tr.running td{{color:#a00}}th{{background:#f4f4f4}}</style></head><body>
<h1>facegen runs</h1>
<p>Facial gender classification on UTKFace (binary perceived-gender labels). Test accuracy with its
95% bootstrap interval; the worst subgroup is the lowest accuracy among age bands, ethnicities and
genders. Failed or unfinished runs are marked and hold no result.</p>
<table><tr><th>run</th><th>status</th><th>profile</th><th>epochs</th><th>test accuracy</th>
<th>macro F1</th><th>worst subgroup</th><th>wall time</th><th>pages</th></tr>
{"".join(rows) or "<tr><td colspan=9>No runs yet: <code>make report</code></td></tr>"}
</table></body></html>
"""
    target = root / "index.html"
    atomic_write_text(target, page)
    return target


def write_model_card(run_dir: Path) -> Path:
    """``model_card.md`` and ``model_card.html``, filled from the run's own files."""
    from facegen.model_card import render_model_card

    markdown, page = render_model_card(run_dir)
    atomic_write_text(run_dir / "model_card.md", markdown)
    atomic_write_text(run_dir / "model_card.html", page)
    return run_dir / "model_card.html"
