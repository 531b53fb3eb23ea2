"""The FastAPI application of ``skdce serve``: routes, auth, the work pool, the one error handler."""

from __future__ import annotations

import hashlib
import hmac
import inspect
import logging
import math
import re
import shutil
import tempfile
import time
import unicodedata
from base64 import b64encode
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache, partial
from importlib import resources
from pathlib import Path
from urllib.parse import quote

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from .. import __version__
from .._base.validate import check_int, check_real
from ..models import ModelInfo

__all__ = ["ServeSettings", "create_app"]

log = logging.getLogger("skdce.serve")

#: Output formats a request may ask for: form value -> (skdce.io format, media type, file suffix).
FORMATS = {
    "png": ("PNG", "image/png", ".png"),
    "jpeg": ("JPEG", "image/jpeg", ".jpg"),
    "jpg": ("JPEG", "image/jpeg", ".jpg"),
    "webp": ("WEBP", "image/webp", ".webp"),
}
_FIELDS = ("file", "model", "strength", "denoise", "exposure", "format")
#: Room for the form's other fields and multipart framing, past the file's own limit.
_FORM_OVERHEAD = 64 * 1024


def enhance_has_exposure() -> bool:
    """Whether :func:`skdce.enhance` takes ``exposure=`` (a request's ``exposure`` is passed through only then)."""
    from .. import enhance

    return "exposure" in inspect.signature(enhance).parameters


@dataclass(frozen=True)
class ServeSettings:
    """What ``skdce serve`` was started with.

    Parameters
    ----------
    model : ModelInfo
        The default model (loaded once at start, shared by every request).
    providers : str or list, optional
        ONNX Runtime providers, as for :func:`skdce.enhance`.
    threads : int, optional
        ONNX Runtime threads of each request's work.
    workers : int, optional
        Requests worked on at a time (threads).
    queue : int, optional
        Requests that may wait for a worker (being received or waiting);
        past ``workers + queue`` a request is answered 503 with ``Retry-After``.
    token : str, optional
        If set, every request but ``GET /`` and ``GET /health`` needs
        ``Authorization: Bearer <token>``.
    max_upload_bytes : int, optional
        Largest accepted file; a larger request body is answered 413 before it is read.
    max_pixels : int, optional
        Largest accepted width x height, checked before decoding.
    timeout : float, optional
        Seconds a request may take to upload (408 past it) and to wait for a
        worker (503 past it).
    work_delay : float, optional
        Test only: seconds each request's work sleeps first, holding its
        worker (``SKDCE_SERVE_TEST_DELAY``), so tests can fill the queue.
    """

    model: ModelInfo
    providers: object = "auto"
    threads: int | None = None
    workers: int = 2
    queue: int = 64
    token: str | None = field(default=None, repr=False)
    max_upload_bytes: int = 50 * 2**20
    max_pixels: int = 50_000_000
    timeout: float = 120.0
    work_delay: float = 0.0

    def __post_init__(self):
        if not isinstance(self.model, ModelInfo):
            raise TypeError(f"model={self.model!r} must be a ModelInfo, e.g. skdce.get_model('zero-dce-int8').")
        check_int("workers", self.workers, min=1, max=32)
        check_int("queue", self.queue, min=0)
        check_int("max_upload_bytes", self.max_upload_bytes, min=1)
        check_int("max_pixels", self.max_pixels, min=1)
        check_real("timeout", self.timeout, lo=0, lo_open=True)
        check_real("work_delay", self.work_delay, lo=0)
        if self.token is not None and (not isinstance(self.token, str) or not self.token.strip()):
            raise ValueError("token must be a non-empty string, or None for no token.")


class ServeError(Exception):
    """An error answered as ``{"error": message}`` with ``status`` (and ``headers``)."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def error_response(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


_ROUTES = "GET / (the page), GET /health, GET /models, POST /enhance, GET /docs (the API)"


def _http_message(request: Request, exc: HTTPException) -> str:
    """Starlette's own errors ("Not Found", "Invalid multipart data.") with the fix."""
    if exc.status_code == 404:
        return f"there is no {request.url.path[:80]!r} here; the routes are {_ROUTES}"
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        return f"{request.url.path} does not take {request.method}; it takes {allowed} (the routes are {_ROUTES})"
    if exc.status_code == 400:
        return (f"the body is not a valid multipart form ({str(exc.detail).rstrip('.')}); send multipart/form-data "
                f"with the image in a field named file, e.g. curl -F file=@photo.jpg")
    return str(exc.detail)


