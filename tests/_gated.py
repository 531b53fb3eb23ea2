"""The ``skdce`` command with one function held at a gate until the process has been signalled.

``python tests/_gated.py FOLDER TARGET FREE UNTIL ARGS...`` runs ``skdce ARGS`` as ``python -m skdce.cli``
does, with ``TARGET`` (``package.module:Name.attr``) wrapped: its first ``FREE`` calls go through, and each
later call writes ``FOLDER/held-N`` and waits, then goes on. ``UNTIL`` is a number of signals (SIGINT, SIGTERM)
whose handlers must have run in this process, or ``open``: until the file ``FOLDER/open`` exists. A test
(through :class:`tests._helpers.GatedRun`) can so stop a command at a known point of its work, with no sleep
deciding whether the signal comes before, during or after it.

Each handled signal writes ``FOLDER/signal-K`` once its handler has run (or while the exception it raises,
KeyboardInterrupt, is on its way). A gate that waits more than 30 s says so on stderr and goes on, so a
broken test fails on its assertions (GatedRun.finish checks that line) rather than hanging.
"""

import importlib
import itertools
import signal
import sys
import threading
import time
from pathlib import Path

WAIT_S = 30.0


def main(folder, target, free, until, args):
    folder = Path(folder)
    handled = []  # one item per signal whose handler has run (appended in the main thread, read by any)

    def counted(handler):
        def on_signal(signum, frame):
            try:
                return handler(signum, frame)
            finally:
                handled.append(signum)
                (folder / f"signal-{len(handled)}").touch()

        on_signal.gated = True
        return on_signal

    real_signal = signal.signal

    def install(sig, handler):  # every handler skdce installs for SIGINT/SIGTERM is counted
        if sig in (signal.SIGINT, signal.SIGTERM) and callable(handler) and not getattr(handler, "gated", False):
            handler = counted(handler)
        return real_signal(sig, handler)

    signal.signal = install
    signal.signal(signal.SIGINT, signal.getsignal(signal.SIGINT))  # Python's own KeyboardInterrupt handler

    module, _, attr = target.partition(":")
    *path, name = attr.split(".")
    owner = importlib.import_module(module)
    for part in path:
        owner = getattr(owner, part)
    real = getattr(owner, name)
    calls = itertools.count()
    lock = threading.Lock()

    def gated(*a, **kw):
        with lock:
            n = next(calls)
        if n >= free:
            (folder / f"held-{n - free + 1}").touch()
            deadline = time.monotonic() + WAIT_S
            while not ((folder / "open").exists() if until == "open" else len(handled) >= int(until)):
                if time.monotonic() > deadline:
                    print(f"tests/_gated.py: still held after {WAIT_S:.0f} s; going on", file=sys.stderr)
                    break
                time.sleep(0.01)
        return real(*a, **kw)

    setattr(owner, name, gated)

    from skdce.cli import main as skdce

    sys.argv = ["skdce", *args]
    skdce(prog_name="skdce")


if __name__ == "__main__":
    folder, target, free, until, *args = sys.argv[1:]
    main(folder, target, int(free), until, args)
