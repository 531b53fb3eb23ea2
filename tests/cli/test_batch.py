"""The batch runner (skdce/cli/_batch.py), through ``skdce enhance``: inputs, planned outputs, jobs, progress, signals.

No way to lose or corrupt a file: inputs are never overwritten, outputs never leave -o, an
interruption or a second process leaves only complete files.
"""

import json
import os
import signal
import subprocess
import sys

import pytest

from skdce.io import read_image, write_image

from .._helpers import GatedRun, dark, digest, invoke, leftovers, names, report_rows, run_cli, without_root_overrides
from ._helpers import small_batch


def test_enhance_progress_bar_only_on_a_terminal(photos, tmp_path):
    import pty

    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "skdce.cli", "enhance", photos / "a.png", photos / "gray.png", "-o", tmp_path / "o"],
            stdout=subprocess.DEVNULL, stderr=slave,
        )  # fmt: skip
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(timeout=60) == 0
    finally:
        os.close(master)
    text = b"".join(chunks).decode()
    assert "enhancing: 100%" in text and "2/2" in text and "2 enhanced, 0 skipped, 0 failed" in text
    result = invoke("enhance", photos / "a.png", "-o", tmp_path / "o2")  # CliRunner: not a terminal
    assert result.exit_code == 0 and "enhancing" not in result.output


