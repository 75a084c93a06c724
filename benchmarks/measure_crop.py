"""How closely `facegen predict` crops a face the way UTKFace's aligned crops were cut.

UTKFace ships each face twice: ``crop_part1/`` holds in-the-wild crops with background, and
``UTKFace/`` the aligned, tightly cropped version of the same file name. For a random sample this
script detects the face in the in-the-wild crop, cuts it with ``facegen.faces.detect.crop_face``
under several margins, preprocesses it, and prints the mean pixel correlation with the aligned
face (1.0 = identical model input). It checks ``CROP_BOX_FRACTION`` and ``CROP_BOX_CENTRE_Y``,
and the fraction of faces the detector finds.

    FACEGEN_DATA_DIR=../shared/utkface/UTKFace python benchmarks/measure_crop.py [--n 600]
"""

from __future__ import annotations

import argparse
import os
import random
from pathlib import Path

import numpy as np

from facegen.faces import detect
from facegen.faces.decode import decode_gray
from facegen.faces.preprocess import load_face, preprocess_face


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float64).ravel() - a.mean()
    b = b.astype(np.float64).ravel() - b.mean()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("FACEGEN_DATA_DIR"))
    parser.add_argument("--n", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.data_dir:
        parser.error("pass --data-dir or set FACEGEN_DATA_DIR to the aligned UTKFace folder")
    aligned_dir = Path(args.data_dir)
    wild_dir = aligned_dir.parent / "crop_part1"
    names = sorted(p.name for p in wild_dir.glob("*.jpg") if (aligned_dir / p.name).exists())
    random.Random(args.seed).shuffle(names)
    fractions = (0.75, 0.80, 0.83, 0.86, 0.90, 0.95)
    centres = (0.38, 0.41, 0.44, 0.47, 0.50)
    scores = {(f, c): [] for f in fractions for c in centres}
    found = tried = inside = 0
    for name in names[: args.n]:
        tried += 1
        target = load_face(aligned_dir / name)
        gray = decode_gray((wild_dir / name).read_bytes(), name)
        boxes = detect.detect_faces(gray)
        if not boxes:
            continue
        found += 1
        box = boxes[0]
        if (
            box.x < 0
            or box.y < 0
            or box.x + box.width > gray.shape[1]
            or (box.y + box.height > gray.shape[0])
        ):
            continue  # boxed partly in the padding: its box says little about the margin
        inside += 1
        for (fraction, centre), values in scores.items():
            detect.CROP_BOX_FRACTION, detect.CROP_BOX_CENTRE_Y = fraction, centre
            values.append(correlation(preprocess_face(detect.crop_face(gray, box)), target))
    print(f"faces found in {found} of {tried} in-the-wild crops, {inside} boxed inside the image")
    print("mean correlation with the aligned face, by box fraction (rows) and centre y (columns)")
    print("fraction " + " ".join(f"cy={c:.2f}" for c in centres))
    for fraction in fractions:
        print(
            f"  {fraction:.2f}   "
            + "  ".join(f"{np.mean(scores[fraction, c]):.3f}  " for c in centres)
        )
    best = max(scores, key=lambda k: np.mean(scores[k]))
    print(f"best: fraction {best[0]}, centre y {best[1]}: {np.mean(scores[best]):.3f}")


if __name__ == "__main__":
    main()
