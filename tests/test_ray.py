"""``facegen predict --ray``: the same rows as in-process, resumable, and on 127.0.0.1 only.

One local Ray (2 CPUs, no dashboard, loopback) serves the whole module, so its start-up is paid
once. Skipped where the ``ray`` extra is not installed, except the test of the message that
says how to install it.
"""

from __future__ import annotations

import builtins
import functools
import ipaddress
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from facegen.cli import main
from facegen.errors import UsageError
from facegen.modeling.saving import load_classifier
from facegen.predict import output
from facegen.predict.classify import classify_files
from facegen.predict.inputs import collect_inputs

from .conftest import astronaut, astronaut_face, rgb_jpeg_bytes, rgb_png_bytes

N_CROPS = 64

pytestmark = pytest.mark.slow  # a local Ray starts: about a minute in all


@pytest.fixture(scope="module")
def crops(tmp_path_factory) -> Path:
    """64 crops of the astronaut, cut and sized differently, with one bad file among them."""
    folder = tmp_path_factory.mktemp("ray") / "crops"
    folder.mkdir()
    for i in range(N_CROPS):
        face = astronaut_face(0.2 + 0.01 * (i % 20), 64 + 8 * (i % 5))
        (folder / f"{i:03d}.jpg").write_bytes(rgb_jpeg_bytes(np.ascontiguousarray(face)))
    (folder / "040.jpg").write_bytes(b"not an image")
    return folder


def in_process_rows(inputs, model_path) -> list[dict]:
    results = classify_files(inputs, load_classifier(model_path), cropped=True, progress=False,
                             workers=1)  # fmt: skip
    return output.rows(results)


def ray_rows(out: Path) -> list[dict]:
    from facegen.predict.on_ray import read_rows

    table = read_rows(out).astype(object).where(lambda t: t.notna(), None)
    return table.to_dict("records")


def comparable(rows: list[dict]) -> list[tuple]:
    return sorted(
        tuple(str(row[c]) if c in ("status", "framing") and row[c] is not None else row[c]
              for c in output.COLUMNS if c not in ("probability", "p_female"))
        for row in rows
    )  # fmt: skip