def test_without_a_bar_tqdm_is_not_imported():
    """No terminal or --quiet: the bar's library stays out of the process (40 ms of every run's start)."""
    code = ("import sys; from skdce.cli._batch import Progress; p = Progress(3, 'enhancing'); p.advance('x'); "
            "p.update(3); p.close(); print('tqdm' in sys.modules, p.done)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "3"]


@pytest.mark.parametrize("sig,jobs", [(signal.SIGINT, 1), (signal.SIGTERM, 2)])
def test_enhance_interrupted_leaves_only_complete_files(tmp_path, sig, jobs):
    """The signal comes while the first file is written and the next ones are being read (held there until the
    signal is handled): those are discarded, no new file starts, the first file is whole."""
    src = small_batch(tmp_path / "in", 8, size=64)
    out = tmp_path / "out"
    run = GatedRun(tmp_path / "gate", "skdce.io:read_image", "enhance", src, "-o", out, "--jobs", jobs,
                   "--threads", 1, free=1)
    run.wait_held(jobs)  # every worker holds a file: the first one's output is written
    run.send(sig)
    code = run.finish()
    assert code == {signal.SIGINT: 130, signal.SIGTERM: 143}[sig], run.stderr
    assert "skdce: interrupted:" in run.stderr and "7 not processed" in run.stderr
    assert names(out) == ["img00.png"] and leftovers(tmp_path) == []
    assert read_image(out / "img00.png")[0].shape == (64, 64, 3)


def test_two_processes_in_one_folder_never_replace_each_other(tmp_path):
    """An output that another process writes meanwhile is skipped, not replaced: the first process is held with its
    first file written under its temporary name, about to be put in place; the second one writes every file;
    then the first one goes on and finds them all there."""
    src = small_batch(tmp_path / "in", 6)
    out = tmp_path / "out"
    out.mkdir()
    first = GatedRun(tmp_path / "gate", "skdce.io._atomic:_place_no_replace", "enhance", src, "-o", out, "--json",
                     "--quiet", "--threads", 1, until="open")
    first.wait_held()  # planned (no output existed), img00.png written under its temporary name
    second = run_cli("enhance", src, "-o", out, "--json", "--quiet", "--threads", 1)
    assert second.returncode == 0, second.stderr
    assert len(leftovers(out)) == 1  # the first process's img00.png, under its temporary name
    written = {name: (os.stat(out / name).st_ino, digest(out / name)) for name in names(out) if name[0] != "."}
    first.open()
    assert first.finish() == 0, first.stderr
    assert {r["status"] for r in report_rows(second.stdout).values()} == {"ok"}
    assert {r["status"] for r in report_rows(first.stdout).values()} == {"skipped"}
    summary = json.loads(first.stdout)["summary"]
    assert (summary["ok"], summary["skipped"], summary["failed"]) == (0, 6, 0)
    assert names(out) == [f"img{i:02d}.png" for i in range(6)]  # the temporary file is gone
    assert {name: (os.stat(out / name).st_ino, digest(out / name)) for name in names(out)} == written  # kept


def test_second_ctrl_c_with_jobs_exits_cleanly(tmp_path):
    """A second Ctrl-C while the files in progress end: said, and the exit is still clean (no native abort)."""
    src = small_batch(tmp_path / "in", 8, size=64)
    out = tmp_path / "out"
    run = GatedRun(tmp_path / "gate", "skdce.io:read_image", "enhance", src, "-o", out, "--jobs", 2,
                   "--threads", 1, "--json", free=1, until=2)
    run.wait_held(2)
    run.send(signal.SIGINT)
    run.wait_said("skdce: stopping:")
    run.send(signal.SIGINT)  # the files in progress are still held: this one comes while they end
    code = run.finish()
    assert code == 130, run.stderr
    assert "terminate called" not in run.stderr and "Traceback" not in run.stderr
    assert "skdce: already stopping" in run.stderr and "skdce: interrupted:" in run.stderr
    report = json.loads(run.stdout)
    assert names(out) == ["img00.png"] and leftovers(tmp_path) == []
    assert report["summary"]["interrupted"] and report["summary"]["ok"] == 1
    assert report["summary"]["not_processed"] == 7
    assert [r["output"] for r in report["files"] if r["status"] == "ok"] == [str(out / "img00.png")]
    assert read_image(out / "img00.png")[0].shape == (64, 64, 3)


def test_enhance_never_overwrites_an_input(photos):
    before = digest(photos / "a.png")
    result = invoke("enhance", photos / "a.png", "-o", photos, "--overwrite")
    assert result.exit_code == 1
    assert "the output would overwrite an input file" in result.stderr
    assert digest(photos / "a.png") == before
    result = invoke("enhance", photos / "a.png", "-o", photos, "--suffix", "_x")
    assert result.exit_code == 0 and (photos / "a_x.png").is_file()


def test_enhance_globs_folders_and_recursion(photos, tmp_path):
    sub = photos / "sub"
    sub.mkdir()
    write_image(sub / "deep.png", dark((8, 8, 3)))
    out = tmp_path / "out"
    result = invoke("enhance", str(photos / "*.png"), "-o", out / "glob", "--quiet")
    assert result.exit_code == 1  # empty.png matches the pattern too
    assert sorted(p.name for p in (out / "glob").iterdir()) == ["a.png", "c16.png", "gray.png", "rgba.png"]

    result = invoke("enhance", sub.parent, "-o", out / "rec", "--recursive", "--json", "--quiet")
    assert (out / "rec" / "sub" / "deep.png").is_file()
    result = invoke("enhance", sub, "-o", sub / "out", "--quiet")  # an output folder inside the input folder
    assert result.exit_code == 0
    again = invoke("enhance", sub, "-o", sub / "out", "-r", "--json", "--quiet")
    assert [os.path.basename(r["input"]) for r in json.loads(again.stdout)["files"]] == ["deep.png"]

    result = invoke("enhance", str(tmp_path / "nothing*.png"), "-o", out / "none")
    assert result.exit_code == 1
    assert "no such file or folder, and no file matches it as a pattern" in result.stderr
    assert "0 enhanced, 0 skipped, 1 failed" in result.stderr


@pytest.fixture
def nested(tmp_path):
    """``tmp_path / "in"`` holding ``top.png`` and ``sub/deep.png``."""
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    write_image(src / "sub" / "deep.png", dark((8, 8, 3)))
    write_image(src / "top.png", dark((8, 8, 3)))
    return src


def test_enhance_outputs_never_follow_a_link_out_of_the_folder(tmp_path, nested):
    src = nested
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "sub").symlink_to(elsewhere, target_is_directory=True)
    result = invoke("enhance", src, "-o", out, "--recursive", "--json")
    assert result.exit_code == 1
    rows = report_rows(result.stdout)
    assert rows["top.png"]["status"] == "ok"
    assert rows["deep.png"]["status"] == "failed" and "outside the output folder" in rows["deep.png"]["reason"]
    assert list(elsewhere.iterdir()) == []


def test_enhance_output_folder_problems_are_one_line_before_any_work(photos, tmp_path, monkeypatch):
    (tmp_path / "file.txt").write_text("a file")
    result = run_cli("enhance", photos / "a.png", "-o", tmp_path / "file.txt" / "out")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "cannot write there" in result.stderr and "a file is in the way of a folder" in result.stderr

    import errno
    import tempfile

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", kwargs.get("dir"))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    result = invoke("enhance", photos / "a.png", "-o", tmp_path / "ro")
    assert result.exit_code == 2 and "permission denied; check the folder's permissions" in result.output
    monkeypatch.undo()
    ro = tmp_path / "readonly"
    ro.mkdir(mode=0o500)
    result = run_cli("enhance", photos / "a.png", "-o", ro, preexec_fn=without_root_overrides)
    assert result.returncode == 2 and "permission denied" in result.stderr and "Traceback" not in result.stderr
    assert names(ro) == []


