"""What `--ray` costs per face: CPU seconds a face in-process (1, 2 workers) and on a local Ray
(1, 2 actors), from one run, with the targets of issue 22 checked.

    FACEGEN_DATA_DIR=../shared/utkface/UTKFace python benchmarks/bench_ray.py --model M [--n 4096]

On one small machine Ray adds start-up and no speed; its value is more machines, which is
worth having only if the cost of a face stays flat as workers are added. So CPU is counted per
process, never as the machine's busy time, and other work on the machine (a training) does not
enter the figures, only slows their wall time:

- this process: its own CPU (``getrusage``), less the thread that does the counting;
- its descendants (the in-process worker processes; Ray's GCS, raylet, agents and workers),
  sampled by psutil ten times a second, each up to its last sample: a process that exits loses
  at most its last tenth of a second, when it is idle and waiting to be stopped;
- each Ray actor's own account (``RayJob.actor_cpu``): CPU when its constructor was done
  (imports, the detector and the model loaded and run once: its start-up, a fixed cost) and at
  its last answer (the difference: its blocks).

Fixed costs (Ray's start-up, the actors' start-up) are shown apart. Everything else a job used,
in every process, is its cost a face: the driver's planning and its Parquet writing, Ray's
daemons polling while the job runs, workers' fork and exit. Every connection stays on
127.0.0.1 (``cluster.start_ray``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

TARGET = 1.20
"""Issue 22: the cost a face, in-process and with 1 and 2 Ray actors, flat within 20%."""

Key = tuple[int, float]  # a process: its id and creation time (ids are reused)


class ProcessCPU:
    """CPU seconds (user and system) each descendant of this process has used, sampled on a
    thread ten times a second and whenever ``snapshot`` is called; ``own`` is what the
    sampling itself cost this process, to be taken out of its figure."""

    def __init__(self, interval: float = 0.1) -> None:
        self.seen: dict[Key, tuple[str, float]] = {}
        self.own = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        with self._lock:
            began = time.thread_time()
            for child in psutil.Process().children(recursive=True):
                try:
                    with child.oneshot():
                        times = child.cpu_times()
                        key = (child.pid, child.create_time())
                        name = child.name()
                except psutil.Error:  # gone between listing and reading
                    continue
                self.seen[key] = (name, times.user + times.system)
            self.own += time.thread_time() - began

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self._sample()

    def snapshot(self) -> dict[Key, tuple[str, float]]:
        """Every descendant seen so far, with its CPU when last seen."""
        self._sample()
        with self._lock:
            return dict(self.seen)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Phase:
    """The CPU one piece of work used: this process's, and each descendant's, by key."""

    wall: float
    here: float
    processes: dict[Key, tuple[str, float]]  # name, CPU used during the phase
    before: dict[Key, float]  # CPU a process had used before the phase (0 for new ones)
    result: object = None

    @property
    def total(self) -> float:
        return self.here + sum(cpu for _, cpu in self.processes.values())


def measure(counter: ProcessCPU, run: Callable[[], object]) -> Phase:
    from facegen.predict import on_ray

    before = counter.snapshot()
    own, cpu, wall = counter.own, on_ray.process_cpu(), time.perf_counter()
    result = run()
    wall = time.perf_counter() - wall
    here = on_ray.process_cpu() - cpu - (counter.own - own)
    after = counter.snapshot()
    processes = {
        key: (name, used - before.get(key, (name, 0.0))[1])
        for key, (name, used) in after.items()
        if used - before.get(key, (name, 0.0))[1] > 0
    }
    started = {key: cpu for key, (_, cpu) in before.items()}
    return Phase(wall, here, processes, started, result)


@dataclass
class Cost:
    label: str
    faces: int
    wall: float
    per_face: float  # CPU seconds a face, everything but the fixed costs
    fixed: float  # CPU seconds of start-up
    parts: dict[str, float] = field(default_factory=dict)  # CPU seconds, per-face share

    def line(self) -> str:
        parts = ", ".join(f"{name} {seconds:.2f}" for name, seconds in self.parts.items())
        fixed = f"; fixed {self.fixed:5.2f} s" if self.fixed else ""
        return (
            f"{self.label:<24} {self.faces:,} faces, {self.wall:6.2f} s wall: "
            f"{1000 * self.per_face:5.2f} ms CPU a face{fixed}\n{'':<26}(CPU s: {parts})"
        )


def in_process_cost(counter: ProcessCPU, inputs, model, workers: int, ray: set[Key]) -> Cost:
    """``ray``: the local Ray's processes, running beside but no part of in-process work."""
    from facegen.predict.classify import classify_files

    phase = measure(
        counter,
        lambda: classify_files(inputs, model, cropped=True, progress=False, workers=workers),
    )
    faces = sum(len(r.boxes) for r in phase.result if r.status == "ok")
    children = sum(
        cpu
        for key, (name, cpu) in phase.processes.items()
        if key not in ray and not name.startswith("ray::")  # a worker Ray started meanwhile
    )
    return Cost(
        f"in-process, {workers} worker{'s' * (workers > 1)}",
        faces,
        phase.wall,
        phase.total / faces,
        0.0,
        {"this process": phase.here, "worker processes": children},
    )


def ray_job(inputs, model_path: str, out: Path, actors: int):
    """One ``predict --ray`` job, and its actors' exit: an actor's last moments are its
    job's, not counted in the next one's."""
    from facegen.predict import on_ray

    job = on_ray.predict_on_ray(
        inputs, model_path, out, cropped=True, progress=False, actors=actors
    )
    gone = []
    for pid in job.actor_cpu:
        with contextlib.suppress(psutil.NoSuchProcess):
            gone.append(psutil.Process(pid))
    psutil.wait_procs(gone, timeout=60)
    return job


