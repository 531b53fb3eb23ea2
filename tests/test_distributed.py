"""``skdce enhance --cluster local:N`` and ``--scheduler ADDRESS``: a real Dask cluster on loopback.

The cluster tests share one LocalCluster of 2 worker processes; each checks
one guarantee of the local runner (bit-identical outputs, existing outputs
skipped, a bad file reported, a dying worker's file written exactly once).
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")

from skdce.cli import _batch, _distributed  # noqa: E402
from skdce.io import TEMP_SUFFIX, write_image  # noqa: E402

from ._helpers import invoke, leftovers  # noqa: E402

# The workers cannot import this test module: send its functions by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0", silence_logs=50) as lc:
        yield lc


@pytest.fixture
def folder(tmp_path):
    """Seven small images of several kinds (and one corrupt file) in ``tmp_path / "in"``."""
    rng = np.random.default_rng(3)
    src = tmp_path / "in"
    src.mkdir()
    images = {
        "a.png": rng.integers(0, 60, (48, 64, 3), dtype=np.uint8),
        "b.png": rng.integers(0, 60, (40, 56), dtype=np.uint8),
        "c.png": rng.integers(0, 15000, (36, 50, 3), dtype=np.uint16),
        "d.png": np.dstack([rng.integers(0, 60, (30, 44, 3)), rng.integers(0, 256, (30, 44, 1))]).astype(np.uint8),
        "e.tif": rng.integers(0, 60, (52, 40, 3), dtype=np.uint8),
        "f.jpg": rng.integers(0, 60, (32, 48, 3), dtype=np.uint8),
    }
    for name, image in images.items():
        write_image(src / name, image)
    (src / "g.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)  # corrupt
    return src


@pytest.fixture
def planned(folder, tmp_path):
    """``(jobs, settings)``: the files of ``folder`` planned into the new folder ``tmp_path / "out"``."""
    from skdce.models import get_model

    out = tmp_path / "out"
    out.mkdir()
    files, _ = _batch.collect([str(folder)], False, out.resolve())
    jobs, _ = _batch.plan(files, out, None, "", False)
    settings = _batch.Settings(model=get_model("zero-dce-int8"), strength=1.0, denoise=1.0, providers="cpu",
                               threads=1, tile_size=None, quality=None, overwrite=False, max_pixels=10**8)
    return jobs, settings


def outputs(folder):
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir())}


def report(result):
    data = json.loads(result.stdout)
    rows = [{**{k: v for k, v in row.items() if k != "seconds"}, "output": Path(row["output"]).name}
            for row in data["files"]]
    summary = {k: v for k, v in data["summary"].items() if k != "seconds"}
    return rows, summary, data["model"]


def test_cluster_equals_local_run(folder, tmp_path):
    """``--cluster local:2``: the same files, bytes and report as the local runner; the bad file does not stop it."""
    local = invoke("enhance", folder, "-o", tmp_path / "local", "--json")
    on_cluster = invoke("enhance", folder, "-o", tmp_path / "cluster", "--json", "--cluster", "local:2")
    assert local.exit_code == on_cluster.exit_code == 1  # g.png failed
    assert outputs(tmp_path / "cluster") == outputs(tmp_path / "local")
    assert sorted(outputs(tmp_path / "cluster")) == ["a.png", "b.png", "c.png", "d.png", "e.tif", "f.jpg"]
    assert report(on_cluster) == report(local)
    rows, summary, _ = report(on_cluster)
    assert summary == {"ok": 6, "skipped": 0, "failed": 1, "interrupted": False, "not_processed": 0}
    assert [r for r in rows if r["status"] == "failed"][0]["input"].endswith("g.png")
    assert "g.png" in on_cluster.stderr


def test_existing_outputs_skipped_and_model_loaded_once(cluster, folder, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"mine")
    address = cluster.scheduler_address
    first = invoke("enhance", folder, "-o", out, "--json", "--scheduler", address)
    rows, summary, _ = report(first)
    assert (out / "a.png").read_bytes() == b"mine"  # never replaced without --overwrite
    assert {r["input"][-5:]: r["status"] for r in rows}["a.png"] == "skipped"
    assert summary["ok"] == 5 and summary["skipped"] == 1
    (out / "b.png").unlink()
    again = invoke("enhance", folder, "-o", out, "--json", "--scheduler", address)
    rows, summary, _ = report(again)
    assert summary["ok"] == 1 and summary["skipped"] == 5 and (out / "b.png").is_file()
    with distributed.Client(address) as client:
        sessions = client.run(lambda: len(__import__("skdce.engine.runtime", fromlist=["_sessions"])._sessions))
    assert sorted(sessions.values()) == [1, 1]  # one model session per worker, however many files


def dying_task(job, settings, stop):
    """Dies (the whole worker process) on ``c.png`` the first time, leaving a half-written temporary file."""
    log = job.src.parent.parent / "log"
    marker = log / "died"
    if job.src.name == "c.png" and not marker.exists():
        marker.touch()
        (job.dst.parent / f".{job.dst.name}.dead{TEMP_SUFFIX}").write_bytes(b"half")
        os._exit(1)
    row = _batch.enhance_file(job, settings, stop)
    if row["status"] == "ok":
        with open(log / "written", "a") as fh:
            fh.write(job.src.name + "\n")
    return row


def test_killed_worker_file_retried_once(cluster, folder, tmp_path, planned):
    (tmp_path / "log").mkdir()
    out = tmp_path / "out"
    jobs, settings = planned
    rows = {}
    _distributed.run_batch(jobs, settings, dying_task, lambda job, row: rows.setdefault(job.src.name, row),
                           _batch.row, scheduler=cluster.scheduler_address, in_flight=2)
    assert (tmp_path / "log" / "died").exists()  # the worker did die on c.png
    statuses = {name: row["status"] for name, row in rows.items()}
    assert sorted(statuses) == ["a.png", "b.png", "c.png", "d.png", "e.tif", "f.jpg", "g.png"]
    assert statuses.pop("c.png") == "ok" and statuses.pop("g.png") == "failed"
    # Dask also runs again a task that had finished on the dying worker but whose result this process had not
    # yet fetched (the result lived in that worker's memory): the rerun finds its output written and reports it
    # skipped, as any rerun does. Only the one task in flight beside c.png's (in_flight=2) can be such a task.
    skipped = [name for name, status in statuses.items() if status == "skipped"]
    assert set(statuses.values()) <= {"ok", "skipped"} and len(skipped) <= 1
    assert all(rows[name]["reason"] == "the output exists (use --overwrite to replace it)" for name in skipped)
    written = (tmp_path / "log" / "written").read_text().split()
    assert sorted(written) == ["a.png", "b.png", "c.png", "d.png", "e.tif", "f.jpg"]  # each exactly once
    assert leftovers(out) == []
    local = tmp_path / "local"
    assert invoke("enhance", folder, "-o", local, "--quiet", "--model", "zero-dce-int8").exit_code == 1
    assert outputs(out) == outputs(local)


def test_usage_errors(folder, tmp_path, monkeypatch):
    bad = invoke("enhance", folder, "-o", tmp_path / "o", "--cluster", "4")
    assert bad.exit_code == 2 and "use local:N" in bad.stderr
    both = invoke("enhance", folder, "-o", tmp_path / "o", "--cluster", "local:2", "--jobs", "2")
    assert both.exit_code == 2 and "--jobs is for the local runner" in both.stderr
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        gone = invoke("enhance", folder, "-o", tmp_path / "o", "--scheduler", "tcp://127.0.0.1:9")
    assert gone.exit_code == 1 and "cannot reach the Dask scheduler 'tcp://127.0.0.1:9'" in gone.stderr
    assert leftovers(tmp_path) == []
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the dask extra were not installed
    missing = invoke("enhance", folder, "-o", tmp_path / "o", "--cluster", "local:2")
    assert missing.exit_code == 2 and "pip install 'skdce[dask]'" in missing.stderr


def test_import_skdce_stays_light():
    code = ("import skdce, skdce.cli, sys; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def held_task(job, settings, stop):
    """The local runner's per-file function; every file but the first waits for ``log/go`` first (30 s at most).

    Writes ``log/started-NAME`` and ``log/ended-NAME`` around it.
    """
    log = job.src.parent.parent / "log"
    (log / f"started-{job.src.name}").touch()
    try:
        deadline = time.monotonic() + 30
        while job.index > 0 and not (log / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return _batch.enhance_file(job, settings, stop)
    finally:
        (log / f"ended-{job.src.name}").touch()


def test_interrupted_batch_cancels_the_rest(cluster, tmp_path, planned):
    """Ctrl-C in the ``skdce`` process at the first result, all six files in flight and the others held where they
    started: the error comes back, the tasks not started are cancelled (released by the workers before the held
    ones go on), the ones that started end with whole files."""
    from skdce.io import read_image

    log = tmp_path / "log"
    log.mkdir()
    out = tmp_path / "out"
    jobs, settings = planned
    jobs = [job for job in jobs if job.src.name != "g.png"]  # six good files

    def interrupt(job, row):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _distributed.run_batch(jobs, settings, held_task, interrupt, _batch.row,
                               scheduler=cluster.scheduler_address, in_flight=len(jobs))

    def ours(dask_worker):  # this batch's tasks a worker holds: a cancelled one that runs stays until it ends
        return sum(str(key).startswith("skdce-enhance-") for key in dask_worker.state.tasks)

    def running():
        return len(list(log.glob("started-*"))) - len(list(log.glob("ended-*")))

    with distributed.Client(cluster.scheduler_address) as client:
        deadline = time.monotonic() + 30
        while sum(client.run(ours).values()) != running():
            assert time.monotonic() < deadline, "the tasks not started were never released"
            time.sleep(0.05)
        (log / "go").touch()
        while any(client.run(ours).values()) or any(client.processing().values()):
            assert time.monotonic() < deadline, "the running tasks never ended"
            time.sleep(0.05)
        assert client.submit(int, 0, pure=False).result() == 0  # the cluster still serves
    started = sorted(p.name[len("started-"):] for p in log.glob("started-*"))
    ended = sorted(p.name[len("ended-"):] for p in log.glob("ended-*"))
    # the first file, and one held file per worker thread (two workers; the first one's may not have started)
    assert started == ended and 2 <= len(started) <= 3 and jobs[0].src.name in started
    assert sorted(p.name for p in out.iterdir()) == started  # every task that ran wrote its whole file; no temporary
    for name in started:
        read_image(out / name)  # each one whole


@pytest.mark.parametrize("model", ["zero-dce++", "zero-dce"])
def test_a_dask_array_computes_on_worker_processes(cluster, model):
    """The plan travels to the workers without its ONNX Runtime session (which cannot be pickled) and opens the
    model there: the result equals the in-memory one (it failed with "Could not serialize object")."""
    import dask.array as da

    import skdce

    image = skdce.data.low_light_sample("astronaut")[::4, ::4]
    with distributed.Client(cluster):
        out = skdce.enhance(da.from_array(image, chunks=(50, 60, 3)), model=model).compute()
        maps = skdce.estimate_curves(da.from_array(image, chunks=(50, 60, 3)), model=model).compute()
    np.testing.assert_allclose(out, skdce.enhance(image, model=model), atol=1e-5, rtol=0)
    np.testing.assert_allclose(maps, skdce.estimate_curves(image, model=model), atol=1e-5, rtol=0)
