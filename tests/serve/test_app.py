"""``skdce serve`` over real HTTP on loopback: the routes, the token, every bad input, the limits, a burst."""

import io
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from PIL import Image

import skdce
from skdce.models import default_model
from skdce.serve._app import enhance_has_exposure

from .._helpers import dark
from ._server import AUTH, TOKEN, encode


def post(server, files=None, data=None, headers=AUTH, **kwargs):
    return httpx.post(server.url + "/enhance", files=files, data=data, headers=headers, timeout=60, **kwargs)


def assert_error(r, status, *words):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == {"error"}, body
    for word in words:
        assert word in body["error"], body["error"]
    assert "Traceback" not in r.text


def test_health_needs_no_token_and_names_the_model(server):
    r = httpx.get(server.url + "/health")
    assert r.status_code == 200
    h = r.json()
    assert h["status"] == "ok" and h["version"] == skdce.__version__ and h["model"] == default_model("cpu")
    assert h["providers"] == ["CPUExecutionProvider"] and h["auth"] is True
    assert h["max_upload_mb"] == 1 and h["max_megapixels"] == 0.5
    assert h["exposure"] is enhance_has_exposure()


def test_page_needs_no_token_and_has_security_headers(server):
    r = httpx.get(server.url + "/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'sha256-" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "<script src" not in r.text and "http://" not in r.text and "https://" not in r.text  # no CDN


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                                     {"Authorization": f"Bearer {TOKEN}x"}])
@pytest.mark.parametrize("route", ["/models", "/enhance"])
def test_a_missing_or_wrong_token_gets_401(server, headers, route):
    if route == "/models":
        r = httpx.get(server.url + route, headers=headers)
    else:
        r = post(server, files={"file": ("a.png", encode(dark((8, 8, 3))))}, headers=headers)
    assert_error(r, 401, "token")
    assert r.headers["www-authenticate"] == "Bearer"


def test_models_lists_the_bundled_models_without_paths(server):
    r = httpx.get(server.url + "/models", headers=AUTH)
    assert r.status_code == 200
    models = {m["name"]: m for m in r.json()}
    assert {"zero-dce", "zero-dce-int8", "zero-dce++"} <= set(models)
    assert models[default_model("cpu")]["default"] and not models["zero-dce"]["default"]
    assert "/" not in json.dumps(r.json())  # no server paths


@pytest.mark.parametrize("fmt, media, pil", [("png", "image/png", "PNG"), ("jpeg", "image/jpeg", "JPEG"),
                                             ("webp", "image/webp", "WEBP"), (None, "image/png", "PNG")])
def test_enhance_returns_the_image_in_the_format_asked(server, fmt, media, pil):
    src = dark((30, 40, 3))
    data = {"format": fmt} if fmt else {}
    r = post(server, files={"file": ("night shot.jpg", encode(src))}, data=data)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == media
    suffix = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}[pil]
    assert r.headers["content-disposition"] == f'inline; filename="night_shot-enhanced{suffix}"'
    out = Image.open(io.BytesIO(r.content))
    assert out.format == pil and out.size == (40, 30) and out.mode == "RGB"
    assert np.asarray(out).mean() > src.mean() + 20  # brighter


@pytest.mark.parametrize("sent, header", [
    ("café.jpg", "inline; filename=\"cafe-enhanced.png\"; filename*=UTF-8''caf%C3%A9-enhanced.png"),
    ("夜 景.jpg", "inline; filename=\"image-enhanced.png\"; filename*=UTF-8''%E5%A4%9C_%E6%99%AF-enhanced.png"),
    ("../up/night shot.v2.png", 'inline; filename="night_shot.v2-enhanced.png"'),  # ASCII: no filename*
])
def test_the_download_name_keeps_letters_of_any_alphabet(server, sent, header):
    r = post(server, files={"file": (sent, GOOD)})
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == header


def test_16_bit_input_stays_16_bit_in_png_and_is_8_bit_in_jpeg(server):
    from skdce.io import read_image

    src = dark((20, 24, 3), np.uint16)
    r = post(server, files={"file": ("d16.png", encode(src))})
    assert r.status_code == 200, r.text
    with open(server.tmp.parent / "out16.png", "wb") as fh:
        fh.write(r.content)
    out, meta = read_image(server.tmp.parent / "out16.png")
    assert out.dtype == np.uint16 and meta.bit_depth == 16 and out.shape == src.shape
    assert out.mean() > src.mean() * 2
    r = post(server, files={"file": ("d16.png", encode(src))}, data={"format": "jpeg"})
    assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).mode == "RGB"