def ray_cost(counter: ProcessCPU, inputs, model_path: str, actors: int) -> Cost:
    from facegen.predict import on_ray

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "results.parquet"
        phase = measure(counter, lambda: ray_job(inputs, model_path, out, actors))
        table = on_ray.read_rows(out)
    faces = int((table["status"] == "ok").sum())
    job = phase.result
    answered = "" if len(job.actor_cpu) == actors else f" ({len(job.actor_cpu)} answered)"
    start_up = blocks = 0.0
    actor_keys = set()
    for pid, (ready, last) in job.actor_cpu.items():
        key = next((k for k in phase.processes if k[0] == pid), None)
        if key is not None:  # None: the actor came and went between two samples
            actor_keys.add(key)
        start_up += ready - phase.before.get(key, 0.0)  # an idle worker made an actor: its own
        blocks += last - ready
    stopping = sum(phase.processes[k][1] for k in actor_keys) - start_up - blocks
    others = sum(cpu for key, (_, cpu) in phase.processes.items() if key not in actor_keys)
    return Cost(
        f"Ray, {actors} actor{'s' * (actors > 1)}{answered}",
        faces,
        phase.wall,
        (phase.here + blocks + others) / faces,
        start_up + stopping,
        {
            "actors' blocks": blocks,
            "driver": phase.here,
            "Ray's other processes": others,
            "fixed: actors' start-up": start_up,
            "fixed: idle after their last block, exit": stopping,
        },
    )


def verdict(ratio: float) -> str:
    return "within 20%" if 1 / TARGET <= ratio <= TARGET else "NOT within 20%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("FACEGEN_DATA_DIR"))
    parser.add_argument("--model", required=True, help="a .keras model with its ONNX copy")
    parser.add_argument("--n", type=int, default=4096, help="UTKFace crops to classify")
    parser.add_argument(
        "--repeat", type=int, default=2, help="rounds of the four jobs; each figure's lowest"
    )
    args = parser.parse_args()
    if not args.data_dir:
        parser.error("pass --data-dir or set FACEGEN_DATA_DIR to the aligned UTKFace folder")
    from facegen import cluster
    from facegen.modeling.saving import load_classifier
    from facegen.predict.classify import classify_files
    from facegen.predict.inputs import collect_inputs

    files = sorted(Path(args.data_dir).glob("*.jpg"))[: args.n]
    inputs = collect_inputs([str(f) for f in files])
    model = load_classifier(args.model)
    print(f"{len(inputs):,} UTKFace crops, --cropped; {os.cpu_count()} CPUs; CPU per process")
    counter = ProcessCPU()
    classify_files(inputs[:128], model, cropped=True, progress=False, workers=2)  # warm up
    ray = cluster.require_ray()
    before_ray = set(counter.snapshot())
    began = measure(counter, lambda: cluster.start_ray(ray, verbose=False))
    print(f"{'Ray start-up (local)':<24} {began.wall:6.2f} s wall, {began.total:5.2f} s CPU")
    rounds: list[list[Cost]] = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            first = measure(counter, lambda: ray_job(inputs[:64], args.model, Path(folder), 1))
        print(
            f"{'Ray Data, first job':<24} {first.wall:6.2f} s wall, {first.total:5.2f} s CPU "
            "(64 crops; starts Ray Data's helper actors, once a session)"
        )
        ray_processes = {key for key in counter.snapshot() if key not in before_ray}
        idle = measure(counter, lambda: time.sleep(3))
        print(
            f"{'Ray idle':<24} {1000 * (idle.total - idle.here) / idle.wall:6.1f} ms CPU a "
            "second (its daemons polling: part of a job's cost a face)"
        )
        for number in range(args.repeat):
            print(f"round {number + 1}:")
            costs = []
            for workers in (1, 2):
                costs.append(in_process_cost(counter, inputs, model, workers, ray_processes))
                print(costs[-1].line(), flush=True)
            for actors in (1, 2):
                costs.append(ray_cost(counter, inputs, args.model, actors))
                print(costs[-1].line(), flush=True)
            rounds.append(costs)
    finally:
        ray.shutdown()
        counter.close()

    here1, here2, ray1, ray2 = (min(r[i].per_face for r in rounds) for i in range(4))
    print(f"\ncost a face, lowest of {len(rounds)} round(s), ms CPU:")
    print(f"  in-process, 1 worker  {1000 * here1:5.2f}  (detector and model on every core)")
    print(f"  in-process, 2 workers {1000 * here2:5.2f}  (the default: a worker per core)")
    print(f"  Ray, 1 actor          {1000 * ray1:5.2f}")
    print(f"  Ray, 2 actors         {1000 * ray2:5.2f}")
    print("ratios (issue 22: in-process and 1 and 2 Ray actors flat within 20%):")
    for name, ratio in (
        ("Ray 1 actor / in-process (2 workers)", ray1 / here2),
        ("Ray 2 actors / in-process (2 workers)", ray2 / here2),
        ("Ray 2 actors / Ray 1 actor", ray2 / ray1),
        ("Ray 1 actor / in-process, 1 worker", ray1 / here1),
    ):
        print(f"  {name:<38} {ratio:5.2f}  {verdict(ratio)}")
    spread = max(here2, ray1, ray2) / min(here2, ray1, ray2)
    met = "met" if spread <= TARGET else "NOT met"
    print(f"  {'highest / lowest of in-process, Ray 1, Ray 2':<38} {spread:5.2f}  target {met}")


if __name__ == "__main__":
    main()
