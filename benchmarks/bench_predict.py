"""How fast `facegen predict` is: aligned crops per second, photos per second, start-up time.

    FACEGEN_DATA_DIR=../shared/utkface/UTKFace python benchmarks/bench_predict.py [--model M]
        [--crops ../shared/external/fairface/train]

Uses the given model (as ``facegen predict`` loads it: its ONNX copy when it has one), else the
newest complete run's, else an untrained model of the default architecture saved to a temporary
folder with its ONNX copy (speed does not depend on the weights). ``--workers`` as for
``facegen predict`` (default: one per core). Figures:

* cropped throughput: ``classify_files(--cropped)`` over N face crops (UTKFace's 64 px files, and
  the ``--crops`` folder's, e.g. FairFace's 224 px ones), decode, detect, align and classify,
  for each set of test-time views;
* photos: 1280x960 photos with three faces each (UTKFace crops pasted on a plain background),
  as a batch (faces per second) and one at a time (latency);
* start-up: the wall time of the whole command on one file, and of ``--help`` alone;
* with ``--run RUN_DIR``: accuracy of detection mode on the in-the-wild crops (``crop_part1/``) of
  that run's test-split faces, against ``--cropped`` on their aligned versions: what detecting
  and cropping costs in accuracy, on faces the model never trained on.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np


def load_or_build_model(path: str | None, folder: Path):
    from facegen.modeling.model import build_model
    from facegen.modeling.saving import load_classifier, save_model
    from facegen.runs.manifest import newest_complete_model

    path = path or newest_complete_model()
    described = str(path)
    if not path:
        path = save_model(build_model(), folder / "model.keras")
        described = "an untrained default model"
    model = load_classifier(path)
    return model, Path(path), f"{described} ({type(model).__name__})"


def make_photos(wild_dir: Path, folder: Path, n: int, seed: int) -> list[Path]:
    rng = random.Random(seed)
    tiles = sorted(wild_dir.glob("*.jpg"))
    photos = []
    for i in range(n):
        canvas = np.full((960, 1280, 3), 110, np.uint8)
        for slot in range(3):
            tile = cv2.resize(cv2.imread(str(rng.choice(tiles))), (300, 300))
            x, y = 60 + slot * 400, 300
            canvas[y : y + 300, x : x + 300] = tile
        path = folder / f"photo{i:03d}.jpg"
        cv2.imwrite(str(path), canvas)
        photos.append(path)
    return photos


def wild_accuracy(model, aligned_dir: Path, run_dir: Path, workers: int | None) -> None:
    import pandas as pd

    from facegen.predict.classify import PredictStatus, classify_files
    from facegen.predict.inputs import collect_inputs

    split = pd.read_csv(run_dir / "split.csv", dtype=str)
    test = split[split["split"] == "test"].set_index("file")["gender"]
    wild_dir = aligned_dir.parent / "crop_part1"
    names = sorted(p.name for p in wild_dir.glob("*.jpg") if p.name in test.index)
    truth = test.loc[names].to_numpy()
    found = {}
    for label, folder, cropped in (("detected in crop_part1", wild_dir, False),
                                   ("aligned, --cropped", aligned_dir, True)):  # fmt: skip
        results = classify_files(
            collect_inputs([str(folder / n) for n in names]), model, cropped=cropped,
            progress=False, workers=workers,
        )  # fmt: skip
        found[label] = {
            n: ("female" if r.probabilities[0] >= 0.5 else "male")
            for n, r in zip(names, results, strict=True)
            if r.status == PredictStatus.OK
        }
    detected = found["detected in crop_part1"]
    print(f"test-split faces in crop_part1: {len(names)}; a face was found in {len(detected)}")
    for label, predicted in found.items():
        on = [i for i, n in enumerate(names) if n in detected]
        right = sum(predicted[names[i]] == truth[i] for i in on)
        print(f"  accuracy on those {len(on)}, {label}: {right / len(on):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("FACEGEN_DATA_DIR"))
    parser.add_argument("--model")
    parser.add_argument("--n", type=int, default=2000, help="cropped faces to classify")
    parser.add_argument("--crops", help="a second folder of face crops (e.g. FairFace's train/)")
    parser.add_argument("--photos", type=int, default=60)
    parser.add_argument("--run", help="a run folder: also measure detection-mode accuracy")
    parser.add_argument("--workers", type=int, help="as for facegen predict (default: all cores)")
    args = parser.parse_args()
    if not args.data_dir:
        parser.error("pass --data-dir or set FACEGEN_DATA_DIR to the aligned UTKFace folder")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from facegen import config
    from facegen.faces.framing import Framing
    from facegen.modeling.inference import predict_proba
    from facegen.predict.classify import PredictStatus, analyse_file, classify_files
    from facegen.predict.inputs import collect_inputs

    scratch = tempfile.TemporaryDirectory()
    model, model_path, source = load_or_build_model(args.model, Path(scratch.name))
    workers = args.workers
    print(f"model: {source}; {os.cpu_count()} CPUs; workers: {workers or 'one per core'}")
    folders = [("UTKFace 64 px", Path(args.data_dir))]
    if args.crops:
        folders.append((Path(args.crops).parent.name or "crops", Path(args.crops)))
    for name, folder in folders:
        files = sorted(folder.glob("*.jpg"))[: args.n]
        inputs = collect_inputs([str(f) for f in files])
        classify_files(inputs[:64], model, cropped=True, progress=False, workers=1)  # warm up
        for views in config.VIEW_SETS[::-1]:
            label = f"--views {views}" + (" (default)" if views == config.TEST_TIME_VIEWS else "")
            start = time.perf_counter()
            results = classify_files(
                inputs, model, cropped=True, progress=False, views=views, workers=workers
            )
            seconds = time.perf_counter() - start
            faces = sum(len(r.boxes) for r in results if r.status == PredictStatus.OK)
            aligned = sum(r.framing == [Framing.ALIGNED] for r in results)
            print(
                f"cropped {name}, {label}: {faces:,} faces ({aligned:,} aligned) in "
                f"{seconds:.2f} s = {faces / seconds:,.0f} faces/s"
            )

    with tempfile.TemporaryDirectory() as tmp:
        photos = make_photos(Path(args.data_dir).parent / "crop_part1", Path(tmp), args.photos, 0)
        start = time.perf_counter()
        batch = classify_files(
            collect_inputs([str(p) for p in photos]), model, progress=False, workers=workers
        )
        seconds = time.perf_counter() - start
        faces = sum(len(r.boxes) for r in batch if r.status == PredictStatus.OK)
        print(
            f"photos as a batch (1280x960, 3 faces each): {len(photos) / seconds:.1f} photos/s, "
            f"{faces / seconds:.1f} faces/s; {faces} of {3 * len(photos)} faces found"
        )
        latencies, found = [], 0
        for photo in photos:
            began = time.perf_counter()
            result = analyse_file(photo, int(model.input_shape[1]), cropped=False)
            if len(result.faces):
                predict_proba(model, result.faces)
            latencies.append(time.perf_counter() - began)
            found += len(result.boxes)
        median, worst = statistics.median(latencies) * 1000, max(latencies) * 1000
        print(
            f"photos (1280x960, 3 faces each): median {median:.0f} ms, max {worst:.0f} ms "
            f"per photo; {found} of {3 * len(photos)} faces found"
        )
        if args.run:
            wild_accuracy(model, Path(args.data_dir), Path(args.run), workers)
        command = [sys.executable, "-m", "facegen", "predict", "-q", str(photos[0])]
        command += ["--model", str(model_path)]
        for label, argv in (("--help", [sys.executable, "-m", "facegen", "predict", "--help"]),
                            ("one photo", command)):  # fmt: skip
            began = time.perf_counter()
            subprocess.run(argv, check=False, capture_output=True)
            print(f"start-up, {label}: {time.perf_counter() - began:.2f} s wall")


if __name__ == "__main__":
    main()
