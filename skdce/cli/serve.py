"""``skdce serve``: the HTTP service and web page of :mod:`skdce.serve`, on uvicorn."""

from __future__ import annotations

import copy
import ipaddress
import os
import signal
import sys

import click

from ._errors import EXIT_INTERRUPTED
from ._options import FiniteFloatRange, check_model, model_option, parse_providers, providers_option, threads_option

__all__ = ["serve"]

#: Test only: seconds each request's work sleeps first, holding its worker (fills the queue in tests).
TEST_DELAY_ENV = "SKDCE_SERVE_TEST_DELAY"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is reachable from this machine only."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def _check_auth(host: str, token: str | None, no_auth: bool) -> None:
    """The refusals and the warning of the auth options (usage errors, exit status 2)."""
    if token is not None and no_auth:
        raise click.UsageError("--no-auth and --token (or SKDCE_TOKEN) contradict each other; pass one of them.")
    if token is not None and not token.strip():
        raise click.BadParameter("the token is empty; pass a long random one, e.g. from "
                                 "`python -c \"import secrets; print(secrets.token_urlsafe(32))\"`.",
                                 param_hint="'--token'")
    if is_loopback(host) or token is not None:
        return
    if not no_auth:
        raise click.UsageError(
            f"refusing to serve on {host} without a token: anyone who can reach this machine could use it. "
            f"Pass --token TOKEN (or set SKDCE_TOKEN), or --no-auth to serve it open anyway."
        )
    click.echo(f"skdce serve: WARNING: serving on {host} with no token (--no-auth): anyone who can reach "
               f"this address can use this server.", err=True)


@click.command(epilog="""\b
Examples:
  skdce serve                               the page at http://127.0.0.1:8000/
  skdce serve --port 9000 --workers 1
  SKDCE_TOKEN=$(openssl rand -hex 24) skdce serve --host 0.0.0.0
  curl -F file=@dark.jpg -o bright.png http://127.0.0.1:8000/enhance
""")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs --token (or --no-auth).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option("--workers", type=click.IntRange(1, 32), default=2, show_default=True,
              help="Images enhanced at a time (threads sharing one loaded model).")
@click.option("--queue", type=click.IntRange(0, 10_000), default=64, show_default=True,
              help="Requests that may wait for a worker; past that the answer is 503 with Retry-After.")
@click.option("--token", envvar="SKDCE_TOKEN", show_envvar=True, default=None,
              help="Require 'Authorization: Bearer TOKEN' on every request but the page, /health and /docs.")
@click.option("--no-auth", is_flag=True, help="Allow a non-loopback --host without a token (prints a warning).")
@click.option("--max-upload-mb", type=FiniteFloatRange(0.001, 4096), default=50, show_default=True,
              help="Largest upload; larger ones get 413 before their body is read.")
@click.option("--max-megapixels", type=FiniteFloatRange(0.001, 1000), default=50, show_default=True,
              help="Largest image (width x height), checked before decoding (a guard against decompression bombs).")
@click.option("--timeout", type=FiniteFloatRange(1, 86400), default=120, show_default=True,
              help="Seconds a request may take to upload (408 past it) and to wait for a worker (503 past it).")
@model_option(help="Model of requests that name none (a bundled name or an .onnx file).")
@providers_option(help="ONNX Runtime providers: auto, cpu, cuda.")
@threads_option(help="ONNX Runtime threads per worker. Default: the usable cores divided by --workers.")
def serve(host, port, workers, queue, token, no_auth, max_upload_mb, max_megapixels, timeout, model, providers,
          threads):
    """Serve a web page and an HTTP API that enhance uploaded images.

    GET / is the page, GET /health the status, GET /models the models, POST
    /enhance takes a multipart form with the image in the field `file` and
    answers the enhanced image; the API is described at /docs. Stop it with
    Ctrl-C or SIGTERM: requests at work are finished first.
    """
    _check_auth(host, token, no_auth)
    try:
        import uvicorn

        from ..serve import ServeSettings, create_app
    except ImportError as exc:
        raise click.ClickException(f"skdce serve needs the serve extra ({exc.name} is missing): "
                                   f"pip install 'skdce[serve]'") from None
    if threads is None:
        usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        threads = max(1, usable // workers)
    info, running = check_model(model, providers, threads)
    settings = ServeSettings(
        model=info,
        providers=parse_providers(providers),  # as check_model loaded it: the same cached session
        threads=threads,
        workers=workers,
        queue=queue,
        token=token,
        max_upload_bytes=int(max_upload_mb * 2**20),
        max_pixels=int(max_megapixels * 1e6),
        timeout=timeout,
        work_delay=float(os.environ.get(TEST_DELAY_ENV, "0") or 0),
    )
    app = create_app(settings)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"skdce serve: http://{shown}:{port}/ (model {info.name} on {', '.join(running)}; {workers} workers "
               f"x {threads} threads, queue {queue}; {'token required' if token else 'no token'})", err=True)
    # uvicorn's logging, with the server's own logger (skdce.serve: errors of its own, skipped work) beside its own
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    log_config["loggers"]["skdce.serve"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    # No limit_concurrency: uvicorn counts open connections against it, idle ones included, and past it answers
    # every route (/health too) with a plain-text 503. The app's work pool admits the work (503 JSON with
    # Retry-After). uvicorn times out idle connections only after a response (timeout_keep_alive), not before the
    # first request, so open connections are bounded by the process's file limit alone: the serve page says that a
    # server facing a network sits behind a proxy that times them out.
    config = uvicorn.Config(
        app, host=host, port=port, log_level="info", log_config=log_config, server_header=False, proxy_headers=False,
        timeout_keep_alive=5, timeout_graceful_shutdown=timeout,
    )
    # uvicorn stops on SIGINT/SIGTERM after the requests at work, then raises the signal again with the handlers
    # it found: these turn it into the CLI's exit statuses (130, 143).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(EXIT_INTERRUPTED[signal.SIGTERM]))
    try:
        uvicorn.Server(config).run()
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED[signal.SIGINT])