def test_ray_gives_the_in_process_rows(ray_local, crops, model_path, tmp_path, capsys):
    out = tmp_path / "results.parquet"
    code = main(["predict", "--ray", "--cropped", "-q", str(crops), "--model", str(model_path),
                 "-o", str(out)])  # fmt: skip
    assert code == 0
    assert capsys.readouterr().err == ""  # -q: nothing of Ray's reaches the terminal
    expected = in_process_rows(collect_inputs([str(crops)]), model_path)
    got = ray_rows(out)
    assert len(got) == len(expected) == N_CROPS
    assert comparable(got) == comparable(expected)
    by_file = {row["file"]: row for row in expected}
    for row in got:
        if row["p_female"] is not None:
            assert abs(row["p_female"] - by_file[row["file"]]["p_female"]) <= 1e-5
            assert abs(row["probability"] - by_file[row["file"]]["probability"]) <= 1e-5
    (bad,) = [row for row in got if row["status"] == "error"]
    assert bad["file"] == "crops/040.jpg" and bad["detail"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_a_stopped_job_goes_on_where_it_stopped(ray_local, crops, model_path, tmp_path):
    from facegen.predict.on_ray import predict_on_ray

    inputs = collect_inputs([str(crops), str(tmp_path / "missing.jpg")])
    out = tmp_path / "results.parquet"
    job = functools.partial(predict_on_ray, inputs, model_path, out, cropped=True,
                            progress=False, block_files=16)  # fmt: skip
    first = job(stop_after=1)
    assert 0 < first.done_now < len(inputs)
    (out / ".part-killed.parquet.x.tmp").write_bytes(b"half a file")  # as a killed job leaves it
    second = job()
    assert second.done_before == first.done_now
    assert second.done_before + second.done_now == len(inputs)
    files = [row["file"] for row in ray_rows(out)]
    assert sorted(files) == sorted(item.name for item in inputs)  # each exactly once
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    third = job()
    assert third.done_now == 0 and third.done_before == len(inputs)
    import pandas as pd

    assert len(pd.read_parquet(out)) == len(ray_rows(out))  # the job's record is not read as data
    with pytest.raises(UsageError, match="another cropped, views"):
        predict_on_ray(inputs, model_path, out, cropped=False, views="none", progress=False)


def test_two_files_shown_under_one_name_are_refused(ray_local, crops, model_path, tmp_path):
    from facegen.predict.on_ray import predict_on_ray

    twin = tmp_path / "elsewhere" / crops.name
    twin.mkdir(parents=True)
    (twin / "000.jpg").write_bytes((crops / "000.jpg").read_bytes())
    inputs = collect_inputs([str(crops), str(twin)])
    with pytest.raises(UsageError, match=r"both shown as crops/000\.jpg"):
        predict_on_ray(inputs, model_path, tmp_path / "out.parquet", cropped=True, progress=False)


def test_photos_give_the_in_process_rows(ray_local, model_path, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "face.png").write_bytes(rgb_png_bytes(astronaut()))
    (folder / "notes.txt").write_text("not a picture")
    out = tmp_path / "photos.parquet"
    assert main(["predict", "--ray", "-q", str(folder), "--model", str(model_path),
                 "-o", str(out)]) == 0  # fmt: skip
    expected = output.rows(classify_files(collect_inputs([str(folder)]),
                                          load_classifier(model_path), progress=False))  # fmt: skip
    assert comparable(ray_rows(out)) == comparable(expected)


def test_every_ray_socket_listens_on_loopback_only(ray_local):
    import psutil

    """Every socket of this driver and of the processes its Ray started (GCS, raylet, agents,
    workers, all its descendants) listens on, and talks to, 127.0.0.1 and nothing else."""
    driver = psutil.Process()
    ray_pids = {driver.pid} | {child.pid for child in driver.children(recursive=True)}
    assert len(ray_pids) > 3  # the GCS, the raylet, workers
    sockets = [c for c in psutil.net_connections(kind="inet") if c.pid in ray_pids]
    listening = [c for c in sockets if c.status == psutil.CONN_LISTEN]
    assert listening
    assert {loopback(c.laddr.ip) for c in listening} == {"127.0.0.1"}, listening
    assert {loopback(c.raddr.ip) for c in sockets if c.raddr} <= {"127.0.0.1"}, sockets


def test_evaluate_on_ray_scores_as_in_process(ray_local, crops, model_path, tmp_path, capsys):
    """A labelled collection (the crops as female/ and male/, the bad file among them): the
    same faces, framing, scores and counts of what could not be used, on Ray and here."""
    import json

    import pandas as pd

    collection = tmp_path / "astronauts"
    for i, crop in enumerate(sorted(crops.iterdir())):
        folder = collection / ("female" if i % 2 else "male")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / crop.name).write_bytes(crop.read_bytes())
    args = ["evaluate", "-q", str(collection), "--model", str(model_path), "--half", "all",
            "--n-boot", "20"]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "here")]) == 0
    assert main([*args, "--ray", "--out", str(tmp_path / "ray")]) == 0
    here, there = (pd.read_csv(tmp_path / name / "predictions.csv") for name in ("here", "ray"))
    assert len(here) == N_CROPS - 1
    assert here.drop(columns="p_female").equals(there.drop(columns="p_female"))
    assert np.abs(here["p_female"] - there["p_female"]).max() <= 1e-5
    coverage = [json.loads((tmp_path / name / "metrics.json").read_text())["coverage"]
                for name in ("here", "ray")]  # fmt: skip
    assert coverage[0] == coverage[1] and coverage[0]["unreadable"] == 1
    assert not (tmp_path / "ray" / "ray-parts").exists()  # the job's progress, gone once done
    capsys.readouterr()


