"""Sweeps on Ray Tune (``facegen.runs.sweep``): seeded trials repeat exactly; a sweep interrupted
(Ctrl-C in its driver) or with a failed trial goes on where it stopped when run again, without
training a finished trial again; a folder never mixes two sweeps.

One local Ray (2 CPUs, loopback only, the ``ray_local`` fixture) serves the module; the
interrupted driver runs in a process of its own with its own local Ray.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from facegen.errors import UsageError
from facegen.runs.sweep import ROWS_DIR, Trial, run_sweep, sweep_options

pytestmark = pytest.mark.slow  # a local Ray and small trainings: about a minute and a half


@pytest.fixture(scope="module", autouse=True)
def _tests_sent_by_value(ray_local):
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/
    yield
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def tiny_training(params: dict) -> dict:
    """A real (small) training: the project's ``train`` on 96 random faces, one epoch; the
    row fingerprints the weights it ends with."""
    from facegen.modeling.model import ModelConfig
    from facegen.modeling.train import TrainConfig, train

    rng = np.random.default_rng(0)  # the data are fixed: only the trial's seed varies
    images = rng.integers(0, 256, size=(96, 48, 48), dtype=np.uint8)
    labels = (images[:, :24].mean(axis=(1, 2)) > images[:, 24:].mean(axis=(1, 2))).astype(int)
    result = train(
        images[:64], labels[:64], images[64:], labels[64:],
        model_config=ModelConfig(widths=(4, 8), dropout=0.1),
        train_config=TrainConfig(epochs=1, batch_size=16, seed=params["seed"]), progress=False,
    )  # fmt: skip
    digest = hashlib.sha256()
    for weights in result.model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return {"seed": params["seed"], "weights": digest.hexdigest()}


def test_equal_seeds_give_equal_trials_and_other_seeds_do_not(ray_local, tmp_path):
    trials = [Trial("a", {"seed": 7}), Trial("b", {"seed": 7}), Trial("c", {"seed": 8})]
    seen = []
    result = run_sweep("seeds", trials, tiny_training, folder=tmp_path, cpus_per_trial=1,
                       on_row=seen.append)  # fmt: skip
    assert result.complete
    rows = {row["trial"]: row for row in result.rows}
    assert [row["trial"] for row in result.rows] == ["a", "b", "c"]  # the sweep's order
    assert sorted(row["trial"] for row in seen) == ["a", "b", "c"]  # each once, as it finished
    assert rows["a"]["weights"] == rows["b"]["weights"]
    assert rows["a"]["weights"] != rows["c"]["weights"]


def counted(params: dict) -> dict:
    """Notes each call in a file; waits for ``params['gate']`` to exist when given one."""
    with Path(params["calls"]).open("a") as out:
        out.write(params["name"] + "\n")
    if params.get("gate"):
        waited = time.monotonic()
        while not Path(params["gate"]).exists():
            if time.monotonic() - waited > 120:
                raise RuntimeError("the gate never opened")
            time.sleep(0.2)
    if params.get("fail_unless") and not Path(params["fail_unless"]).exists():
        raise RuntimeError("failed on purpose")
    return {"name": params["name"], "value": len(params["name"])}


DRIVER = textwrap.dedent(
    """
    import json, sys
    from facegen.runs.sweep import Trial, run_sweep

    def counted(params):
        with open(params["calls"], "a") as out:
            out.write(params["name"] + "\\n")
        if params.get("gate"):
            import pathlib, time
            while not pathlib.Path(params["gate"]).exists():
                time.sleep(0.2)
        return {"name": params["name"], "value": len(params["name"])}

    trials = [Trial(n, p) for n, p in json.loads(sys.argv[1])]
    seen = []
    result = run_sweep("stopped", trials, counted, folder=sys.argv[2], cpus_per_trial=2,
                       on_row=lambda row: seen.append(row["trial"]))
    print(json.dumps({"rows": [(r["trial"], r["value"]) for r in result.rows], "seen": seen,
                      "unfinished": result.unfinished, "problem": result.problem()}))
    sys.exit(0 if result.complete else 3)
    """
)


def test_an_interrupted_sweep_goes_on_without_training_a_finished_trial(ray_local, tmp_path):
    calls, gate, folder = tmp_path / "calls.txt", tmp_path / "gate", tmp_path / "sweeps"
    specs = [
        ("first", {"name": "first", "calls": str(calls)}),
        ("second", {"name": "second", "calls": str(calls), "gate": str(gate)}),  # waits
        ("third", {"name": "third", "calls": str(calls)}),
    ]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}

    def start_driver() -> subprocess.Popen:
        """The sweep's script, as a user runs it: its own process and its own local Ray."""
        return subprocess.Popen(
            [sys.executable, "-c", DRIVER, json.dumps(specs), str(folder)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip

    driver, began = start_driver(), time.monotonic()
    while "second" not in (calls.read_text() if calls.exists() else ""):
        assert driver.poll() is None, driver.communicate()
        assert time.monotonic() - began < 150, "the sweep never reached its second trial"
        time.sleep(0.2)
    driver.send_signal(signal.SIGINT)  # Ctrl-C while the second trial runs
    out, err = driver.communicate(timeout=120)
    assert driver.returncode == 3, (out, err)
    stopped = json.loads(out.strip().splitlines()[-1])
    assert stopped["rows"] == [["first", 5]] and stopped["seen"] == ["first"]
    assert stopped["unfinished"] == ["second", "third"]
    assert "not finished (interrupted)" in stopped["problem"]
    assert len(list((folder / "stopped" / ROWS_DIR).iterdir())) == 1

    gate.touch()  # the same command again
    driver = start_driver()
    out, err = driver.communicate(timeout=240)
    assert driver.returncode == 0, (out, err)
    again = json.loads(out.strip().splitlines()[-1])
    assert again["rows"] == [["first", 5], ["second", 6], ["third", 5]]
    assert sorted(again["seen"]) == ["second", "third"]  # only what ran this time
    assert "1 of 3 trials" in err and "already finished" in err
    assert sorted(calls.read_text().split()) == ["first", "second", "second", "third"]


def test_a_failed_trial_is_tried_again_and_alone(ray_local, tmp_path):
    calls, gate = tmp_path / "calls.txt", tmp_path / "gate"
    trials = [Trial(name, {"name": name, "calls": str(calls),
                           "fail_unless": str(gate) if name == "b" else None})
              for name in ("a", "b")]  # fmt: skip
    first = run_sweep("failing", trials, counted, folder=tmp_path, cpus_per_trial=1)
    assert [row["trial"] for row in first.rows] == ["a"] and not first.complete
    assert list(first.failed) == ["b"] and "failed on purpose" in first.failed["b"]
    assert "1 failed (b)" in first.problem()
    gate.touch()
    again = run_sweep("failing", trials, counted, folder=tmp_path, cpus_per_trial=1)
    assert again.complete and [row["trial"] for row in again.rows] == ["a", "b"]
    assert sorted(calls.read_text().split()) == ["a", "b", "b"]

    # Another list of trials, function or CPUs in the same folder is refused, not mixed.
    other = [Trial("c", {"name": "c", "calls": str(calls)})]
    with pytest.raises(UsageError, match=r"holds another sweep \(its trials differ"):
        run_sweep("failing", other, counted, folder=tmp_path, cpus_per_trial=1)
    with pytest.raises(UsageError, match="its cpus_per_trial differ"):
        run_sweep("failing", trials, counted, folder=tmp_path, cpus_per_trial=2)
    fresh = run_sweep("failing", other, counted, folder=tmp_path, cpus_per_trial=1, fresh=True)
    assert [row["trial"] for row in fresh.rows] == ["c"]


def test_what_a_sweep_cannot_run_is_refused_in_one_line(ray_local, tmp_path):
    with pytest.raises(UsageError, match="repeat"):
        run_sweep("two", [Trial("x"), Trial("x")], counted, folder=tmp_path)
    with pytest.raises(UsageError, match="the largest has 2 CPUs"):
        run_sweep("big", [Trial("x")], counted, folder=tmp_path, cpus_per_trial=3)
    given = sweep_options().parse_args(["--sweep-dir", "s3://bucket/sweeps"]).sweep_dir
    with pytest.raises(UsageError, match="not a URI"):  # as a script's option gives it
        run_sweep("uri", [Trial("x")], counted, folder=given)
    with pytest.raises(UsageError, match="must be JSON"):
        run_sweep("json", [Trial("x", {"path": tmp_path})], counted, folder=tmp_path)