def test_strength_denoise_and_model_change_the_result(server):
    payload = encode(dark((24, 24, 3)))
    outs = {}
    for key, data in {"plain": {}, "weak": {"strength": "0.3"}, "raw": {"denoise": "0"},
                      "fp32": {"model": "zero-dce"}, "zero": {"strength": "0"}}.items():
        r = post(server, files={"file": ("a.png", payload)}, data=data)
        assert r.status_code == 200, r.text
        outs[key] = np.asarray(Image.open(io.BytesIO(r.content)))
    assert np.array_equal(outs["zero"], np.asarray(Image.open(io.BytesIO(payload))))  # strength 0: the image back
    assert outs["weak"].mean() < outs["plain"].mean()
    for key in ("raw", "fp32"):
        assert not np.array_equal(outs[key], outs["plain"]), key


def test_gray_and_rgba_images(server):
    r = post(server, files={"file": ("g.png", encode(dark((16, 20))))})
    assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).mode == "L"
    rgba = dark((16, 20, 4))
    r = post(server, files={"file": ("a.png", encode(rgba))})
    assert r.status_code == 200
    out = np.asarray(Image.open(io.BytesIO(r.content)))
    assert out.shape == (16, 20, 4) and np.array_equal(out[..., 3], rgba[..., 3])  # alpha untouched
    assert_error(post(server, files={"file": ("a.png", encode(rgba))}, data={"format": "jpeg"}), 400, "alpha")


def _bomb() -> bytes:
    """A 2000 x 2000 PNG of zeros: 4 megapixels (over the test server's 0.5) in a few kilobytes."""
    buf = io.BytesIO()
    Image.new("L", (2000, 2000)).save(buf, format="PNG")
    assert len(buf.getvalue()) < 20_000
    return buf.getvalue()


GOOD = encode(dark((12, 12, 3)))


