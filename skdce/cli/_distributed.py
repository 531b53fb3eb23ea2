"""Batches of image files on a Dask cluster: ``skdce enhance INPUTS -o OUT --cluster local:N | --scheduler ADDRESS``.

The ``skdce`` process plans the batch as the local runner does (inputs,
output paths, existing outputs skipped) and submits one task per file; each
task runs the local runner's own per-file function on a worker, so the
outputs are the same bytes. What the local runner guarantees holds here too:

- *Atomic writes.* A task writes a temporary file in the output folder and
  renames it into place; a worker that dies mid-file leaves at most a
  temporary file, which the ``skdce`` process removes at the end.
- *Idempotent tasks.* Dask runs a task again on another worker when the
  worker running it dies (up to ``distributed.scheduler.allowed-failures``
  times, 3 by default). A task whose output exists (and no ``--overwrite``)
  is skipped, so no file is replaced and no file is written twice.
- *One model load per worker.* :class:`ModelPreload` loads the model when a
  worker joins (later ones too), and :mod:`skdce.engine.runtime` caches the session
  per process, so files reuse it.

Only ``skdce enhance --cluster/--scheduler`` imports this module (and so ``distributed``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import logging
import os
import re
import threading
from pathlib import Path

__all__ = ["ClusterError", "parse_cluster", "require_distributed", "ModelPreload", "load_model", "run_batch"]

_LOCAL = re.compile(r"local:(\d+)")


class ClusterError(RuntimeError):
    """The cluster could not be reached or its workers cannot run the batch."""


def require_distributed():
    """The ``distributed`` module, or an ImportError naming the extra to install."""
    try:
        import distributed
    except ImportError:
        raise ImportError(
            "--cluster and --scheduler need Dask's distributed scheduler: pip install 'skdce[dask]'."
        ) from None
    return distributed


def parse_cluster(value: str) -> int:
    """The worker count ``N`` of ``"local:N"``.

    Examples
    --------
    >>> parse_cluster("local:4")
    4
    """
    match = _LOCAL.fullmatch(str(value).strip())
    if match is None or int(match.group(1)) < 1:
        raise ValueError(
            f"--cluster {value!r} is not understood; use local:N for N worker processes on this machine "
            f"(e.g. local:4), or --scheduler ADDRESS for a running cluster."
        )
    return int(match.group(1))


def load_model(model, providers, threads):
    """The :class:`skdce.ModelInfo` of ``model``, its file checked and its session loaded (cached per process)."""
    from ..engine.runtime import get_session
    from ..models import get_model, verify

    info = get_model(model)
    verify(info)
    get_session(info.path, providers, threads)
    return info


def _model_ref(info) -> str:
    """What a worker looks the model up by: a bundled model's name (its own install), else the file's path."""
    return info.name if info.bundled else str(Path(info.path).resolve())


try:
    from distributed import WorkerPlugin as _WorkerPlugin
except ImportError:  # pragma: no cover - the dask extra is installed in the test environment
    _WorkerPlugin = object


class ModelPreload(_WorkerPlugin):
    """A worker plugin that loads the model once, when each worker starts (or joins later).

    Parameters
    ----------
    model : str
        A bundled model name or the path of an ``.onnx`` file the workers can read.
    providers : str or list
        ONNX Runtime providers, as for :func:`skdce.enhance`.
    threads : int or None
        ONNX Runtime threads per session.
    """

    def __init__(self, model, providers, threads):
        self.model, self.providers, self.threads = model, providers, threads
        self.name = f"skdce-model-{model}-{providers}-{threads}"

    def setup(self, worker=None):
        load_model(self.model, self.providers, self.threads)


#: What :func:`_run_task` returns for an output that exists (the driver reports it as skipped).
EXISTS = "exists"


class _ClusterStop:
    """The driver's stop flag as the workers see it: a named ``distributed.Event``, set on Ctrl-C."""

    def __init__(self, name: str):
        self.name = name

    def is_set(self) -> bool:
        return self.name is not None and require_distributed().Event(self.name).is_set()


def _run_task(task, job, settings, stop_name=None):
    """On a worker: one file, unless a previous attempt of this task already wrote it.

    Returns the task's row, :data:`EXISTS`, or ``None`` when the batch was
    stopped before the file was written (it is discarded, as in a local run).
    """
    model = load_model(settings.model, settings.providers, settings.threads)  # cached after the first file
    if not settings.overwrite and job.dst.exists():
        return EXISTS
    return task(job, dataclasses.replace(settings, model=model), _ClusterStop(stop_name))


def _temporaries(dst: Path) -> list[Path]:
    from ..io import TEMP_SUFFIX

    return [Path(p) for p in glob.glob(str(dst.parent / f".{glob.escape(dst.name)}.*{TEMP_SUFFIX}"))]


