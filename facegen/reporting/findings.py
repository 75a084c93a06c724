"""What each page found, in a few plain sentences: the summary it opens with and its conclusions.

The sentences are built from the same numbers the page shows, so they cannot drift from them;
the comparison with the previous run says what changed, and whether that is more than noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from facegen.data.dataset import Dataset
from facegen.reporting.templates import estimate, splits_in_words
from facegen.reporting.templates import pct as percent


def _interval(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return ""
    return f" (95% interval {percent(low)} to {percent(high)})"


def data_summary(dataset: Dataset) -> str:
    """Who is in the data and what was left out."""
    used = dataset.used
    quality = dataset.quality
    women = float((used["gender"] == "female").mean())
    ethnicity = used["ethnicity"].value_counts()
    bands = used["age_band"].value_counts()
    excluded = quality.found - quality.used
    lines = [
        f"- **{quality.used:,} of {quality.found:,} files are used**; {excluded:,} were left out "
        "(unreadable names, duplicate copies, copies whose labels disagree), each listed below "
        "with its reason.",
        f"- **{percent(women)} of the faces are labelled female.**",
        f"- Largest ethnicity group: {ethnicity.index[0]} ({ethnicity.iloc[0]:,} faces); smallest: "
        f"{ethnicity.index[-1]} ({ethnicity.iloc[-1]:,}). Largest age band: {bands.index[0]} "
        f"({bands.iloc[0]:,}); smallest: {bands.index[-1]} ({bands.iloc[-1]:,}).",
        "- Small groups give wide intervals later: read every subgroup figure with its count.",
    ]
    if len(used) < quality.used:
        lines.insert(
            1,
            f"- This run uses a seeded sample of {len(used):,} of them (its profile's "
            "`max_images`); the counts below are the sample's.",
        )
    return "**What this page found**\n\n" + "\n".join(lines)


def split_summary(dataset: Dataset) -> str:
    """How the faces were divided, and how evenly each split mirrors the whole."""
    sizes = dataset.split_sizes()["files"]
    used = dataset.used
    whole = used["gender"].eq("female").mean()
    shares = used.groupby("split", observed=True)["gender"].apply(lambda g: g.eq("female").mean())
    worst = float((shares - whole).abs().max())
    parts = ", ".join(f"{name} {int(n):,}" for name, n in sizes.items())
    lines = [
        f"- **Split: {parts}** faces, stratified by gender, ethnicity and age band, seed "
        f"{dataset.seed}.",
        f"- The share of women differs from the whole by at most {100 * worst:.2f} points in any "
        "split"
        + (", so each split mirrors the data." if worst < 0.02 else ": small splits vary more."),
        "- Near-duplicate photos are kept on one side of the split: no face leaks from training "
        "into the test set.",
    ]
    return "**What this page found**\n\n" + "\n".join(lines)


def decision_point_lines(decision: Mapping[str, Any] | None) -> list[str]:
    """What moving the decision point to equal recall did on validation (none for old runs)."""
    if not decision:
        return []
    before, after = decision["validation_before"], decision["validation_after"]
    if decision.get("note"):
        return [f"- Decision point {decision['note']}."]
    return [
        f"- **Decision point moved to equal recall on validation:** women "
        f"{percent(before['recall_female'])} → {percent(after['recall_female'])}, men "
        f"{percent(before['recall_male'])} → {percent(after['recall_male'])}, accuracy "
        f"{percent(before['accuracy'])} → {percent(after['accuracy'])} (test-time views "
        f"averaged); a single view now reads female from a network score of "
        f"{decision['threshold']:.3f} instead of 0.5."
    ]


def training_summary(summary: Mapping[str, Any], previous: Mapping[str, Any] | None = None) -> str:
    """The epoch kept, its validation accuracy and the cost, against the previous run."""
    lines = [
        f"- **Best validation accuracy {percent(summary['best_val_accuracy'])}** at epoch "
        f"{summary['best_epoch']} of {summary['epochs_run']}; that epoch's weights are kept.",
        f"- Training took {summary['train_seconds']:.0f} s "
        f"({summary['train_images_per_second']:.0f} images per second, {summary['strategy']}), "
        f"{summary['parameters']:,} parameters.",
    ]
    lines += decision_point_lines(summary.get("decision_point"))
    before = (previous or {}).get("training") or {}
    if before.get("best_val_accuracy") is not None:
        change = summary["best_val_accuracy"] - before["best_val_accuracy"]
        lines.append(
            f"- Previous run ({previous['run_id']}): {percent(before['best_val_accuracy'])}, "
            f"a change of {100 * change:+.2f} points."
        )
    return "**What this page found**\n\n" + "\n".join(lines)


def _weakest(table: pd.DataFrame | list, column: str, k: int = 2) -> list[str]:
    frame = pd.DataFrame(table)
    frame = frame[frame["n"] > 0].nsmallest(k, "accuracy")
    return [
        f"{column.replace('_', ' ')} {row[column]}: "
        f"{estimate(row['accuracy'], row['accuracy_low'], row['accuracy_high'], percent=True)}, "
        f"n={int(row['n']):,}"
        for _, row in frame.iterrows()
    ]


def evaluation_summary(
    metrics: Mapping[str, Any], previous: Mapping[str, Any] | None = None
) -> str:
    """Accuracy with its interval, the weakest groups, the fairness reading, what changed."""
    head = metrics["headline"]
    weakest = _weakest(metrics["subgroups"]["age_band"], "age_band")
    weakest += _weakest(metrics["subgroups"]["ethnicity"], "ethnicity", k=1)
    lines = [
        f"- **Test accuracy {percent(head['test_accuracy'])}**"
        f"{_interval(head.get('test_accuracy_low'), head.get('test_accuracy_high'))} on "
        f"{head['n_test']:,} faces the model never saw; macro F1 {head['f1_macro']:.3f}.",
        "- **Weakest groups**: " + "; ".join(weakest) + ".",
    ]
    eod = head.get("equalized_odds_difference_ethnicity")
    if eod is not None:
        fair = metrics["fairness"]["ethnicity"]
        p = fair.get("eod_p_value")
        lines.append(
            f"- Across ethnicities the error rates differ by up to {eod:.3f} (equalized-odds "
            f"difference); a model with equal rates would show about "
            f"{fair.get('eod_equal_rates_median', math.nan):.3f} on groups of these sizes"
            + (f" (p = {p:.3f})." if p is not None else ".")
        )
    audit = metrics.get("label_audit")
    if audit:
        lines.append(label_audit_line(audit))
    lines.append(_change_line(head, previous))
    return "**What this page found**\n\n" + "\n".join(line for line in lines if line)


def label_audit_line(audit: Mapping[str, Any], name: str = "") -> str:
    """The audit in one line: how many labels it doubts, the estimated label-error rate with its
    interval beside the model's error rate on the same faces, and the accuracy with the doubted
    set aside, named as the sensitivity figure it is.

    The error rate stands beside the label-error rate because the audit only ever doubts a label
    the model disagrees with: "N doubted, all among the errors" would say nothing, whereas the
    two rates side by side say how much of the error the labels could account for.
    ``audit`` is a ``label_audit`` section (``evaluation.label_audit.audit_splits``); ``name``
    names a collection other than UTKFace."""
    sensitivity = audit["sensitivity"]
    where = f"{name}'s " if name else ""
    n, errors = audit["n"], audit["n_model_errors"]
    return (
        f"- **Label audit: {audit['n_doubted']:,} of {where}{n:,} "
        f"{splits_in_words(audit['splits'])} labels doubted**, an estimated label-error rate of "
        f"{percent(audit['label_error_rate'])}"
        f"{_interval(audit.get('label_error_rate_low'), audit.get('label_error_rate_high'))}, "
        f"beside the model's error rate of {percent(audit['error_rate'])} on the same "
        f"faces (it doubts the labels of {audit['n_doubted_among_model_errors']:,} of those "
        f"{errors:,} errors). Sensitivity only, not a result: with the "
        f"{sensitivity['n_set_aside']:,} doubted {sensitivity['split']} labels set aside, "
        f"accuracy would be {percent(sensitivity['accuracy_without_doubted'])} instead of "
        f"{percent(sensitivity['accuracy'])}."
    )


def _most_doubted_group(audit: Mapping[str, Any], min_n: int = 30) -> Mapping[str, Any] | None:
    """The group (age band or ethnicity, at least ``min_n`` faces) with the highest estimated
    label-error rate, with its attribute named."""
    best = None
    for attribute in ("age_band", "ethnicity"):
        for row in pd.DataFrame(audit.get("by", {}).get(attribute, [])).to_dict("records"):
            if row["n"] >= min_n and (best is None or row["label_error_rate"] > best["rate"]):
                best = {
                    "attribute": attribute,
                    "group": row[attribute],
                    "n": row["n"],
                    "rate": row["label_error_rate"],
                    "error_rate": row["error_rate"],
                }
    return best


def label_audit_conclusions(audit: Mapping[str, Any] | None, name: str = "UTKFace") -> str:
    """What the audit means for every other figure on the page: a sentence, or none."""
    if not audit:
        return ""
    text = (
        f"Some of what counts as the model's error may be the labels': the audit estimates "
        f"{percent(audit['label_error_rate'])} of {name}'s "
        f"{splits_in_words(audit['splits'])} labels wrong."
    )
    group = _most_doubted_group(audit)
    if group is not None and group["rate"] > 0:
        text += (
            f" It doubts most in {group['attribute'].replace('_', ' ')} {group['group']} "
            f"({percent(group['rate'])} of {group['n']:,} faces, where the model's error rate is "
            f"{percent(group['error_rate'])})."
        )
    return (
        text + " Where the model is weak the estimate is likely too high: confident learning "
        "cannot tell a face that is hard to read from one labelled wrong, so the doubted faces "
        "are worth looking at, not subtracting."
    )


def _change_line(head: Mapping[str, Any], previous: Mapping[str, Any] | None) -> str:
    before = (previous or {}).get("headline") or {}
    if before.get("test_accuracy") is None:
        return "- No earlier complete run of this profile to compare with."
    change = head["test_accuracy"] - before["test_accuracy"]
    width = (head.get("test_accuracy_high") or 0) - (head.get("test_accuracy_low") or 0)
    verdict = (
        "within this run's interval, so not a measurable change"
        if abs(change) < width / 2
        else "larger than half this run's interval"
    )
    return (
        f"- Previous run ({previous['run_id']}): {percent(before['test_accuracy'])}; "
        f"a change of {100 * change:+.2f} points, {verdict}."
    )


def evaluation_conclusions(metrics: Mapping[str, Any]) -> str:
    """What a reader should take away, from the figures above."""
    head = metrics["headline"]
    children = head.get("children_0_12_accuracy")
    older = head.get("age_60_plus_accuracy")
    lines = [
        "**Conclusions**",
        "",
        f"- Overall the model labels {percent(head['test_accuracy'])} of UTKFace test faces as "
        "their annotators did. That is a figure for faces framed like UTKFace's; faces from "
        "elsewhere are measured separately.",
    ]
    if children is not None:
        lines.append(
            f"- Children are its hardest case ({percent(children)} for ages 0-12, "
            f"n={head.get('children_0_12_n', 0):,}): before puberty faces carry little of what "
            "separates the labels, and UTKFace's labels for babies are themselves uncertain."
        )
    if older is not None:
        lines.append(f"- Ages 60 and over: {percent(older)} (n={head.get('age_60_plus_n', 0):,}).")
    lines.append(
        "- Differences between groups smaller than their intervals are not evidence of a "
        "difference; the fairness table sets each gap beside what chance alone would give."
    )
    audit = label_audit_conclusions(metrics.get("label_audit"))
    if audit:
        lines.append(f"- {audit}")
    return "\n".join(lines)


def cross_dataset_summary(
    utkface: Mapping[str, Any],
    collections: Mapping[str, Mapping[str, Any]],
    audits: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """UTKFace's test accuracy beside each collection's test half, whom the errors fall on, and
    how many of each collection's labels its audit doubts.

    ``collections`` maps a name to the ``CollectionScore.headline()`` of its test half;
    ``audits`` a name to its ``label_audit`` summary (``runs.collection_scores.audit_collection``).
    """
    lines = [
        f"- **UTKFace test: {percent(utkface.get('test_accuracy'))}**"
        f"{_interval(utkface.get('test_accuracy_low'), utkface.get('test_accuracy_high'))}."
    ]
    if not collections:
        lines.append(
            "- No external collection was given: pass `--external PATH` to `facegen report` "
            "or set `$FACEGEN_EXTERNAL`."
        )
    for name, head in collections.items():
        lines.append(
            f"- **{name}: {percent(head['external_accuracy'])}**"
            f"{_interval(head['external_accuracy_low'], head['external_accuracy_high'])} on "
            f"{head['external_n']:,} faces; women recognised "
            f"{percent(head['external_recall_female'])}, "
            f"men {percent(head['external_recall_male'])} (gap "
            f"{100 * head['external_recall_gap']:.1f} points, 95% interval "
            f"{100 * head['external_recall_gap_low']:.1f} to "
            f"{100 * head['external_recall_gap_high']:.1f}); "
            f"{percent(head['external_aligned_share'])} of the faces aligned from landmarks."
        )
        if (audits or {}).get(name):
            lines.append(label_audit_line(audits[name], name))
    return "**What this page found**\n\n" + "\n".join(lines)


def limits_conclusions(factors: pd.DataFrame, name: str) -> str:
    """Which property of the faces moves accuracy most, from one collection's ``factor_table``."""
    spread = (
        factors.reset_index()
        .query("n >= 30")
        .groupby("factor")["accuracy"]
        .agg(lambda a: a.max() - a.min())
        .sort_values(ascending=False)
    )
    if spread.empty:
        return ""
    ranked = ", ".join(
        f"{factor.replace('_', ' ')} ({100 * gap:.0f} points)" for factor, gap in spread.items()
    )
    return (
        f"On {name}'s validation half, accuracy varies most with: {ranked} (the gap between the "
        "best and the worst group of at least 30 faces)."
    )


def threshold_conclusions(thresholds: pd.DataFrame) -> list[str]:
    """For each collection: what the validation-chosen threshold did to accuracy and the gap.

    ``thresholds`` has one row for the model's threshold and one for the chosen one, per
    collection (the cross-dataset page's table).
    """
    lines = []
    for name, rows in thresholds.groupby("collection", sort=False):
        default, chosen = rows.iloc[0], rows.iloc[-1]
        share = "mostly" if abs(chosen["recall_gap"]) < abs(default["recall_gap"]) / 2 else "partly"
        lines.append(
            f"On {name}'s test half, a threshold chosen on its validation half moves the gap "
            f"between men's and women's recall from {100 * default['recall_gap']:.1f} to "
            f"{100 * chosen['recall_gap']:.1f} points at an accuracy of "
            f"{percent(chosen['accuracy'])} (against {percent(default['accuracy'])}): the gap is "
            f"{share} where the model's scores sit on these faces, not how it ranks them. The "
            "model's own decision point (chosen on UTKFace's validation split) stays the default."
        )
    return lines
