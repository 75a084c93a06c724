"""CI: `facegen predict --cropped` over a run's test split must reproduce its test accuracy.

Runs the real command line on the files the evaluation notebook scored, scores the output
against the labels in the run's split.csv, and fails unless the accuracy equals the notebook's
(metrics.json) to within one face. Equal accuracy on 2,315 faces is what proves the script
preprocesses a face exactly as training did.

    python .ci/check_predict_parity.py [RUN_DIR]     (default: the newest complete run)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from facegen.runs.manifest import newest_complete_model


def main() -> int:
    if len(sys.argv) > 1:
        run_dir = Path(sys.argv[1])
    else:
        model = newest_complete_model()
        if model is None:
            print("parity: no complete run under reports/", file=sys.stderr)
            return 1
        run_dir = model.parent
    data_dir = Path(json.loads((run_dir / "data.json").read_text())["data_dir"])
    split = pd.read_csv(run_dir / "split.csv", dtype=str)
    test = split[split["split"] == "test"]
    expected = json.loads((run_dir / "metrics.json").read_text())["headline"]
    with tempfile.TemporaryDirectory() as tmp:
        listing, output = Path(tmp) / "files.txt", Path(tmp) / "predictions.csv"
        listing.write_text("".join(f"{data_dir / name}\n" for name in test["file"]))
        command = [
            sys.executable,
            "-m",
            "facegen",
            "predict",
            "--cropped",
            "--format",
            "csv",
            "--model",
            str(run_dir / "model.keras"),
            "-o",
            str(output),
            f"@{listing}",
        ]
        subprocess.run(command, check=True)
        predicted = pd.read_csv(output, dtype={"file": str})
    predicted["file"] = predicted["file"].map(lambda p: Path(p).name)
    merged = test.merge(predicted, on="file", how="left", validate="one_to_one")
    if merged["label"].isna().any():
        missing = merged.loc[merged["label"].isna(), "file"].tolist()
        print(f"parity: {len(missing)} test files got no prediction, e.g. {missing[:3]}")
        return 1
    correct = int((merged["label"] == merged["gender"]).sum())
    n = len(merged)
    accuracy = correct / n
    notebook = expected["test_accuracy"]
    print(
        f"parity: facegen predict --cropped {accuracy:.4f} ({correct}/{n}) against the "
        f"evaluation notebook's {notebook:.4f} on {expected['n_test']} faces ({run_dir.name})"
    )
    if n != expected["n_test"] or abs(correct - notebook * n) > 1:
        print("parity: FAILED: the script does not reproduce the notebook's test accuracy")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
