"""The model card of a run: what the model is for, what its labels mean, how it does for whom.

Filled only from the run's own files (manifest, data.json, training.json, metrics.json), so it can
never state a number the run did not measure. The wording is in
``templates/model_card.md.j2``; this module only gathers the numbers it needs, with ``None``
wherever an older run did not record one, so the card prints "–" there instead of failing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from facegen import config
from facegen.atomic import atomic_write_text
from facegen.reporting.templates import as_number, render, splits_in_words, words

CARD_TABLES = (("age_band", "Age band"), ("ethnicity", "Ethnicity"), ("gender", "Gender"))
"""The subgroup tables the card shows, with their headings; metrics.json holds more (crossed
groups), which the evaluation page shows."""

SIGNIFICANCE = 0.05
"""The p-value below which the summary calls a gap larger than equal error rates would give."""


def _load(run_dir: Path, name: str) -> dict[str, Any]:
    path = run_dir / name
    return json.loads(path.read_text()) if path.exists() else {}


def _subgroup_rows(table: list[dict], column: str) -> list[dict[str, Any]]:
    """Rows with every key the template reads, so a run from before a column existed shows "–"."""
    return [
        {
            "group": row.get(column),
            "n": row.get("n"),
            "accuracy": row.get("accuracy"),
            "low": row.get("accuracy_low"),
            "high": row.get("accuracy_high"),
            "recall_male": row.get("recall_male"),
            "recall_female": row.get("recall_female"),
        }
        for row in table
    ]


def _tables(metrics: dict) -> list[dict[str, Any]]:
    subgroups = metrics.get("subgroups", {})
    return [
        {"title": title, "rows": _subgroup_rows(subgroups[name], name)}
        for name, title in CARD_TABLES
        if subgroups.get(name)
    ]


def _weakest(tables: list[dict], head: dict) -> list[dict[str, Any]]:
    """The lowest accuracy within each attribute, for the summary; runs without subgroup tables
    fall back on the headline's single worst subgroup, which has no interval."""
    weakest = []
    for table in tables:
        measured = [row for row in table["rows"] if as_number(row["accuracy"]) is not None]
        if measured:
            row = min(measured, key=lambda r: r["accuracy"])
            weakest.append({**row, "name": f"{table['title'].lower()} {row['group']}"})
    if weakest or not head.get("worst_subgroup"):
        return weakest
    return [
        {
            "name": words(head["worst_subgroup"]),
            "accuracy": head.get("worst_subgroup_accuracy"),
            "n": head.get("worst_subgroup_n"),
            "low": None,
            "high": None,
        }
    ]


def _reading(summary: dict) -> str:
    """How the measured equalized-odds difference compares with a fair model's: "above",
    "within", "undefined" (the reference is NaN: one group, or a group of one gender) or
    "not computed" (a run from before the reference existed)."""
    if "eod_p_value" not in summary:
        return "not computed"
    p = as_number(summary["eod_p_value"])
    if p is None:
        return "undefined"
    return "above" if p < SIGNIFICANCE else "within"


def _fairness_rows(metrics: dict) -> list[dict[str, Any]]:
    return [
        {
            "attribute": words(attribute),
            "worst_group": f.get("worst_group"),
            "worst_accuracy": f.get("worst_group_accuracy"),
            "best_group": f.get("best_group"),
            "best_accuracy": f.get("best_group_accuracy"),
            "gap": f.get("accuracy_gap"),
            "eod": f.get("equalized_odds_difference"),
            "reference_95th": f.get("eod_equal_rates_95th"),
            "p_value": f.get("eod_p_value"),
            "reading": _reading(f),
        }
        for attribute, f in metrics.get("fairness", {}).items()
    ]


def _age_range(head: dict, name: str) -> dict[str, Any] | None:
    """One of the age ranges the headline measures with an interval (children, over-60s)."""
    if f"{name}_accuracy" not in head:
        return None
    return {
        "accuracy": head[f"{name}_accuracy"],
        "low": head.get(f"{name}_accuracy_low"),
        "high": head.get(f"{name}_accuracy_high"),
        "n": head.get(f"{name}_n"),
    }


def _external(run_dir: Path) -> list[dict[str, Any]]:
    """Each external collection's test half (``external.json``), for the card's own section."""
    collections = _load(run_dir, "external.json").get("collections", {})
    rows = []
    for name, halves in collections.items():
        head = halves.get("test", {})
        rows.append({
            "name": name, "n": head.get("external_n"),
            "accuracy": head.get("external_accuracy"),
            "low": head.get("external_accuracy_low"), "high": head.get("external_accuracy_high"),
            "recall_female": head.get("external_recall_female"),
            "recall_male": head.get("external_recall_male"),
            "gap": head.get("external_recall_gap"),
            "gap_low": head.get("external_recall_gap_low"),
            "gap_high": head.get("external_recall_gap_high"),
            "aligned": head.get("external_aligned_share"),
        })  # fmt: skip
    return rows