def test_a_stopped_evaluation_goes_on_where_it_stopped(ray_local, crops, model_path, tmp_path):
    """``evaluate --ray``'s chunks: stopped after one, run again, the finished one is read and
    not redone, and the whole equals in-process framing and scores; other views are refused."""
    from facegen.faces.batch import frame_files
    from facegen.modeling.inference import predict_proba
    from facegen.predict.on_ray import Stopped, frame_and_classify

    paths = [str(p) for p in sorted(crops.iterdir())]
    files = [f"astronauts/{Path(p).name}" for p in paths]
    parts = tmp_path / "ray-parts"
    model = load_classifier(model_path)
    size = int(model.input_shape[1])
    run = functools.partial(frame_and_classify, files, paths, size, model_path, views="flip",
                            parts=parts, chunk_files=16)  # fmt: skip
    with pytest.raises(Stopped):
        run(stop_after=1)
    (first,) = parts.glob("part-*.parquet")
    before = first.stat()
    (parts / ".part-killed.parquet.x.tmp").write_bytes(b"half a chunk")  # as a kill leaves it
    framed, p_female = run()
    assert len(list(parts.glob("part-*.parquet"))) == N_CROPS // 16
    assert (first.stat().st_ino, first.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert not [p for p in parts.iterdir() if p.name.startswith(".")]
    here = frame_files(files, paths, size, cache=False)
    assert framed.files == here.files and len(framed.files) == N_CROPS - 1
    assert np.array_equal(framed.images, here.images)
    assert framed.framing == here.framing and framed.errors == here.errors
    assert np.array_equal(framed.turn, here.turn, equal_nan=True)
    expected = predict_proba(model, here.images, views="flip")
    assert np.abs(p_female - expected).max() <= 1e-5
    with pytest.raises(UsageError, match="another views"):
        run(views="none")


def test_actors_classify_without_tensorflow(ray_local, model_path):
    """An actor loads the detector and the ONNX model in its constructor, never TensorFlow."""
    from facegen.predict.on_ray import _Classifier, model_for_actors

    @ray_local.remote(num_cpus=0.25)
    def build(model: str) -> tuple[int, bool]:
        actor = _Classifier(model, cropped=True, batch_size=8, views=None)
        return actor.size, "tensorflow" in sys.modules or "keras" in sys.modules

    size, imported = ray_local.get(build.remote(str(model_for_actors(model_path))))
    assert size > 0 and not imported


def test_the_command_keeps_the_terminal_quiet_and_never_starts_tensorflow(
    crops, model_path, tmp_path
):
    """The whole command, starting its own local Ray: stderr holds facegen's lines only (Ray's
    warnings and logs need -v), and the driver never imports TensorFlow."""
    import subprocess

    pytest.importorskip("ray.data")
    out = tmp_path / "results.parquet"
    script = (
        "import sys; from facegen.cli import main; "
        f"code = main(['predict', '--ray', '--cropped', {str(crops)!r}, "
        f"'--model', {str(model_path)!r}, '-o', {str(out)!r}]); "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules, file=sys.stderr); "
        "sys.exit(code)"
    )
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, env=env)  # fmt: skip
    assert run.returncode == 0, run.stderr
    *lines, imported = run.stderr.splitlines()
    assert imported == "False False"
    assert lines and all(line.startswith("facegen: ") for line in lines), run.stderr
    assert f"{N_CROPS} files: " in lines[-1] and "1 file could not be used" in lines[-1]


def loopback(ip: str) -> str:
    """An address as IPv4 (``::ffff:127.0.0.1``, IPv4 on a dual-stack socket, is 127.0.0.1)."""
    address = ipaddress.ip_address(ip)
    return str(getattr(address, "ipv4_mapped", None) or address)


def test_without_the_extra_ray_is_one_line_with_the_install_command(
    crops, model_path, tmp_path, capsys, monkeypatch
):
    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    for module in [m for m in sys.modules if m == "ray" or m.startswith("ray.")]:
        monkeypatch.delitem(sys.modules, module)
    code = main(["predict", "--ray", str(crops), "--model", str(model_path),
                 "-o", str(tmp_path / "out.parquet")])  # fmt: skip
    assert code == 2
    error = capsys.readouterr().err
    assert error == """facegen: --ray needs Ray, an optional extra: pip install "facegen[ray]"\n"""
