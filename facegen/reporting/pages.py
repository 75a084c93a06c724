"""HTML pages: one per executed notebook, with the code one click away, and the index of runs."""

from __future__ import annotations

import html
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from facegen import config
from facegen.atomic import atomic_write_text

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


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


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
    """``reports/index.html``: every run, newest first, with its headline numbers and links."""
    root = Path(root).absolute() if root else config.REPORTS_DIR
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
            status = f"{status} in {_failure_place(manifest.get('failure', {}))}"
        links = " ".join(
            f'<a href="{run}/{name}.html">{name[:2]}</a>'
            for name in config.NOTEBOOKS
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
