"""What ``facegen predict`` prints: a table for people, CSV or JSON for programs.

One row per face; a file with no face, or one that could not be read, still gets one row with
its status, so the output always accounts for every input.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from facegen import config
from facegen.faces.framing import Framing
from facegen.predict.classify import ImageResult, PredictStatus

COLUMNS = (
    "file", "status", "face", "framing", "x", "y", "width", "height", "label", "probability",
    "p_female", "detail",
)  # fmt: skip


def label_for(p_female: float) -> tuple[str, float]:
    """The predicted label and the model's score for that label, decided at 0.5 (a run's model
    has its own decision point there: ``modeling.balance``)."""
    return (config.GENDERS[1], p_female) if p_female >= 0.5 else (config.GENDERS[0], 1 - p_female)


def rows(results: Sequence[ImageResult]) -> list[dict]:
    """Flat rows, one per face (or per faceless file), with the columns of ``COLUMNS``."""
    table = []
    for result in results:
        if not result.boxes or result.probabilities is None:
            table.append(
                {c: None for c in COLUMNS}
                | {"file": result.name, "status": result.status, "detail": result.detail}
            )
            continue
        for i, (box, p) in enumerate(zip(result.boxes, result.probabilities, strict=True)):
            label, probability = label_for(float(p))
            table.append({
                "file": result.name, "status": result.status, "face": i + 1,
                "framing": _framing(result, i),
                "x": box.x, "y": box.y, "width": box.width, "height": box.height,
                "label": label, "probability": round(probability, 4),
                "p_female": round(float(p), 4), "detail": result.detail or None,
            })  # fmt: skip
    return table


def _framing(result: ImageResult, face: int) -> Framing | None:
    """How the face was framed (None for a file without faces)."""
    return result.framing[face] if face < len(result.framing) else None


def to_csv(results: Sequence[ImageResult]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows(results))
    return buffer.getvalue()


def to_json(results: Sequence[ImageResult]) -> str:
    """One object per file, its faces nested: the shape a program iterating photos wants."""
    files = []
    for result in results:
        faces = []
        for i, (box, p) in enumerate(
            zip(
                result.boxes,
                result.probabilities if result.probabilities is not None else [],
                strict=False,
            )
        ):
            label, probability = label_for(float(p))
            faces.append({
                "box": [box.x, box.y, box.width, box.height], "framing": _framing(result, i),
                "label": label, "probability": round(probability, 4),
                "p_female": round(float(p), 4),
            })  # fmt: skip
        files.append({
            "file": result.name, "status": result.status, "detail": result.detail or None,
            "width": result.width or None, "height": result.height or None, "faces": faces,
        })  # fmt: skip
    return json.dumps(files, indent=2) + "\n"


def to_table(results: Sequence[ImageResult]) -> str:
    """Aligned columns for a terminal: file, face, box, label, probability, or the status."""
    lines = [("file", "face", "box (x,y,w,h)", "label", "prob", "framing")]
    for row in rows(results):
        if row["face"] is None:
            status = row["status"] + (f": {row['detail']}" if row["detail"] else "")
            lines.append((row["file"], "-", status, "", "", ""))
        else:
            box = f"{row['x']},{row['y']},{row['width']},{row['height']}"
            probability = f"{row['probability']:.3f}"
            lines.append(
                (row["file"], str(row["face"]), box, row["label"], probability, row["framing"])
            )
    widths = [max(len(line[i]) for line in lines) for i in range(5)]
    return (
        "\n".join(
            "  ".join(cell.ljust(width) for cell, width in zip(line[:5], widths, strict=True))
            + "  "
            + (line[5] or "")
            for line in lines
        ).rstrip()
        + "\n"
    )


def summary(results: Sequence[ImageResult]) -> str:
    """One line: how many files, faces, faceless and failed files."""
    return summary_line(
        files=len(results),
        faces=sum(len(r.boxes) for r in results if r.status == PredictStatus.OK),
        with_faces=sum(r.status == PredictStatus.OK for r in results),
        faceless=sum(r.status == PredictStatus.NO_FACE for r in results),
        failed=sum(r.status == PredictStatus.ERROR for r in results),
    )


def summary_line(*, files: int, faces: int, with_faces: int, faceless: int, failed: int) -> str:
    """The summary's words, shared by the in-process and the Ray jobs: "1 file", "2 files"."""
    return (
        f"{_counted(files, 'file')}: {_counted(faces, 'face')} in {_counted(with_faces, 'image')}, "
        f"{_counted(faceless, 'image')} without a face, "
        f"{_counted(failed, 'file')} could not be used"
    )


def _counted(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"
