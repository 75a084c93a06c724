"""Sweeps on Ray Tune (``facegen.runs.sweep``): seeded trials repeat exactly, and a sweep that
stopped goes on where it stopped without training a finished trial again.

One local Ray (2 CPUs, loopback only, as ``facegen.cluster`` starts one) serves the module.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from facegen import cluster
from facegen.errors import UsageError
from facegen.runs.sweep import Trial, run_sweep

pytestmark = pytest.mark.slow  # a local Ray and small trainings: about a minute


@pytest.fixture(scope="module")
def ray_local():
    pytest.importorskip("ray.tune")
    saved = {name: os.environ.get(name) for name in ("RAY_ADDRESS", cluster.LOOPBACK_ONLY)}
    os.environ.pop("RAY_ADDRESS", None)
    ray = cluster.require_ray()
    init = ray.init
    ray.init = functools.partial(init, num_cpus=2)
    try:
        assert cluster.start_ray(ray, verbose=False)
    finally:
        ray.init = init
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers can't import tests
    yield ray
    ray.shutdown()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def tiny_training(params: dict) -> dict:
    """A real (small) training: the project's ``train`` on 96 random faces, one epoch; the
    row fingerprints the weights and the validation probabilities it ends with."""
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
    return {"seed": params["seed"], "weights": digest.hexdigest(),
            "val_accuracy": result.best_val_accuracy}  # fmt: skip


def test_equal_seeds_give_equal_trials_and_other_seeds_do_not(ray_local, tmp_path):
    trials = [Trial("a", {"seed": 7}), Trial("b", {"seed": 7}), Trial("c", {"seed": 8})]
    seen = []
    result = run_sweep("seeds", trials, tiny_training, folder=tmp_path, cpus_per_trial=1,
                       on_row=seen.append)  # fmt: skip
    assert not result.failed
    rows = {row["trial"]: row for row in result.rows}
    assert [row["trial"] for row in result.rows] == ["a", "b", "c"]  # the sweep's order
    assert sorted(row["trial"] for row in seen) == ["a", "b", "c"]  # each once, as it finished
    assert rows["a"]["weights"] == rows["b"]["weights"]
    assert rows["a"]["weights"] != rows["c"]["weights"]


def counted(params: dict) -> dict:
    """Notes each call in a file; fails while ``params['fail_unless']`` does not exist."""
    calls = Path(params["calls"])
    with calls.open("a") as out:
        out.write(params["name"] + "\n")
    if params.get("fail_unless") and not Path(params["fail_unless"]).exists():
        raise RuntimeError("stopped on purpose")
    return {"name": params["name"], "value": len(params["name"])}


def test_a_stopped_sweep_goes_on_without_training_a_finished_trial_again(ray_local, tmp_path):
    calls, gate = tmp_path / "calls.txt", tmp_path / "gate"
    trials = [
        Trial(name, {"name": name, "calls": str(calls),
                     "fail_unless": str(gate) if name == "third" else None})
        for name in ("first", "second", "third")
    ]  # fmt: skip
    first = run_sweep("resume", trials, counted, folder=tmp_path / "sweeps", cpus_per_trial=1)
    assert [row["trial"] for row in first.rows] == ["first", "second"]
    assert list(first.failed) == ["third"] and "stopped on purpose" in first.failed["third"]

    gate.touch()
    again = run_sweep("resume", trials, counted, folder=tmp_path / "sweeps", cpus_per_trial=1)
    assert not again.failed
    assert [(row["trial"], row["value"]) for row in again.rows] == [
        ("first", 5), ("second", 6), ("third", 5)]  # fmt: skip
    assert sorted(calls.read_text().split()) == ["first", "second", "third", "third"]


def test_a_sweep_folder_is_never_shared_by_two_sweeps(ray_local, tmp_path):
    calls = str(tmp_path / "calls.txt")
    run_sweep("one", [Trial("x", {"name": "x", "calls": calls})], counted, folder=tmp_path,
              cpus_per_trial=1)  # fmt: skip
    with pytest.raises(UsageError, match="holds a sweep with other trials"):
        run_sweep("one", [Trial("y", {"name": "y", "calls": calls})], counted, folder=tmp_path)
    with pytest.raises(UsageError, match="repeat"):
        run_sweep("two", [Trial("x"), Trial("x")], counted, folder=tmp_path)