def test_enhance_unreadable_input_folder_and_long_names(photos, tmp_path, monkeypatch):
    import errno

    import skdce.cli._batch

    def denied(folder, *args):
        raise PermissionError(errno.EACCES, "Permission denied", str(folder))

    monkeypatch.setattr(skdce.cli._batch, "scan_folder", denied)
    result = invoke("enhance", photos, "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert f"failed: {photos}: cannot list the folder: {photos}: permission denied" in result.stderr
    monkeypatch.undo()

    long_src = tmp_path / "long"
    long_src.mkdir()
    write_image(long_src / ("n" * 245 + ".png"), dark((8, 8, 3)))
    result = invoke("enhance", long_src, "-o", tmp_path / "out2", "--suffix", "_enhanced", "--json")
    assert result.exit_code == 1
    (row,) = json.loads(result.stdout)["files"]
    assert row["status"] == "failed" and "longer than 255 bytes" in row["reason"]
    assert "shorter --suffix" in row["reason"]
    result = invoke("enhance", long_src, "-o", tmp_path / "out3")  # 249 bytes: fits, and so does its temporary file
    assert result.exit_code == 0 and leftovers(tmp_path) == []


def test_enhance_dry_run_writes_nothing(photos, tmp_path):
    out = tmp_path / "out"
    result = invoke("enhance", photos / "a.png", photos / "gray.png", photos / "empty.png", "-o", out, "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"write: {photos / 'a.png'} -> {out / 'a.png'}" in result.stdout
    assert "dry run, nothing written: 3 write, 0 overwrite, 0 skip, 0 fail" in result.stderr
    assert not out.exists()
    out.mkdir()
    write_image(out / "a.png", dark((4, 4, 3)))
    before = digest(out / "a.png")
    result = invoke("enhance", photos / "a.png", "-o", out, "--dry-run")
    assert f"skip: {photos / 'a.png'} -> {out / 'a.png'} (the output exists" in result.stdout
    result = invoke("enhance", photos / "a.png", "-o", out, "--dry-run", "--overwrite")
    assert f"overwrite: {photos / 'a.png'} -> {out / 'a.png'}" in result.stdout
    assert digest(out / "a.png") == before and os.listdir(out) == ["a.png"]
    result = invoke("enhance", photos / "a.png", photos / "gray.png", "nothing*.png", "-o", out, "--dry-run", "--json")
    report = json.loads(result.stdout)  # was text
    assert report["dry_run"] is True and report["summary"] == {"write": 1, "overwrite": 0, "skip": 1, "fail": 1}
    assert {os.path.basename(f["input"]): f["status"] for f in report["files"]} == {
        "a.png": "skip", "gray.png": "write", "nothing*.png": "fail"}
    assert os.listdir(out) == ["a.png"]


def test_enhance_pixel_limit(photos, tmp_path):
    result = invoke("enhance", photos / "a.png", "-o", tmp_path / "out", "--max-pixels", 100, "--json")
    assert result.exit_code == 1
    (row,) = json.loads(result.stdout)["files"]
    assert "24 = 768 pixels, more than max_pixels=100" in row["reason"]


def test_enhance_never_overwrites_an_input_under_another_name(photos, tmp_path):
    """A hard link or a link to an input is the input: refused even with --overwrite (one file, or a folder run)."""
    before = digest(photos / "a.png")
    os.link(photos / "a.png", tmp_path / "hard.png")
    (tmp_path / "soft.png").symlink_to(photos / "a.png")
    for name in ("hard.png", "soft.png"):
        result = invoke("enhance", photos / "a.png", "-o", tmp_path / name, "--overwrite")
        assert result.exit_code == 1, name
        assert "the output would overwrite an input file" in result.stderr
    out = tmp_path / "out"
    out.mkdir()
    os.link(photos / "a.png", out / "a.png")  # a folder run whose output is a hard link of its input
    result = invoke("enhance", photos / "a.png", photos / "b.jpg", "-o", out, "--overwrite", "--json")
    rows = report_rows(result.stdout)
    assert rows["a.png"]["status"] == "failed" and "overwrite an input" in rows["a.png"]["reason"]
    assert rows["b.jpg"]["status"] == "ok"
    assert digest(photos / "a.png") == before


def test_a_link_swapped_into_the_output_folder_after_planning_is_not_followed(tmp_path, nested, monkeypatch):
    """out/sub is a folder when the outputs are planned and a link out of -o when they are written."""
    from skdce import io as skio

    src = nested
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    (out / "sub").mkdir(parents=True)
    elsewhere.mkdir()
    write_image(out / "top.png", dark((8, 8, 3)))
    victim = write_image(elsewhere / "victim.png", dark((8, 8, 3)))
    before = digest(victim)
    read = skio.read_image

    def swap_then_read(path, **kw):  # runs after planning, before the file is written
        if (out / "sub").is_dir() and not (out / "sub").is_symlink():
            (out / "sub").rmdir()
            (out / "sub").symlink_to(elsewhere, target_is_directory=True)
            (out / "top.png").unlink()
            (out / "top.png").symlink_to(victim)
        return read(path, **kw)

    monkeypatch.setattr(skio, "read_image", swap_then_read)
    result = invoke("enhance", src, "-o", out, "--recursive", "--overwrite", "--json")
    rows = report_rows(result.stdout)
    assert rows["deep.png"]["status"] == "failed" and "symbolic link is in the way" in rows["deep.png"]["reason"]
    assert rows["top.png"]["status"] == "ok"  # the link named like the output is replaced, not written through
    assert sorted(p.name for p in elsewhere.iterdir()) == ["victim.png"] and digest(victim) == before
    assert not (out / "top.png").is_symlink() and not leftovers(tmp_path)


def test_special_files_and_link_loops_never_hang(tmp_path):
    """A FIFO given as input is refused before it is opened; ``**`` through link loops ends."""
    src = tmp_path / "in"
    (src / "a" / "b").mkdir(parents=True)
    write_image(src / "a" / "b" / "deep.png", dark((8, 8, 3)))
    write_image(src / "top.png", dark((8, 8, 3)))
    (src / "a" / "b" / "up").symlink_to("..", target_is_directory=True)  # two loops: 2**40 names for glob.glob
    (src / "a" / "b" / "up2").symlink_to("../..", target_is_directory=True)
    os.mkfifo(src / "pipe.png")
    out = tmp_path / "out"
    result = run_cli("enhance", src / "pipe.png", str(src / "**" / "*.png"), "-o", out, "--json", timeout=60)
    rows = report_rows(result.stdout)
    assert result.returncode == 1
    assert rows["pipe.png"]["status"] == "failed"
    assert "FIFO (named pipe), not a regular file" in rows["pipe.png"]["reason"]
    assert rows["deep.png"]["status"] == rows["top.png"]["status"] == "ok" and len(rows) == 3
    result = run_cli("enhance", src, "-o", tmp_path / "rec", "--recursive", "--quiet", timeout=60)  # a folder: same
    assert result.returncode == 0
    assert sorted(p.name for p in (tmp_path / "rec").rglob("*.png")) == ["deep.png", "top.png"]


def test_a_stop_is_checked_between_the_tiles_of_one_image(tmp_path, monkeypatch):
    """Ctrl-C inside a large image stops it within a tile (a 24 MP image ran on for about 24 s)."""
    from skdce.engine import runtime as _runtime

    src = write_image(tmp_path / "big.png", dark((96, 96, 3)))
    calls = []
    run = _runtime.Session.run

    def run_then_signal(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)  # handled by skdce: sets the stop event
        return run(self, *args, **kwargs)

    monkeypatch.setattr(_runtime.Session, "run", run_then_signal)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = invoke("enhance", src, "-o", tmp_path / "out", "--model", "zero-dce", "--tile-size", 16,
                        "--threads", 1)
    finally:  # once stopped, skdce ignores later signals: this test process (and its children) must not
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert result.exit_code == 130
    assert len(calls) <= 2  # 36 tiles without the check
    assert not (tmp_path / "out" / "big.png").exists() and not leftovers(tmp_path)


def test_run_tasks_stops_between_tasks():
    import threading

    from skdce.engine.workers import Stopped, run_tasks, stop_when

    stop, done = threading.Event(), []

    def work(t):
        done.append(t)
        if t == 2:
            stop.set()

    with stop_when(stop), pytest.raises(Stopped):
        run_tasks(work, list(range(10)), 1)
    assert done == [0, 1, 2]
    run_tasks(work, list(range(4)), 1)  # outside the block: no check
    assert done[-4:] == [0, 1, 2, 3]


def test_reruns_are_idempotent_where_outputs_land_among_the_inputs(tmp_path):
    """-o at the input folder with --suffix, a glob that covers -o, -o above the input folder: a rerun skips all."""
    src = small_batch(tmp_path / "in", 2, size=8)
    (src / "sub").mkdir()
    write_image(src / "sub" / "deep.png", dark((8, 8, 3)))
    for args in ([src, "-o", src, "--suffix", "_x"], [str(src / "**" / "*.png"), "-o", src / "out"],
                 [src, "-o", src / "sub" / "o", "-r"]):
        first = invoke("enhance", *args, "--json", "--quiet")
        assert first.exit_code == 0, first.output
        again = invoke("enhance", *args, "--json", "--quiet")
        summary = json.loads(again.stdout)["summary"]
        assert again.exit_code == 0 and summary["ok"] == summary["failed"] == 0, again.output
        assert not list(src.rglob("*_x_x.png")) and not (src / "out" / "out").exists()
    result = run_cli("enhance", "in", "-o", ".", "--quiet", cwd=tmp_path)  # -o above the input folder
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["img00.png", "img00_x.png", "img01.png", "img01_x.png"]


def test_enhance_messages_for_newcomers(tmp_path):
    src = small_batch(tmp_path / "in", 1, size=8)
    (src / "sub").mkdir()
    result = invoke("enhance", src, "-o", "-")
    assert result.exit_code == 2 and "'-' (standard output) is not an output here" in result.stderr
    assert not (tmp_path / "-").exists() and not os.path.exists("-")
    result = invoke("enhance", src, "-o", tmp_path / "out", "--verbose", "--threads", 1)
    assert "skdce: 1 file with" in result.stderr and "1 ONNX Runtime thread each" in result.stderr
    assert "in has subfolders, which are not looked in (add --recursive)" in result.stderr
    again = invoke("enhance", src, "-o", tmp_path / "out")
    assert "skipped: " not in again.stderr and "0 enhanced, 1 skipped" in again.stderr  # no line per file
    assert "--verbose lists the skipped files" in again.stderr
    again = invoke("enhance", src, "-o", tmp_path / "out", "--verbose")
    assert "skipped: " in again.stderr


def test_an_input_deleted_meanwhile_is_named_as_the_input(tmp_path):
    """An input gone between planning and reading: the failure names the input, not the output it would have had
    (it read 'out/a.png: image file in/a.png does not exist')."""
    import threading

    import numpy as np

    from skdce.cli import _batch
    from skdce.models import get_model

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    write_image(src / "a.png", np.zeros((8, 8, 3), np.uint8))
    files, _ = _batch.collect([str(src)], False, out.resolve())
    jobs, _ = _batch.plan(files, out, None, "", False)
    settings = _batch.Settings(model=get_model("zero-dce++"), strength=1.0, denoise=1.0, providers="cpu", threads=1,
                               tile_size=None, quality=None, overwrite=False, max_pixels=10**8)
    (src / "a.png").unlink()
    row = _batch.enhance_file(jobs[0], settings, threading.Event())
    assert row["status"] == "failed" and row["reason"].startswith(str(src / "a.png")), row["reason"]


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_output_folder_deleted_meanwhile_stops_the_batch_once(tmp_path, monkeypatch, jobs):
    """rm -rf OUT while the batch runs: said once, naming the folder and the fix; the other files are not enhanced
    (every one was enhanced, then failed with 'OUT: no such file or folder', one line each)."""
    import shutil

    from skdce import io as skio

    src, out = small_batch(tmp_path / "in", 6), tmp_path / "out"
    read, write, reads = skio.read_image, skio.write_image, []

    def counting_read(path, **kw):
        reads.append(path)
        return read(path, **kw)

    def write_then_delete(path, *args, **kw):  # the folder goes once the first file is written
        result = write(path, *args, **kw)
        shutil.rmtree(out, ignore_errors=True)
        return result

    monkeypatch.setattr(skio, "read_image", counting_read)
    monkeypatch.setattr(skio, "write_image", write_then_delete)
    result = invoke("enhance", src, "-o", out, "-j", jobs, "--json")
    assert result.exit_code == 1
    failures = [line for line in result.stderr.splitlines() if "failed:" in line]
    assert len(failures) == 1, result.stderr
    assert f"{out}: the output folder was deleted while skdce ran; the batch stopped" in failures[0]
    assert "run again to create it anew, or choose another -o" in failures[0]
    summary = json.loads(result.stdout)["summary"]
    assert summary["failed"] == 1 and summary["ok"] + summary["failed"] + summary["not_processed"] == 6
    assert f"({summary['not_processed']} files not attempted)" in failures[0]
    assert not out.exists()
    if jobs == 1:  # (with threads, files already running when the folder goes end, and are discarded)
        assert len(reads) == 2 and summary["not_processed"] == 4