@pytest.mark.parametrize("files, data, words", [
    ({"file": ("a.png", b"hello, I am text posing as an image")}, {}, ["not an image"]),
    ({"file": ("a.png", b"")}, {}, ["empty"]),
    ({"file": ("a.png", GOOD[: len(GOOD) // 2])}, {}, ["truncated"]),
    ({"file": ("a.png", _bomb())}, {}, ["2000 x 2000 pixels", "at most", "0.5 megapixels", "--max-megapixels",
                                        "decompression bomb", "downscale"]),
    (None, {"strength": "1"}, ["no field 'file'"]),
    (None, {"file": "I am text, not a file"}, ["must be a file"]),
    ({"file": ("a.png", GOOD)}, {"strength": "nan"}, ["strength", "finite"]),
    ({"file": ("a.png", GOOD)}, {"strength": "inf"}, ["strength"]),
    ({"file": ("a.png", GOOD)}, {"strength": "3"}, ["strength", "0 to 2"]),
    ({"file": ("a.png", GOOD)}, {"denoise": "a lot"}, ["denoise", "not a number"]),
    ({"file": ("a.png", GOOD)}, {"format": "gif"}, ["format", "png, jpeg or webp"]),
    ({"file": ("a.png", GOOD)}, {"format": "tiff"}, ["format"]),
    ({"file": ("a.png", GOOD)}, {"model": "/etc/passwd"}, ["model", "not served"]),
    ({"file": ("a.png", GOOD)}, {"model": "../weights/zero-dce.onnx"}, ["model", "not served"]),
    ({"file": ("a.png", GOOD)}, {"strenght": "1"}, ["unknown form field 'strenght'"]),
    ({"file": ("a.png", GOOD)}, {"url": "http://169.254.169.254/"}, ["unknown form field 'url'"]),
    ({"file": ("a.png", GOOD)}, {"strength": ["nan", "1"]}, ["field 'strength' more than once"]),
    ({"file": ("a.png", GOOD)}, {"format": ["png", "png"]}, ["field 'format' more than once"]),
], ids=["text", "empty", "truncated", "bomb", "no-file", "text-file", "nan", "inf", "range", "word", "gif", "tiff",
        "path", "relative-path", "typo", "url", "repeated", "repeated-same"])
def test_bad_input_gets_400_json_naming_the_problem(server, files, data, words):
    assert_error(post(server, files=files, data=data), 400, *words)


def test_two_files_and_a_body_that_is_not_a_form(server):
    two = [("file", ("a.png", GOOD)), ("file", ("b.png", GOOD))]
    assert_error(post(server, files=two), 400, "one image")
    assert_error(post(server, json={"file": "x"}), 400, "multipart")
    assert_error(httpx.get(server.url + "/nowhere"), 404, "'/nowhere'", "GET /health", "POST /enhance")
    r = httpx.put(server.url + "/enhance", headers=AUTH)
    assert_error(r, 405, "/enhance does not take PUT; it takes POST", "GET /health")
    assert r.headers["allow"] == "POST"
    for content_type, body, words in [("multipart/form-data", GOOD, ["Missing boundary"]),
                                      ("multipart/form-data; boundary=zz", b"garbage", ["Invalid multipart data"])]:
        r = post(server, content=body, headers={**AUTH, "Content-Type": content_type})
        assert_error(r, 400, *words, "multipart/form-data", "field named file", "curl -F file=@photo.jpg")


def test_options_in_the_query_string_are_refused(server):
    r = post(server, files={"file": ("a.png", GOOD)}, params={"strength": "nan"})
    assert_error(r, 400, "no query string", "?strength=nan", "form fields", "-F strength=0.8")


@pytest.mark.parametrize("method, path", [("POST", "/enhance/"), ("GET", "/health/"), ("GET", "/models/")])
def test_a_trailing_slash_is_a_404_not_a_redirect(server, method, path):
    r = httpx.request(method, server.url + path, headers=AUTH, files={"file": ("a.png", GOOD)} if method == "POST"
                      else None)
    assert_error(r, 404)
    assert "location" not in r.headers


@pytest.mark.parametrize("path", ["/", "/health", "/models"])
def test_head_of_the_page_and_health(server, path):
    r = httpx.head(server.url + path, headers=AUTH)
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-type"] == httpx.get(server.url + path, headers=AUTH).headers["content-type"]


def test_exposure_is_passed_through_only_where_enhance_has_it(server):
    r = post(server, files={"file": ("a.png", GOOD)}, data={"exposure": "auto"})
    if enhance_has_exposure():
        assert r.status_code == 200, r.text
        for value in ("nan", "1e309", "-5", "2.5"):
            assert_error(post(server, files={"file": ("a.png", GOOD)}, data={"exposure": value}), 400,
                         f"exposure={value!r}", "from -4 to 2")
    else:
        assert_error(r, 400, "no exposure option")
    assert post(server, files={"file": ("a.png", GOOD)}, data={"exposure": ""}).status_code == 200  # the page's blank


def test_an_upload_over_the_limit_gets_413_before_it_is_read(server):
    big = b"\x00" * (2 * 2**20)  # 2 MB against the 1 MB limit
    t0 = time.monotonic()
    assert_error(post(server, files={"file": ("big.png", big)}), 413, "1 MB", "--max-upload-mb")

    def chunks():  # no Content-Length (chunked): refused when the count passes the limit
        yield b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n\r\n'
        for _ in range(64):
            yield b"\x00" * 2**15
        yield b"\r\n--xyz--\r\n"

    r = post(server, content=chunks(), headers={**AUTH, "Content-Type": "multipart/form-data; boundary=xyz"})
    assert_error(r, 413, "--max-upload-mb")
    assert time.monotonic() - t0 < 20
    assert httpx.get(server.url + "/health").status_code == 200  # still serving


def raw_exchange(server, head: bytes, parts) -> bytes:
    """Send ``head`` then each of ``parts`` on one socket (sending stops when the server closes), then read to the
    end: what the server answered before it closed the connection (an assertion error if it never does)."""
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.settimeout(10)
        try:
            sock.sendall(head)
            for part in parts:
                sock.sendall(part)
        except OSError:  # the server closed the connection: what it answered is still to read
            pass
        answer = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            except TimeoutError:
                raise AssertionError(f"the server kept the connection open after {answer[:300]!r}") from None
            if not chunk:
                break
            answer += chunk
    return answer


MULTIPART_HEAD = (b"POST /enhance HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=xyz\r\n")
PIPELINED = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"


def test_an_early_413_on_a_chunked_upload_closes_the_connection(server):
    """A chunked body that passes the limit: the 413 says Connection: close and the server stops reading; the rest
    of the body (4 MB) and a request pipelined after it are never served."""
    head = MULTIPART_HEAD + f"Authorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    opening = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
    block = b"\x00" * 2**16
    parts = [b"%x\r\n%s\r\n" % (len(opening), opening)] + [b"%x\r\n%s\r\n" % (len(block), block)] * 64
    answer = raw_exchange(server, head, parts + [b"0\r\n\r\n" + PIPELINED])
    assert answer.startswith(b"HTTP/1.1 413") and b"connection: close" in answer.lower(), answer[:300]
    assert answer.count(b"HTTP/1.1 ") == 1, answer  # the pipelined GET was not served
    assert httpx.get(server.url + "/health").status_code == 200


def test_a_401_before_the_body_is_read_closes_the_connection(server):
    """The token is checked before the body is read: the 401 says Connection: close and the server closes the
    connection at once, rather than wait for (and drop) the 500 kB the request announced."""
    answer = raw_exchange(server, MULTIPART_HEAD + b"Content-Length: 500000\r\n\r\n", [b"--xyz\r\n"])
    assert answer.startswith(b"HTTP/1.1 401") and b"connection: close" in answer.lower(), answer[:300]
    assert b'"error":"a valid token is needed' in answer


def test_a_burst_of_32_clients_is_queued_not_turned_away(server):
    payloads = [encode(dark((24 + i % 5, 32, 3))) for i in range(32)]

    def one(i):
        with httpx.Client(timeout=120) as client:
            r = client.post(server.url + "/enhance", files={"file": (f"{i}.png", payloads[i])}, headers=AUTH)
        return r.status_code, (Image.open(io.BytesIO(r.content)).size if r.status_code == 200 else r.text)

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(one, range(32)))
    assert [status for status, _ in results] == [200] * 32, results
    assert [size for _, size in results] == [(32, 24 + i % 5) for i in range(32)]


def test_no_temporary_files_are_left(server):
    post(server, files={"file": ("a.png", b"junk")})
    post(server, files={"file": ("a.png", GOOD)})
    assert server.leftovers() == []
    assert "Traceback" not in server.log()


def in_process(app, method, path, **kwargs):
    """One request to ``app`` in this process (httpx's ASGI transport): for what the real server cannot show."""
    import anyio

    async def call():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, **kwargs)

    return anyio.run(call)


def test_a_fault_of_the_server_is_a_500_json_without_details(caplog):
    """The real server has no route that fails: the one handler hides the traceback, the log has it."""
    import skdce
    from skdce.serve import ServeSettings, create_app

    app = create_app(ServeSettings(model=skdce.get_model("zero-dce-int8"), threads=1))

    @app.get("/boom")
    async def boom():
        raise RuntimeError("secret detail")

    r = in_process(app, "GET", "/boom")
    assert_error(r, 500, "internal error")
    assert "secret" not in r.text
    assert any("secret detail" in str(rec.exc_info[1]) for rec in caplog.records if rec.exc_info)


def test_an_encoder_fault_is_a_500_json_and_logged(monkeypatch, caplog):
    """The encoder failing on a valid image (it did on a 400 x 3 noise PNG) is the server's fault: 500, not 400."""
    import skdce
    from skdce import io as skdce_io
    from skdce.serve import ServeSettings, create_app

    def write_image(path, *args, **kwargs):
        raise skdce_io.ImageFileError("write", path, "png_write_data_fn output stream too small")

    monkeypatch.setattr(skdce_io, "write_image", write_image)
    app = create_app(ServeSettings(model=skdce.get_model("zero-dce-int8"), threads=1))
    r = in_process(app, "POST", "/enhance", files={"file": ("a.png", GOOD)})
    assert_error(r, 500, "could not encode the result as PNG", "another format")
    assert "png_write_data_fn" not in r.text and "/" not in r.json()["error"]  # no details, no paths
    assert any("png_write_data_fn" in rec.getMessage() for rec in caplog.records if rec.name == "skdce.serve")


def test_exposure_goes_to_an_enhance_that_takes_it(monkeypatch):
    """skdce.enhance as it will be with ``exposure=`` ("auto" or stops; its own range check, a ValueError)."""
    import skdce
    from skdce.serve import ServeSettings, create_app

    real, seen = skdce.enhance, []

    def enhance(image, *, exposure="auto", **options):
        seen.append(exposure)
        if exposure != "auto" and not -4 <= exposure <= 2:
            raise ValueError(f"exposure={exposure!r} is out of range; give 'auto' or stops from -4 to 2")
        return real(image, **options)

    monkeypatch.setattr(skdce, "enhance", enhance)
    app = create_app(ServeSettings(model=skdce.get_model("zero-dce-int8"), threads=1))
    assert in_process(app, "GET", "/health").json()["exposure"] is True
    for value, expected in [("auto", "auto"), ("1.5", 1.5), (" -2 ", -2.0), ("", "auto")]:
        r = in_process(app, "POST", "/enhance", files={"file": ("a.png", GOOD)}, data={"exposure": value})
        assert r.status_code == 200, r.text
        assert seen[-1] == expected
    assert_error(in_process(app, "POST", "/enhance", files={"file": ("a.png", GOOD)}, data={"exposure": "9"}),
                 400, "exposure='9' is out of range", "from -4 to 2")
    assert_error(in_process(app, "POST", "/enhance", files={"file": ("a.png", GOOD)}, data={"exposure": "nan"}),
                 400, "exposure", "finite")


@pytest.mark.parametrize("options, error, match", [
    ({"workers": 0}, ValueError, "workers"),
    ({"queue": -1}, ValueError, "queue"),
    ({"timeout": float("nan")}, ValueError, "timeout"),
    ({"max_upload_bytes": 1.5}, TypeError, "max_upload_bytes"),
    ({"token": " "}, ValueError, "token"),
    ({"model": "zero-dce"}, TypeError, "ModelInfo"),
])
def test_serve_settings_refuse_bad_values(options, error, match):
    import skdce
    from skdce.serve import ServeSettings

    with pytest.raises(error, match=match):
        ServeSettings(**{"model": skdce.get_model("zero-dce-int8"), **options})
