"""Benchmark the data layer on the real set: cold preprocessing, warm cache load, peak memory.

    FACEGEN_DATA_DIR=../shared/utkface/UTKFace python benchmarks/bench_data.py

Prints figures, asserts nothing: the machine is shared, so read ratios measured in one run.
Targets on the 2-core machine: >= 3,000 images/s cold, < 1 s warm. "Cold" means no facegen cache;
the operating system's file cache is as the run found it (we cannot drop it without privileges).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("FACEGEN_DATA_DIR"))
    parser.add_argument("--repeats", type=int, default=3, help="warm loads to time (best is shown)")
    args = parser.parse_args()
    os.environ["FACEGEN_CACHE_DIR"] = tempfile.mkdtemp(prefix="facegen-bench-")

    from facegen.data.dataset import load_dataset
    from facegen.data.frame import RowStatus
    from facegen.data.utkface import load_frame
    from facegen.faces.cache import load_faces, preprocess_files

    start = time.perf_counter()
    frame = load_frame(args.data_dir, download=False)
    scan_cold = time.perf_counter() - start
    paths = frame.loc[frame["status"].eq(RowStatus.OK), "path"].tolist()

    timings = {}
    for workers in (1, os.cpu_count() or 1):
        start = time.perf_counter()
        preprocess_files(paths, workers=workers)
        timings[workers] = time.perf_counter() - start

    start = time.perf_counter()
    load_dataset(args.data_dir, download=False, progress=False)
    cold_total = time.perf_counter() - start

    warm = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        dataset = load_dataset(args.data_dir, download=False, progress=False)
        warm.append(time.perf_counter() - start)
    start = time.perf_counter()
    load_faces(dataset.used, progress=False)
    warm_arrays = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    n, cores = len(paths), os.cpu_count() or 1
    print(
        f"data: {dataset.data_dir} ({len(frame):,} files, {n:,} preprocessed, "
        f"{dataset.image_size}px)"
    )
    print(f"cold label scan + fingerprints:   {scan_cold:6.2f} s")
    for workers, seconds in timings.items():
        print(
            f"cold preprocessing, {workers} worker(s):  {seconds:6.2f} s  "
            f"{n / seconds:8,.0f} images/s"
        )
    if cores > 1:
        print(f"parallel speed-up ({cores} vs 1):     {timings[1] / timings[cores]:6.2f} x")
    print(f"cold load_dataset (all steps):    {cold_total:6.2f} s")
    print(f"warm load_dataset (best of {args.repeats}):    {min(warm):6.2f} s")
    print(f"warm cached arrays alone:         {warm_arrays:6.3f} s")
    print(f"peak resident memory:             {peak_mib:6.0f} MiB")


if __name__ == "__main__":
    main()
