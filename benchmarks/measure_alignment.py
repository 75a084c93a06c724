"""How well faces are found and aligned: the landmark template, coverage, and rotated faces.

    FACEGEN_DATA_DIR=../shared/utkface/UTKFace python benchmarks/measure_alignment.py \\
        [--external ../shared/external/fairface] [--n 2000]

Prints:

* the landmark template: median positions of the detector's five landmarks on UTKFace's 200x200
  aligned crops (``crop_part1/`` beside the data folder), as fractions of the crop, to compare
  with ``facegen.faces.align.TEMPLATE``;
* how closely UTKFace faces realigned through detector and template match their stored crops
  (pixel correlation of the model inputs), the check that the template reproduces the frame;
* the share of UTKFace faces found when rotated by +-20 degrees (target >= 95%);
* with ``--external``: the share of a collection's files aligned from landmarks (target >= 98%
  for FairFace, >= 99% since RetinaFace), the rest being classified whole.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path

import cv2
import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("FACEGEN_DATA_DIR"))
    parser.add_argument("--external", help="a collection, e.g. ../shared/external/fairface")
    parser.add_argument("--n", type=int, default=2000, help="faces per measurement")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.data_dir:
        parser.error("pass --data-dir or set FACEGEN_DATA_DIR to the aligned UTKFace folder")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from facegen.faces.align import TEMPLATE
    from facegen.faces.decode import decode_gray, decode_rgb
    from facegen.faces.detect import central_face, detect_in_crops
    from facegen.faces.framing import Framing, frame_crops
    from facegen.faces.preprocess import preprocess_face

    rng = random.Random(args.seed)
    folder = Path(args.data_dir)
    files = rng.sample(sorted(folder.glob("*.jpg")), args.n)
    large = sorted((folder.parent / "crop_part1").glob("*.jpg"))
    if large:
        sample = rng.sample(large, min(args.n, len(large)))
        images = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in sample]
        points = []
        for image, faces in zip(images, detect_in_crops(images), strict=True):
            face = central_face(image, faces)
            if face is not None:
                points.append(face.landmarks / np.array(image.shape[1::-1]))
        median = np.median(np.stack(points), axis=0)
        print(f"template from {len(points)} of {len(sample)} crop_part1 crops (median x, y):")
        for name, measured, used in zip(
            ("left eye", "right eye", "nose", "mouth left", "mouth right"),
            median,
            TEMPLATE,
            strict=True,
        ):
            print(f"  {name:<12} {measured[0]:.4f} {measured[1]:.4f}   (TEMPLATE {used[0]:.4f} "
                  f"{used[1]:.4f})")  # fmt: skip

    datas = [p.read_bytes() for p in files]
    rgbs, grays = [decode_rgb(d) for d in datas], [decode_gray(d) for d in datas]
    start = time.perf_counter()
    framed = frame_crops(rgbs, grays)
    seconds = time.perf_counter() - start
    aligned = [f.framing == Framing.ALIGNED for f in framed]
    correlation = [
        np.corrcoef(f.face.ravel().astype(float), preprocess_face(g).ravel().astype(float))[0, 1]
        for f, g, ok in zip(framed, grays, aligned, strict=True)
        if ok
    ]
    print(
        f"UTKFace crops realigned: {sum(aligned)} of {len(files)} aligned "
        f"({1000 * seconds / len(files):.1f} ms a face); correlation with the stored crop: median "
        f"{np.median(correlation):.3f}, 10th percentile {np.percentile(correlation, 10):.3f}"
    )
    for angle in (20, -20):
        turned = [_rotated(image, angle) for image in rgbs]
        found = sum(central_face(t, faces) is not None for t, faces in
                    zip(turned, detect_in_crops(turned), strict=True))  # fmt: skip
        print(f"UTKFace faces rotated by {angle:+d} degrees: found in {found} of {len(turned)} "
              f"({100 * found / len(turned):.1f}%)")  # fmt: skip

    if args.external:
        from facegen.data.external import read_collection
        from facegen.faces.batch import frame_files

        collection = read_collection(args.external)
        usable = collection.usable
        start = time.perf_counter()
        framed_files = frame_files(usable["file"].tolist(), usable["path"].tolist(), cache=False)
        seconds = time.perf_counter() - start
        n_aligned = framed_files.framing.count(Framing.ALIGNED)
        share = n_aligned / len(usable)
        print(
            f"{collection.name}: {n_aligned:,} of {len(usable):,} files "
            f"aligned from landmarks ({100 * share:.2f}%), {len(framed_files.errors)} unreadable; "
            f"{1000 * seconds / len(usable):.1f} ms a file"
        )


def _rotated(image: np.ndarray, angle: float) -> np.ndarray:
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REFLECT_101)


if __name__ == "__main__":
    main()
