"""``manifest.json``: what a run folder holds and how it came to be.

The pipeline and ``facegen train`` write the same manifest, so the index page, the model card and
``facegen predict`` (which looks for the newest complete run) read every run folder alike. It is
rewritten atomically after each step: an interrupted run says so instead of looking finished.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from facegen import config
from facegen.atomic import atomic_write_text
from facegen.runs.environment import package_versions
from facegen.runs.run import Settings


def new_manifest(
    run_dir: Path, settings: Settings, parameters: dict, *, kind: str = "report"
) -> dict[str, Any]:
    """A manifest in state "running"; ``kind``: "report" (the notebooks) or "train" (script)."""
    return {
        "run_id": run_dir.name,
        "kind": kind,
        "status": "running",
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": {**settings.to_dict(), **parameters},
        "notebooks": [],
        "git": _git_state(),
        "python": sys.version.split()[0],
        "platform": {
            "system": platform.platform(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
        },
        "packages": package_versions(),
    }


def finish_manifest(
    run_dir: Path, manifest: dict, status: str, seconds: float, failure: dict | None = None
) -> None:
    """Close the manifest as "complete", "failed" or "interrupted", copying in the run's results."""
    manifest["status"] = status
    manifest["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    manifest["wall_seconds"] = round(seconds, 1)
    for name, key in (("data.json", "data"), ("training.json", "training")):
        if (run_dir / name).exists():
            manifest[key] = json.loads((run_dir / name).read_text())
    if (run_dir / "metrics.json").exists() and status == "complete":
        from facegen.runs.collection_scores import read_external_summary

        manifest["headline"] = json.loads((run_dir / "metrics.json").read_text())["headline"]
        manifest["headline"].update(read_external_summary(run_dir))
    if failure:
        manifest["failure"] = failure
        atomic_write_text(run_dir / "FAILED", failure["message"] + "\n")
    write_manifest(run_dir, manifest)


def write_manifest(run_dir: Path, manifest: dict) -> None:
    atomic_write_text(run_dir / "manifest.json", json.dumps(manifest, indent=2) + "\n")


def _git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=config.PROJECT_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def read_manifest(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The run folder's manifest, or None when it has none or it cannot be read."""
    try:
        return json.loads((Path(run_dir) / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None


def previous_run(run_root: str | os.PathLike) -> dict[str, Any] | None:
    """The newest other complete run beside this one with the same profile: its manifest, for a
    page to say what changed since (``reporting.findings``).

    Runs of another profile (a smoke run beside a full one) are not comparable, so they are
    skipped; None when there is nothing to compare with.
    """
    root = Path(run_root)
    mine = read_manifest(root) or {}
    profile = (mine.get("parameters") or {}).get("profile")
    for path in sorted(root.parent.glob("*/manifest.json"), reverse=True):
        if path.parent == root:
            continue
        manifest = read_manifest(path.parent)
        if not manifest or manifest.get("status") != "complete" or not manifest.get("headline"):
            continue
        if profile and (manifest.get("parameters") or {}).get("profile") != profile:
            continue
        return manifest
    return None


@dataclass(frozen=True)
class CompleteRun:
    """A complete run folder with a model, as ``facegen predict`` names it to the user."""

    folder: Path
    profile: str | None
    test_accuracy: float | None
    finished: str

    @property
    def model(self) -> Path:
        return self.folder / "model.keras"

    def describe(self) -> str:
        accuracy = "not recorded" if self.test_accuracy is None else f"{self.test_accuracy:.4f}"
        return f"run {self.folder.name} (profile {self.profile}, test accuracy {accuracy})"


def complete_runs(root: str | os.PathLike | None = None) -> list[CompleteRun]:
    """Every complete run with a model under ``root`` (default ``reports/``), newest first.

    Runs are ordered by when they finished, so a report and a ``facegen train`` run compete
    fairly; failed, interrupted and still-running folders are never listed.
    """
    root = Path(root) if root else config.REPORTS_DIR
    runs = []
    for manifest_path in root.glob("*/manifest.json"):
        manifest = read_manifest(manifest_path.parent)
        if not manifest or manifest.get("status") != "complete":
            continue
        run = CompleteRun(
            folder=manifest_path.parent,
            profile=manifest.get("parameters", {}).get("profile"),
            test_accuracy=manifest.get("headline", {}).get("test_accuracy"),
            finished=manifest.get("finished") or "",
        )
        if run.model.exists():
            runs.append(run)
    return sorted(runs, key=lambda run: (run.finished, run.folder.name), reverse=True)


def newest_complete_run(
    root: str | os.PathLike | None = None, *, profile: str | None = "full"
) -> CompleteRun | None:
    """The newest complete run of ``profile`` (None: any). Only "full" by default: a smoke run
    (400 faces, 2 epochs) checks the pipeline, and its model guesses about as well as a coin, so
    it is used only when named."""
    runs = [run for run in complete_runs(root) if profile is None or run.profile == profile]
    return runs[0] if runs else None


def newest_complete_model(
    root: str | os.PathLike | None = None, *, profile: str | None = "full"
) -> Path | None:
    """``model.keras`` of ``newest_complete_run(root, profile=profile)``, or None."""
    run = newest_complete_run(root, profile=profile)
    return run.model if run else None
