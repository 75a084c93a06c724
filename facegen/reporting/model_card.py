"""The model card of a run: what the model is for, what its labels mean, how it does for whom.

Filled only from the run's own files (manifest, data.json, training.json, metrics.json), so it can
never state a number the run did not measure.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from facegen.atomic import atomic_write_text


def _load(run_dir: Path, name: str) -> dict[str, Any]:
    path = run_dir / name
    return json.loads(path.read_text()) if path.exists() else {}


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _figure(value: float | None, form: str) -> str:
    """A figure, or "–" where it was not measured (runs before it existed) or is undefined."""
    return "–" if value is None or value != value else form.format(value)


def _p_value(value: float | None) -> str:
    """Three decimals, but never "0.000" (the smallest p of 2,000 draws is 1/2001)."""
    if value is not None and value == value and value < 0.001:
        return "<0.001"
    return _figure(value, "{:.3f}")


def _subgroup_rows(table: list[dict], column: str) -> list[str]:
    rows = []
    for row in table:
        interval = f"{_pct(row.get('accuracy_low'))} – {_pct(row.get('accuracy_high'))}"
        rows.append(
            f"| {row[column]} | {row['n']:,} | {_pct(row['accuracy'])} | {interval} | "
            f"{_pct(row.get('recall_male'))} | {_pct(row.get('recall_female'))} |"
        )
    return rows


def render_model_card(run_dir: Path) -> tuple[str, str]:
    """Return the card as Markdown and as a standalone HTML page."""
    manifest = _load(run_dir, "manifest.json")
    data = _load(run_dir, "data.json")
    training = _load(run_dir, "training.json")
    metrics = _load(run_dir, "metrics.json")
    head = metrics.get("headline", {})
    params = manifest.get("parameters", {})
    quality = data.get("quality", {})
    sizes = data.get("split_sizes", {})
    lines = [
        f"# Model card: facegen run {manifest.get('run_id', run_dir.name)}",
        "",
        "## What it is",
        f"A convolutional network that takes a {params.get('image_size', 48)}x"
        f"{params.get('image_size', 48)} grayscale face crop and outputs the probability that "
        "UTKFace's annotators labelled the face *female* (their label is binary: male or female).",
        f"Trained from scratch for {training.get('epochs_run', '–')} epochs "
        f"(weights of epoch {training.get('best_epoch', '–')}, chosen on validation accuracy "
        f"{_pct(training.get('best_val_accuracy'))}); {training.get('parameters', 0):,} "
        f"parameters; {training.get('train_images_per_second', '–')} training images/s on "
        f"a machine with {manifest.get('platform', {}).get('cpus', '?')} CPU cores, on "
        f"{training.get('strategy', '–')}." + _views_sentence(training),
        "",
        "## Intended use",
        "Research and teaching: studying how facial gender classifiers behave, and for whom they "
        "fail. It is **not** meant for decisions about people, for identifying anyone, or for "
        "inferring anyone's gender identity.",
        "",
        "## What the labels mean",
        "The labels are the binary perceived gender annotated in UTKFace, not the gender identity "
        "of the people photographed. Ethnicity (White, Black, Asian, Indian, Others) and age are "
        "annotations too, with their own errors; some byte-identical images carry conflicting "
        "labels and were excluded.",
        "",
        "## Data",
        f"UTKFace, {quality.get('found', 0):,} files found, {quality.get('used', 0):,} used "
        f"(fingerprint `{data.get('fingerprint', '–')}`); split train / validation / test "
        f"{sizes.get('train', 0):,} / {sizes.get('val', 0):,} / {sizes.get('test', 0):,}, "
        "stratified by gender x ethnicity x age band, near-duplicates kept on one side. "
        f"Profile: {params.get('profile', '–')}.",
        "",
        "## Performance on the test split",
        f"Accuracy {_pct(head.get('test_accuracy'))} (95% bootstrap interval "
        f"{_pct(head.get('test_accuracy_low'))} – {_pct(head.get('test_accuracy_high'))}), "
        f"macro F1 {head.get('f1_macro', 0) or 0:.3f}, ROC AUC "
        f"{head.get('roc_auc') or 0:.3f}, on {head.get('n_test', 0):,} faces. "
        f"Expected calibration error {head.get('expected_calibration_error') or 0:.3f}.",
        f"Worst subgroup: {head.get('worst_subgroup', '–')} at "
        f"{_pct(head.get('worst_subgroup_accuracy'))} (n = {head.get('worst_subgroup_n', '–')}).",
        "",
    ]
    for name, title in (("age_band", "Age band"), ("ethnicity", "Ethnicity"), ("gender", "Gender")):
        table = metrics.get("subgroups", {}).get(name)
        if not table:
            continue
        lines += [
            f"### By {title.lower()}",
            "",
            f"| {title} | n | accuracy | 95% interval | recall male | recall female |",
            "|---|---:|---:|---|---:|---:|",
            *_subgroup_rows(table, name),
            "",
        ]
    fairness = metrics.get("fairness", {})
    if fairness:
        lines += [
            "### Fairness summary (fairlearn MetricFrame)",
            "",
            "| attribute | worst group | accuracy | best group | accuracy | gap | "
            "equalized-odds difference | fair-model EOD, 95th pct. | p |",
            "|---|---|---:|---|---:|---:|---:|---:|---:|",
        ]
        for attribute, f in fairness.items():
            lines.append(
                f"| {attribute} | {f['worst_group']} | {_pct(f['worst_group_accuracy'])} "
                f"| {f['best_group']} | {_pct(f['best_group_accuracy'])} | "
                f"{_pct(f['accuracy_gap'])} | {f['equalized_odds_difference']:.3f} | "
                f"{_figure(f.get('eod_equal_rates_95th'), '{:.3f}')} | "
                f"{_p_value(f.get('eod_p_value'))} |"
            )
        lines += [
            "",
            "A fair model's equalized-odds difference is not zero on groups this small: the "
            "last two columns come from draws of a model with the same error rates in every "
            "group (`facegen.evaluate.equal_rates_reference`). A measured difference below that "
            "95th percentile (p above about 0.05) is consistent with equal error rates, which "
            "groups this small have little power to rule out; one above it is unlikely to come "
            "from equal rates, though p says nothing of how large the real gaps are."
            + (
                f" The {len(fairness)} attributes are tested with no correction for testing "
                "several."
                if len(fairness) > 1
                else ""
            ),
            "",
        ]
    lines += [
        "## Known limits",
        "- Binary labels: people who are neither, or whose appearance differs from their "
        "annotation, are misclassified by construction.",
        "- Children are hard: faces before puberty carry few of the cues the model learns, and "
        "accuracy for the youngest bands is far below the overall figure.",
        "- Small subgroups have wide intervals; differences inside an interval are not evidence.",
        "- Aligned, frontal, 48x48 grayscale crops: other poses, lighting or crops (use "
        "`facegen predict`, which detects and crops faces the same way) will do worse.",
        "- UTKFace is licensed for non-commercial research only; so is this model.",
        "",
        f"Code: git {manifest.get('git', {}).get('commit', '–')} · TensorFlow "
        f"{manifest.get('packages', {}).get('tensorflow', '–')} · Keras "
        f"{manifest.get('packages', {}).get('keras', '–')}",
        "",
    ]
    markdown = "\n".join(lines)
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Model card · {html.escape(manifest.get('run_id', run_dir.name))}</title>"
        "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;"
        "color:#222}table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:"
        "1px solid #ddd}a.anchor-link{display:none}</style></head><body>"
        "<p><a href='../index.html'>All runs</a></p>"
        f"{markdown2html_mistune(markdown)}</body></html>\n"
    )
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
    from facegen.reporting.model_card import render_model_card

    markdown, page = render_model_card(run_dir)
    atomic_write_text(run_dir / "model_card.md", markdown)
    atomic_write_text(run_dir / "model_card.html", page)
    return run_dir / "model_card.html"