async def _on_error(request: Request, exc: Exception) -> JSONResponse:
    """The one exception handler: every error becomes ``{"error": ...}``, never a traceback."""
    if isinstance(exc, ServeError):
        return error_response(exc.status, exc.message, exc.headers)
    if isinstance(exc, HTTPException):  # routing (404, 405) and Starlette's multipart parser (400)
        return error_response(exc.status_code, _http_message(request, exc), getattr(exc, "headers", None))
    if isinstance(exc, RequestValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}" for e in exc.errors())
        return error_response(422, f"invalid request: {problems}")
    if isinstance(exc, ClientDisconnect):
        return error_response(400, "the client disconnected before the upload was complete")
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal error; the server's log has the details")


# --------------------------------------------------------------------------------------------
# ASGI middleware: the upload limit and the headers of every response
# --------------------------------------------------------------------------------------------


class UploadLimit:
    """Answer 413 to request bodies over ``max_bytes``: at once if Content-Length says so, else when the
    count passes it (the body is never read to the end). Written by hand: Starlette bounds form fields, not
    files, and uvicorn bounds no body.

    An answer that starts before the request's body has been read to its end (413, 401, 400, 408, 503...)
    carries ``Connection: close``, and uvicorn closes the connection after it: otherwise it would read and
    drop the rest of the body, however long, to keep the connection alive, then serve what follows it.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> ServeError:
        mb = (self.max_bytes - _FORM_OVERHEAD) / 2**20
        return ServeError(413, f"the upload is larger than the server's limit of {mb:g} MB (--max-upload-mb)",
                          {"Connection": "close"})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit():
                return await error_response(400, "the Content-Length header is not a number",
                                            {"Connection": "close"})(scope, receive, send)
            if int(length) > self.max_bytes:
                err = self._too_large()
                return await error_response(err.status, err.message, err.headers)(scope, receive, send)
        unread = b"transfer-encoding" in headers or (length is not None and int(length) > 0)
        received = 0

        async def counted_receive():
            nonlocal received, unread
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                unread = message.get("more_body", False)
                if received > self.max_bytes:
                    raise self._too_large()
            return message

        async def closing_send(message):
            if message["type"] == "http.response.start" and unread:
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
                message = {**message, "headers": kept + [(b"connection", b"close")]}
            await send(message)

        await self.app(scope, counted_receive, closing_send)


class SecurityHeaders:
    """nosniff, no referrer and no framing on every response."""

    HEADERS = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
    ]

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in self.HEADERS if k not in names
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --------------------------------------------------------------------------------------------
# The work pool: at most `workers` requests at work, `queue` more waiting, 503 past that
# --------------------------------------------------------------------------------------------


class WorkPool:
    """Admission, waiting and running of the CPU work, off the event loop.

    anyio's thread pool with a :class:`anyio.CapacityLimiter` bounds the work;
    the count of admitted requests bounds the waiting (an unbounded wait is
    what a plain limiter would give).
    """

    def __init__(self, workers: int, queue: int):
        self.workers = workers
        self.capacity = workers + queue
        self.admitted = 0
        self.working = 0
        self._limiter = anyio.CapacityLimiter(workers)
        self._threads = anyio.CapacityLimiter(workers)
        self._seconds = 1.0  # running mean of one request's work, for Retry-After

    def retry_after(self) -> int:
        waiting = max(0, self.admitted - self.workers) + 1
        return max(1, min(3600, math.ceil(self._seconds * waiting / self.workers)))

    @contextmanager
    def admit(self):
        """Hold one place among the ``workers + queue`` admitted requests; 503 with Retry-After when none is free."""
        if self.admitted >= self.capacity:
            raise ServeError(503, f"the server is busy ({self.admitted} requests at work or waiting); try again later",
                             {"Retry-After": str(self.retry_after())})
        self.admitted += 1  # on the event loop's thread only: no lock needed
        try:
            yield
        finally:
            self.admitted -= 1

    async def run(self, fn, deadline: float, receive):
        """``fn()`` in a worker thread once one is free; 503 if none is before ``deadline`` (monotonic).

        While it waits, ``receive`` (the request's ASGI channel, its body read) is watched for the client's
        disconnection: a client that leaves while it waits gives up its place and costs no work.
        """
        acquired = left = False
        async with anyio.create_task_group() as group:

            async def watch():
                nonlocal left
                while (await receive())["type"] != "http.disconnect":
                    pass
                left = True
                group.cancel_scope.cancel()

            group.start_soon(watch)
            with anyio.move_on_after(max(0.0, deadline - time.monotonic())):
                await self._limiter.acquire()
                acquired = True
            group.cancel_scope.cancel()  # stop watching
        if left:
            if acquired:
                self._limiter.release()
            log.info("a client left while it waited for a worker: skipped")
            raise ClientDisconnect()
        if not acquired:
            raise ServeError(503, "no worker was free within the server's time limit (--timeout); try again later",
                             {"Retry-After": str(self.retry_after())})
        try:
            t0 = time.monotonic()
            self.working += 1
            try:
                result = await anyio.to_thread.run_sync(fn, limiter=self._threads)
            finally:
                self.working -= 1
            self._seconds = 0.8 * self._seconds + 0.2 * (time.monotonic() - t0)
            return result
        finally:
            self._limiter.release()


# --------------------------------------------------------------------------------------------
# The request's options and its work
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    model: object
    strength: float
    denoise: float
    exposure: object
    fmt: str
    media_type: str
    suffix: str


def _text(form, name: str) -> str:
    """A text field's value, stripped ("" when absent); 400 for a file sent in its place."""
    value = form.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ServeError(400, f"the field {name!r} must be text, not a file")
    return value.strip()


def _number(form, name: str, default: float, low: float, high: float) -> float:
    text = _text(form, name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ServeError(400, f"{name}={text[:40]!r} is not a number; give one from {low:g} to {high:g}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise ServeError(400, f"{name}={text[:40]!r} is out of range; give a finite number from {low:g} to {high:g}")
    return value


def _job(form, settings: ServeSettings, models: dict) -> _Job:
    """The options of one request, checked (400 naming the field otherwise)."""
    unknown = [key for key in form.keys() if key not in _FIELDS]
    if unknown:
        raise ServeError(400, f"unknown form field {unknown[0][:40]!r}; the fields are {', '.join(_FIELDS)}")
    if len(form.getlist("file")) > 1:
        raise ServeError(400, "send one image per request (the form has several fields named 'file')")
    repeated = [key for key in dict.fromkeys(form.keys()) if len(form.getlist(key)) > 1]
    if repeated:
        raise ServeError(400, f"the form has the field {repeated[0]!r} more than once; send each field once")
    name = _text(form, "model")
    if name and name not in models:
        raise ServeError(400, f"model={name[:40]!r} is not served here; use one of {', '.join(models)} (GET /models)")
    fmt = _text(form, "format").lower() or "png"
    if fmt not in FORMATS:
        raise ServeError(400, f"format={fmt[:40]!r} is not supported; use png, jpeg or webp")
    io_fmt, media_type, suffix = FORMATS[fmt]
    exposure = _text(form, "exposure") or None
    if exposure is not None:
        if not enhance_has_exposure():
            raise ServeError(400, "this version of skdce has no exposure option; leave the field out")
        if exposure.lower() in ("auto", "model"):
            exposure = exposure.lower()
        else:
            from ..tone import EXPOSURE_RANGE

            exposure = _number(form, "exposure", 0.0, *EXPOSURE_RANGE)
    return _Job(
        model=models[name] if name else settings.model,
        strength=_number(form, "strength", 1.0, 0.0, 2.0),
        denoise=_number(form, "denoise", 1.0, 0.0, 4.0),
        exposure=exposure,
        fmt=io_fmt,
        media_type=media_type,
        suffix=suffix,
    )


def _work(upload, job: _Job, settings: ServeSettings) -> bytes:
    """Decode, enhance and encode one upload (in a worker thread); the bytes of the result.

    skdce.io reads and writes files by name (tifffile and the atomic writer
    want one), so the upload and the result live in a private temporary
    folder for the length of this call, removed on every path out of it.
    """
    import numpy as np

    from .. import enhance, io
    from .._base.image import to_uint

    if settings.work_delay:
        time.sleep(settings.work_delay)
    with tempfile.TemporaryDirectory(prefix="skdce-serve-") as folder:
        src = Path(folder) / "upload"
        with open(src, "wb") as fh:
            shutil.copyfileobj(upload, fh, 2**20)
        try:
            image, meta = io.read_image(src, max_pixels=settings.max_pixels)
        except io.ImageFileError as exc:
            raise ServeError(400, f"cannot read the uploaded file: {_read_reason(exc.reason, settings)}") from None
        options = {"exposure": job.exposure} if job.exposure is not None else {}
        try:
            result = enhance(image, model=job.model, strength=job.strength, denoise=job.denoise,
                             channel_axis=None if image.ndim == 2 else -1, providers=settings.providers,
                             num_threads=settings.threads, **options)
        except ValueError as exc:  # options were checked above; what is left is the image's or exposure's
            raise ServeError(400, str(exc)) from None
        out = to_uint(result, np.uint16 if job.fmt == "PNG" and meta.bit_depth == 16 else np.uint8)
        del image, result
        try:
            dst = io.write_image(Path(folder) / f"result{job.suffix}", out, meta, format=job.fmt)
        except io.ImageFileError as exc:  # the encoder failed on a valid image: the server's fault, not the request's
            log.error("cannot encode a %s x %s result as %s: %s", *out.shape[:2], job.fmt, exc.reason, exc_info=exc)
            raise ServeError(500, f"the server could not encode the result as {job.fmt} (a fault of its own; its "
                                  f"log has the details); another format may work") from None
        except ValueError as exc:  # e.g. an alpha channel asked to go into a JPEG
            raise ServeError(400, str(exc)) from None
        return dst.read_bytes()


def _read_reason(reason: str, settings: ServeSettings) -> str:
    """skdce.io's reason a file cannot be read, for a client: its pixel limit is the server's --max-megapixels."""
    found = re.match(r"the image has (\d+) x (\d+) = \d+ pixels, more than max_pixels=", reason)
    if found is None:
        return reason
    width, height = map(int, found.groups())
    return (f"the image has {width} x {height} pixels ({width * height / 1e6:.3g} megapixels); this server takes "
            f"at most {settings.max_pixels / 1e6:g} megapixels (its --max-megapixels, a guard against decompression "
            f"bombs): downscale the image first")


def _content_disposition(filename: str | None, suffix: str) -> str:
    """``holiday.jpg`` -> ``inline; filename="holiday-enhanced.png"``.

    The name keeps letters, digits, ``-``, ``_`` and ``.``; ``filename`` has the ASCII ones (accents dropped:
    ``café`` -> ``cafe``), and a name with others is given whole beside it in RFC 5987's ``filename*``.
    """
    stem = unicodedata.normalize("NFC", Path(filename or "image").stem)  # an accent as one character, not two
    stem = re.sub(r"[^\w.-]+", "_", stem).strip("._")[:80] or "image"
    plain = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    plain = re.sub(r"[^A-Za-z0-9._-]+", "_", plain).strip("._")[:80] or "image"
    header = f'inline; filename="{plain}-enhanced{suffix}"'
    if plain != stem:
        header += f"; filename*=UTF-8''{quote(stem + '-enhanced' + suffix, safe='')}"
    return header


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _page() -> tuple[str, str]:
    """The page's HTML and its content security policy (inline script and style allowed by their hashes)."""
    html = resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")

    def hashes(tag: str) -> str:
        bodies = re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.S)
        return " ".join(f"'sha256-{b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in bodies)

    csp = (f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; "
           f"img-src 'self' blob: data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; "
           f"base-uri 'none'")
    return html, csp


# --------------------------------------------------------------------------------------------
# The application
# --------------------------------------------------------------------------------------------


def _model_facts(info: ModelInfo, default: bool) -> dict:
    return {
        "name": info.name,
        "default": default,
        "bundled": info.bundled,
        "precision": info.precision,
        "iterations": info.iterations,
        "curve": "shared" if info.shared_curve else "one per iteration",
        "scale_factor": info.scale_factor,
    }


def create_app(settings: ServeSettings) -> FastAPI:
    """The ASGI application of ``skdce serve``.

    Parameters
    ----------
    settings : ServeSettings
        The model, the limits and the token. The model's ONNX Runtime session
        is loaded here, once, and shared by every request.

    Returns
    -------
    app : fastapi.FastAPI
        Routes ``/``, ``/health``, ``/models``, ``/enhance``, ``/docs``; see
        :mod:`skdce.serve`. Run it with any ASGI server, e.g.
        ``uvicorn.run(app, host="127.0.0.1", port=8000)``.
    """
    from .. import get_model, list_models
    from ..engine.runtime import get_session

    session = get_session(settings.model.path, settings.providers, settings.threads)  # loaded once, shared
    # Models a request may name: the bundled ones and the default; never a path.
    models = {name: get_model(name) for name in list_models()}
    models[settings.model.name] = settings.model
    pool = WorkPool(settings.workers, settings.queue)
    bearer = HTTPBearer(auto_error=False, description="The server's --token")

    async def require_token(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if settings.token is None:
            return
        given = credentials.credentials.encode() if credentials is not None else b""
        if not hmac.compare_digest(given, settings.token.encode()):
            raise ServeError(401, "a valid token is needed: send the header 'Authorization: Bearer <token>'",
                             {"WWW-Authenticate": "Bearer"})

    app = FastAPI(
        title="skdce serve",
        version=__version__,
        description="Zero-DCE low-light enhancement over HTTP. POST an image to /enhance; "
                    "errors are JSON objects {\"error\": ...}.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        redirect_slashes=False,  # /enhance/ is a 404, not a redirect to an absolute URL naming the internal address
    )
    for exc_class in (ServeError, HTTPException, RequestValidationError, ClientDisconnect, Exception):
        app.add_exception_handler(exc_class, _on_error)
    app.add_middleware(UploadLimit, max_bytes=settings.max_upload_bytes + _FORM_OVERHEAD)
    app.add_middleware(SecurityHeaders)
    app.state.pool = pool

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def page() -> HTMLResponse:
        html, csp = _page()
        return HTMLResponse(html, headers={"Content-Security-Policy": csp, "Cache-Control": "no-cache"})

    @app.api_route("/health", methods=["GET", "HEAD"], summary="Version, model, providers and limits (no token needed)")
    async def health() -> dict:
        return {
            "status": "ok",
            "version": __version__,
            "model": settings.model.name,
            "providers": list(session.providers),
            "auth": settings.token is not None,
            "exposure": enhance_has_exposure(),
            "formats": ["png", "jpeg", "webp"],
            "max_upload_mb": settings.max_upload_bytes / 2**20,
            "max_megapixels": settings.max_pixels / 1e6,
            "workers": settings.workers,
            "queue": settings.queue,
            "working": pool.working,
            "waiting": pool.admitted - pool.working,
        }

    @app.api_route("/models", methods=["GET", "HEAD"], summary="The models a request may name",
                   dependencies=[Depends(require_token)])
    async def list_served_models() -> list[dict]:
        return [_model_facts(info, info is settings.model) for info in models.values()]

    form_schema = {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {"type": "string", "format": "binary", "description": "The image: PNG, JPEG, TIFF, WebP..."},
            "model": {"type": "string", "description": f"A name from GET /models (default {settings.model.name})"},
            "strength": {"type": "number", "minimum": 0, "maximum": 2, "default": 1},
            "denoise": {"type": "number", "minimum": 0, "maximum": 4, "default": 1},
            "exposure": {"type": "string", "description": "'auto' or a number, where GET /health says "
                                                          "exposure is true"},
            "format": {"type": "string", "enum": ["png", "jpeg", "webp"], "default": "png",
                       "description": "PNG keeps 16-bit input 16-bit; JPEG and WebP are 8-bit"},
        },
    }
    error = {"description": "An error", "content": {"application/json": {"example": {"error": "..."}}}}

    @app.post(
        "/enhance",
        summary="Enhance one image",
        dependencies=[Depends(require_token)],
        response_class=Response,
        openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": form_schema}}}},
        responses={
            200: {"description": "The enhanced image",
                  "content": {t: {} for t in ("image/png", "image/jpeg", "image/webp")}},
            400: error, 401: error, 408: error, 413: error, 503: error,
        },
    )
    async def enhance(request: Request) -> Response:
        if request.url.query:
            raise ServeError(400, f"POST /enhance takes no query string (got '?{request.url.query[:60]}'); send the "
                                  f"options as multipart form fields beside the file, e.g. curl -F file=@photo.jpg "
                                  f"-F strength=0.8")
        with pool.admit():
            deadline = time.monotonic() + settings.timeout
            with anyio.move_on_after(settings.timeout) as receiving:
                form = await request.form(max_files=2, max_fields=len(_FIELDS) + 2)
            if receiving.cancelled_caught:
                raise ServeError(408, f"the upload took longer than the server's limit of {settings.timeout:g} s")
            try:
                upload = form.get("file")
                if upload is None:
                    raise ServeError(400, "the form has no field 'file'; send the image as multipart/form-data "
                                          "in a field named file (curl -F file=@photo.jpg)")
                if isinstance(upload, str):
                    raise ServeError(400, "the field 'file' must be a file upload, not text")
                job = _job(form, settings, models)
                data = await pool.run(partial(_work, upload.file, job, settings), deadline, request.receive)
                disposition = _content_disposition(upload.filename, job.suffix)
            finally:
                await form.close()
        return Response(data, media_type=job.media_type,
                        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"})

    return app
