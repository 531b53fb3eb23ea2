"""``skdce serve``: an HTTP service and a web page around :func:`skdce.enhance`.

:func:`create_app` builds the ASGI application (FastAPI) from a
:class:`ServeSettings`; ``skdce serve`` runs it on uvicorn. Needs the
``serve`` extra: ``pip install "skdce[serve]"``.

Routes:

* ``GET /`` (and ``HEAD``): the web page (``page.html`` beside this module: one file, no
  CDN, no build step).
* ``GET /health`` (and ``HEAD``): version, model, providers, limits; never needs the token.
* ``GET /models``: the models a request may name.
* ``POST /enhance``: a multipart form with the image in ``file``; optional
  ``model``, ``strength``, ``denoise``, ``exposure`` (where
  :func:`skdce.enhance` has it) and ``format`` (``png``, ``jpeg``, ``webp``).
* ``GET /docs``, ``GET /openapi.json``: the API description.

The work (decoding, enhancing, encoding) runs in threads, at most
``workers`` requests at a time; up to ``queue`` more wait for a thread, and
past that a request is answered 503 with ``Retry-After``. Every error is a
JSON object ``{"error": "..."}`` with a 4xx status (5xx only when the server
is busy, or for a fault of its own, whose details go to the log).
"""

from __future__ import annotations

from ._app import ServeSettings, create_app

__all__ = ["ServeSettings", "create_app"]

for _obj in (ServeSettings, create_app):
    _obj.__module__ = __name__
del _obj
