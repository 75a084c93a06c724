"""What `--ray` costs per face: CPU seconds a face in-process, and on a local Ray (1, 2 actors).

    FACEGEN_DATA_DIR=../shared/utkface/UTKFace python benchmarks/bench_ray.py --model M [--n 1024]

On one small machine Ray adds start-up and no speed; its value is more machines, which is
worth having only if the cost of a face stays flat as workers are added. CPU time is the
machine's busy time (psutil) during each job, so run it on an otherwise idle machine; each Ray
job includes starting its actors, as a real one does. Ray's own start-up is timed apart. Every
connection stays on 127.0.0.1 (``cluster.start_ray``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import psutil


def cpu_seconds() -> float:
    """The machine's busy CPU time so far, every process counted: Ray's actors are started,
    reaped and replaced by its own daemons, where per-process accounting loses them. So the
    figures hold on an otherwise idle machine only."""
    times = psutil.cpu_times()
    return (
        times.user
        + times.nice
        + times.system
        + getattr(times, "irq", 0.0)
        + getattr(times, "softirq", 0.0)
    )


def measure(label: str, run, faces_of) -> None:
    cpu, wall = cpu_seconds(), time.perf_counter()
    result = run()
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    faces = faces_of(result)
    print(
        f"{label:<28} {faces:,} faces in {wall:6.2f} s wall = {faces / wall:7,.0f} faces/s; "
        f"{1000 * cpu / faces:6.2f} ms CPU a face"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("FACEGEN_DATA_DIR"))
    parser.add_argument("--model", required=True, help="a .keras model with its ONNX copy")
    parser.add_argument("--n", type=int, default=1024, help="UTKFace crops to classify")
    args = parser.parse_args()
    if not args.data_dir:
        parser.error("pass --data-dir or set FACEGEN_DATA_DIR to the aligned UTKFace folder")
    from facegen import cluster
    from facegen.modeling.saving import load_classifier
    from facegen.predict import on_ray
    from facegen.predict.classify import classify_files
    from facegen.predict.inputs import collect_inputs

    files = sorted(Path(args.data_dir).glob("*.jpg"))[: args.n]
    inputs = collect_inputs([str(f) for f in files])
    model = load_classifier(args.model)
    print(f"{len(inputs):,} UTKFace crops, --cropped, views flip; {os.cpu_count()} CPUs")
    classify_files(inputs[:64], model, cropped=True, progress=False, workers=1)  # warm up

    def faces_here(results) -> int:
        return sum(len(r.boxes) for r in results if r.status == "ok")

    for workers in (1, 2):
        measure(
            f"in-process, {workers} worker(s)",
            lambda w=workers: classify_files(
                inputs, model, cropped=True, progress=False, workers=w
            ),
            faces_here,
        )

    ray = cluster.require_ray()
    began = time.perf_counter()
    cluster.start_ray(ray, verbose=False)
    print(f"{'Ray start-up (local)':<28} {time.perf_counter() - began:6.2f} s wall")
    try:
        for actors in (1, 2):
            with tempfile.TemporaryDirectory() as folder:
                out = Path(folder) / "results.parquet"

                def faces_on_ray(job, out=out) -> int:
                    table = on_ray.read_rows(out)
                    return int((table["status"] == "ok").sum())

                measure(
                    f"Ray, {actors} actor(s)",
                    lambda a=actors, out=out: on_ray.predict_on_ray(
                        inputs, args.model, out, cropped=True, progress=False, actors=a
                    ),
                    faces_on_ray,
                )
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
