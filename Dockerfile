# skdce serve in a container: the CPU build of ONNX Runtime, the bundled models, a non-root user.
#
#   docker build -t skdce-serve .
#   docker run --rm -p 127.0.0.1:8000:8000 -e SKDCE_TOKEN=$(openssl rand -hex 24) skdce-serve
#
# The server binds 0.0.0.0 inside the container and refuses to start without SKDCE_TOKEN
# (pass `skdce serve --host 0.0.0.0 --no-auth` as the command to serve it open). See docs/user_guide/serve.rst.

FROM python:3.11-slim AS build
# a C compiler for skdce's curve and guided-filter kernels (without one skdce runs on NumPy alone, slower)
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md LICENSE MANIFEST.in ./
COPY skdce skdce
COPY weights weights
RUN pip wheel --no-cache-dir --no-deps -w /wheels .

FROM python:3.11-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir "$(ls /wheels/skdce-*.whl)[serve]" && rm -rf /wheels \
    && useradd --create-home --uid 10001 skdce
USER skdce
ENV PYTHONUNBUFFERED=1
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
CMD ["skdce", "serve", "--host", "0.0.0.0", "--port", "8000"]