@contextlib.contextmanager
def _client(cluster, scheduler):
    distributed = require_distributed()
    local = None
    try:
        if cluster is not None:
            local = distributed.LocalCluster(
                n_workers=parse_cluster(cluster), threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR,  # None still binds :8787
            )
            client = distributed.Client(local)
        else:
            client = distributed.Client(scheduler)  # waits distributed.comm.timeouts.connect (30 s)
    except (OSError, TimeoutError) as exc:
        if local is not None:
            local.close()
        where = cluster if scheduler is None else scheduler
        raise ClusterError(f"cannot reach the Dask scheduler {where!r}: {exc}") from None
    try:
        yield client
    finally:
        client.close()
        if local is not None:
            local.close()


def run_batch(jobs, settings, task, on_row, make_row, *, cluster=None, scheduler=None, in_flight=None, stop=None):
    """Run ``task(job, settings, stop)`` for each job on a Dask cluster; ``on_row(job, row)`` as each finishes.

    Parameters
    ----------
    jobs : list
        The planned files (objects with ``index``, ``src`` and ``dst``).
    settings : dataclass
        Per-file settings with ``model`` (a :class:`skdce.ModelInfo`),
        ``providers``, ``threads`` and ``overwrite``.
    task : callable
        The local runner's per-file function; it returns a report row. It must
        be importable by the workers (a module-level function).
    on_row : callable
        Called in this process, in completion order, with each job and its row.
    make_row : callable
        ``make_row(src, dst, status, reason)``: a report row, for files whose
        task could not run (its workers kept dying) or was skipped on retry.
    cluster : str, optional
        ``"local:N"``: start N worker processes on this machine (loopback only).
    scheduler : str, optional
        The address of a running scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
    in_flight : int, optional
        Tasks submitted ahead of the results (default: 4 per worker thread),
        so the scheduler never holds a million tasks at once.
    stop : threading.Event, optional
        Set (by a signal handler) to stop: no new file is submitted, and the
        files in flight are discarded at their next step unless already being
        written; ``on_row(job, None)`` for each of them, as the local runner does.

    Raises
    ------
    ClusterError
        If the scheduler cannot be reached or the workers cannot load the model.
    KeyboardInterrupt
        Re-raised after cancelling the tasks not yet started.
    """
    distributed = require_distributed()
    if not jobs:  # everything skipped or failed at planning: no cluster to start
        return
    remote = dataclasses.replace(settings, model=_model_ref(settings.model))
    finished = False
    try:
        with _client(cluster, scheduler) as client:
            try:
                client.register_plugin(ModelPreload(remote.model, remote.providers, remote.threads))
            except Exception as exc:
                raise ClusterError(
                    f"the workers cannot load the model {remote.model!r}: {exc} (on a cluster, skdce and the "
                    f"model file must be installed or visible where the workers run)"
                ) from None
            window = in_flight or max(8, 4 * (sum(client.nthreads().values()) or 1))
            token = os.urandom(4).hex()
            stop_name = f"skdce-stop-{token}" if stop is not None else None
            pending = iter(jobs)
            submitted: dict = {}  # key -> (future, job)

            def submit(n):
                for _, job in zip(range(n), pending):
                    future = client.submit(_run_task, task, job, remote, stop_name,
                                           key=f"skdce-enhance-{token}-{job.index}", pure=False)
                    submitted[future.key] = (future, job)
                    yield future

            running = distributed.as_completed(list(submit(window)))
            batch_done = threading.Event()
            if stop is not None:  # tell the workers once the driver is told
                def relay():
                    while not batch_done.is_set():
                        if stop.wait(0.1):
                            distributed.Event(stop_name, client=client).set()
                            return

                watcher = threading.Thread(target=relay, name="skdce-stop", daemon=True)
                watcher.start()
            try:
                for future in running:
                    _, job = submitted.pop(future.key)
                    try:
                        row = future.result()
                    except Exception as exc:  # KilledWorker: every worker that ran it died
                        row = make_row(job.src, job.dst, "failed",
                                       f"the task could not run on the cluster ({type(exc).__name__}: {exc})")
                    if row == EXISTS:
                        row = make_row(job.src, job.dst, "skipped", "the output exists (use --overwrite to replace it)")
                    on_row(job, row)
                    if stop is None or not stop.is_set():
                        for new in submit(1):
                            running.add(new)
            except BaseException:
                client.cancel([f for f, _ in submitted.values()])
                raise
            finally:
                batch_done.set()
            finished = True
    finally:
        # Once the batch is done (or our own workers are gone) no task of ours can still be writing:
        # what a dead worker left half-written goes. An interrupted remote batch may still finish files.
        if finished or cluster is not None:
            for job in jobs:
                for tmp in _temporaries(job.dst):
                    with contextlib.suppress(OSError):
                        tmp.unlink()