def _label_audit(metrics: dict) -> dict[str, Any] | None:
    """The label audit of metrics.json as the card reads it; None for a run without one (older
    than the label audit), so the card says the labels were not audited."""
    audit = metrics.get("label_audit")
    if not audit:
        return None
    sensitivity = audit.get("sensitivity", {})
    by = audit.get("by", {})
    return {
        "splits": splits_in_words(audit.get("splits", {})),
        "n": audit.get("n"),
        "n_doubted": audit.get("n_doubted"),
        "rate": audit.get("label_error_rate"),
        "low": audit.get("label_error_rate_low"),
        "high": audit.get("label_error_rate_high"),
        "among_errors": audit.get("n_doubted_among_model_errors"),
        "n_errors": audit.get("n_model_errors"),
        "error_rate": audit.get("error_rate"),
        "sensitivity": {
            "split": sensitivity.get("split"),
            "set_aside": sensitivity.get("n_set_aside"),
            "accuracy": sensitivity.get("accuracy"),
            "without": sensitivity.get("accuracy_without_doubted"),
            "low": sensitivity.get("accuracy_without_doubted_low"),
            "high": sensitivity.get("accuracy_without_doubted_high"),
        },
        "tables": [
            {"title": title, "rows": [{**row, "group": row.get(name)} for row in by[name]]}
            for name, title in CARD_TABLES
            if by.get(name)
        ],
    }


def card_context(run_dir: Path) -> dict[str, Any]:
    """Everything the card template reads, from the run's own files."""
    manifest = _load(run_dir, "manifest.json")
    data = _load(run_dir, "data.json")
    training = _load(run_dir, "training.json")
    metrics = _load(run_dir, "metrics.json")
    head = metrics.get("headline", {})
    params = manifest.get("parameters", {})
    quality = data.get("quality", {})
    sizes = data.get("split_sizes", {})
    tables = _tables(metrics)
    return {
        "run_id": manifest.get("run_id", run_dir.name),
        "profile": params.get("profile"),
        "image_size": params.get("image_size", config.IMAGE_SIZE),
        "model": {
            "epochs": training.get("epochs_run"),
            "best_epoch": training.get("best_epoch"),
            "best_val_accuracy": training.get("best_val_accuracy"),
            "parameters": training.get("parameters"),
            "images_per_second": training.get("train_images_per_second"),
            "cpus": manifest.get("platform", {}).get("cpus"),
            "strategy": training.get("strategy"),
            "views_sentence": _views_sentence(training).strip(),
            "decision": training.get("decision_point"),
        },
        "data": {
            "found": quality.get("found"),
            "used": quality.get("used"),
            "fingerprint": data.get("fingerprint"),
            "train": sizes.get("train"),
            "val": sizes.get("val"),
            "test": sizes.get("test"),
        },
        "test": {
            "accuracy": head.get("test_accuracy"),
            "low": head.get("test_accuracy_low"),
            "high": head.get("test_accuracy_high"),
            "f1_macro": head.get("f1_macro"),
            "roc_auc": head.get("roc_auc"),
            "n": head.get("n_test"),
            "ece": head.get("expected_calibration_error"),
            "worst": words(head.get("worst_subgroup")),
            "worst_accuracy": head.get("worst_subgroup_accuracy"),
            "worst_n": head.get("worst_subgroup_n"),
        },
        "children": _age_range(head, "children_0_12"),
        "external": _external(run_dir),
        "tables": tables,
        "weakest": _weakest(tables, head),
        "fairness": _fairness_rows(metrics),
        "audit": _label_audit(metrics),
        "code": {
            "commit": manifest.get("git", {}).get("commit"),
            "dirty": manifest.get("git", {}).get("dirty"),
            "tensorflow": manifest.get("packages", {}).get("tensorflow"),
            "keras": manifest.get("packages", {}).get("keras"),
        },
    }


def markdown_to_html(markdown: str) -> str:
    """mistune, with raw HTML escaped: group names and run ids come from files, and the card's
    own text uses none."""
    import mistune

    return mistune.create_markdown(escape=True, plugins=["table"])(markdown)


def render_model_card(run_dir: Path) -> tuple[str, str]:
    """Return the card as Markdown and as a standalone HTML page."""
    context = card_context(run_dir)
    markdown = render("model_card.md.j2", **context)
    page = render("model_card.html.j2", run_id=context["run_id"], body=markdown_to_html(markdown))
    return markdown, page


_VIEW_SENTENCES = {
    "flip": " Each face is classified together with its mirror image and the two probabilities "
    "averaged (test-time flip averaging), in evaluation and in `facegen predict` alike.",
    "flip+shift": " Each face is classified ten times, as it is and mirrored, each also moved one "
    "pixel right, left, down and up, and the ten probabilities averaged (test-time "
    "augmentation), in evaluation and in `facegen predict` alike.",
}


def _views_sentence(training: dict) -> str:
    """How predictions are made, for runs that average views."""
    from facegen.modeling.inference import run_views

    return _VIEW_SENTENCES.get(run_views(training) or "", "")


def write_model_card(run_dir: Path) -> Path:
    """``model_card.md`` and ``model_card.html``, filled from the run's own files."""
    markdown, page = render_model_card(run_dir)
    atomic_write_text(run_dir / "model_card.md", markdown)
    atomic_write_text(run_dir / "model_card.html", page)
    return run_dir / "model_card.html"
