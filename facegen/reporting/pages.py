"""HTML pages: one per executed notebook, with the code one click away, and the index of runs;
and the summary each page opens with, filled in once the page has found it."""

from __future__ import annotations

import html
import json
import logging
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from facegen import config
from facegen.atomic import atomic_write_text
from facegen.reporting.templates import render

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


def export_html(notebook: Path, target: Path, run_id: str) -> Path:
    """One page per notebook: outputs and narrative first, the code one click away."""
    import nbformat
    from nbconvert import HTMLExporter

    logging.getLogger("traitlets").setLevel(logging.ERROR)  # "alt text missing" per figure
    node = nbformat.read(notebook, as_version=4)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(node)
    title = config.NOTEBOOK_TITLES.get(notebook.stem, notebook.stem)
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


def _status(manifest: dict) -> str:
    """The run's status, and for a failed or interrupted one where it stopped, so the index says
    which notebook to open without opening the manifest."""
    status = manifest.get("status", "?")
    if status not in ("failed", "interrupted"):
        return status
    return f"{status} in {_failure_place(manifest.get('failure', {}))}"


def _links(run_dir: Path) -> list[dict[str, str]]:
    """The run's pages that exist, relative to the index; quoted, since a run id is a folder name
    and may hold characters a URL cannot."""
    run = quote(run_dir.name)
    links = [
        {
            "href": f"{run}/{name}.html",
            "label": name[:2],
            "title": config.NOTEBOOK_TITLES.get(name, name),
        }
        for name in config.NOTEBOOKS
        if (run_dir / f"{name}.html").exists()
    ]
    if (run_dir / "model_card.html").exists():
        links.append({"href": f"{run}/model_card.html", "label": "model card", "title": ""})
    links.append({"href": f"{run}/manifest.json", "label": "manifest", "title": ""})
    return links


def _index_row(run_dir: Path, manifest: dict) -> dict[str, Any]:
    """One run as the index template reads it: raw numbers, ``None`` where not recorded."""
    head = manifest.get("headline", {})
    params = manifest.get("parameters", {})
    return {
        "run": run_dir.name,
        "state": manifest.get("status", ""),
        "status": _status(manifest),
        "failure": manifest.get("failure", {}).get("message", ""),
        "profile": params.get("profile"),
        "epochs": params.get("epochs"),
        "accuracy": head.get("test_accuracy"),
        "low": head.get("test_accuracy_low"),
        "high": head.get("test_accuracy_high"),
        "f1_macro": head.get("f1_macro"),
        "worst": head.get("worst_subgroup"),
        "worst_accuracy": head.get("worst_subgroup_accuracy"),
        "worst_n": head.get("worst_subgroup_n"),
        "external": head.get("external_accuracy"),
        "external_low": head.get("external_accuracy_low"),
        "external_high": head.get("external_accuracy_high"),
        "external_collection": head.get("external_collection"),
        "wall_seconds": manifest.get("wall_seconds"),
        "links": _links(run_dir),
    }


def _failure_place(failure: dict) -> str:
    """Where a run stopped: a notebook's cell, a notebook whose kernel died (cell unknown), a
    step of the report after the notebooks, or ``facegen train``."""
    notebook, cell, step = failure.get("notebook"), failure.get("cell"), failure.get("step")
    if notebook:
        return f"{notebook} cell [{cell}]" if cell is not None else notebook
    if step and step != "train":
        return step
    return "training (facegen train)"


def write_index(root: str | os.PathLike | None = None) -> Path:
    """``reports/index.html``: every run, newest first, with its headline numbers and links.

    Runs whose manifest cannot be read are left out rather than failing the index, which is
    rewritten after every run and must not be blocked by one broken folder.
    """
    root = Path(root).absolute() if root else config.REPORTS_DIR
    rows = []
    for manifest_path in sorted(root.glob("*/manifest.json"), reverse=True):
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(manifest, dict):
            rows.append(_index_row(manifest_path.parent, manifest))
    external = any(row["external"] is not None for row in rows)
    target = root / "index.html"
    atomic_write_text(target, render("index.html.j2", rows=rows, external=external))
    return target
