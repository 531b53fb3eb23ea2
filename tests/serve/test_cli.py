"""``skdce serve`` as a command: the auth refusals, a full queue, SIGTERM and Ctrl-C."""

import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from skdce.cli.serve import is_loopback

from .._helpers import dark, run_cli
from ._server import Server, encode

PAYLOAD = encode(dark((16, 16, 3)))


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True),
                                            ("[::1]", True), ("localhost", True), ("0.0.0.0", False),
                                            ("::", False), ("192.168.1.4", False), ("example.org", False)])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("args, words", [
    (["--host", "0.0.0.0"], ["refusing to serve on 0.0.0.0 without a token", "--no-auth"]),
    (["--host", "::"], ["refusing"]),
    (["--token", "abc", "--no-auth"], ["contradict"]),
    (["--token", "  "], ["token is empty"]),
    (["--workers", "0"], ["--workers"]),
    (["--max-upload-mb", "nan"], ["--max-upload-mb"]),
    (["--model", "no-such-model"], ["--model"]),
])
def test_usage_errors_refuse_to_start(args, words):
    res = run_cli("serve", "--port", "1", *args, env={"PATH": "/usr/bin:/bin"})
    assert res.returncode == 2, res.stderr
    for word in words:
        assert word in res.stderr, res.stderr


def health(srv) -> dict:
    return httpx.get(srv.url + "/health").json()


def at_work(srv):
    """Wait until the server's one worker is at work (GET /health)."""
    deadline = time.monotonic() + 20
    while health(srv)["working"] != 1:
        assert time.monotonic() < deadline, "no request came to work"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_full_queue_gets_503_with_retry_after_and_sigterm_finishes_the_work(tmp_path):
    """One worker and a queue of one, the work held until the test lets it go: of 4 requests at once, 2 are
    served, 2 get 503. A client that leaves while it waits is skipped and costs no work. Then SIGTERM during a
    request: the request is answered, the server exits with 143 and leaves nothing."""
    srv = Server(tmp_path, "--workers", 1, "--queue", 1, env={"SKDCE_TOKEN": "t"}, gate=True)
    auth = {"Authorization": "Bearer t"}
    try:
        def one(timeout=60):
            r = httpx.post(srv.url + "/enhance", files={"file": ("a.png", PAYLOAD)}, headers=auth, timeout=timeout)
            return r.status_code, r.headers.get("retry-after"), r.json() if r.status_code != 200 else None

        with ThreadPoolExecutor(4) as pool:
            answers = [pool.submit(one) for _ in range(4)]
            deadline = time.monotonic() + 30
            while sum(answer.done() for answer in answers) < 2:  # two are refused at once, two are held
                assert time.monotonic() < deadline, "no request was refused"
                time.sleep(0.02)
            at_work(srv)
            assert health(srv)["waiting"] == 1
            refused = [answer.result() for answer in answers if answer.done()]
            srv.open()
            results = sorted((answer.result() for answer in answers), key=lambda r: r[0])
        assert [status for status, _, _ in refused] == [503, 503]
        assert [status for status, _, _ in results] == [200, 200, 503, 503], results
        for _, retry_after, body in results[2:]:
            assert int(retry_after) >= 1 and "busy" in body["error"]
        assert srv.calls() == 2

        # a client that gives up while it waits costs no work
        srv.close()
        with ThreadPoolExecutor(1) as pool:
            busy = pool.submit(one)
            at_work(srv)
            with pytest.raises(httpx.ReadTimeout):
                one(timeout=0.5)
            srv.wait_log("a client left while it waited for a worker: skipped")
            srv.open()
            assert busy.result()[0] == 200
        assert srv.calls() == 3  # the busy request's work only

        srv.close()
        with ThreadPoolExecutor(1) as pool:
            request = pool.submit(one)
            at_work(srv)
            srv.proc.send_signal(signal.SIGTERM)
            srv.wait_log("Shutting down")  # uvicorn stops taking requests and waits for the one at work
            srv.open()
            assert request.result()[0] == 200
        assert srv.stop() == 143
        assert srv.leftovers() == []
        assert "Traceback" not in srv.log()
    finally:
        srv.stop()


@pytest.mark.slow
def test_no_auth_on_all_interfaces_warns_time_limits_and_ctrl_c_stops_it(tmp_path):
    """--no-auth on 0.0.0.0 with --timeout 1.5 and the work held: a stalled upload gets 408, a request that waits
    longer than the limit for the one worker gets 503; Ctrl-C then stops the server (exit status 130)."""
    srv = Server(tmp_path, "--no-auth", "--workers", 1, "--timeout", 1.5, host="0.0.0.0", gate=True)
    try:
        assert "WARNING: serving on 0.0.0.0 with no token (--no-auth)" in srv.log()
        assert httpx.get(srv.url + "/health").json()["auth"] is False

        with socket.create_connection(("127.0.0.1", srv.port)) as sock:  # a part of the body, then nothing
            sock.sendall(b"POST /enhance HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
                         b"Content-Type: multipart/form-data; boundary=b\r\n\r\n"
                         b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n' + b"x" * 30)
            sock.settimeout(20)
            answer = b""
            while chunk := sock.recv(4096):  # to the end: the server closes the connection (the body is unread)
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 408") and b'"error":"the upload took longer' in answer
        assert b"connection: close" in answer.lower()

        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(httpx.post, srv.url + "/enhance", files={"file": ("a.png", PAYLOAD)}, timeout=60)
            at_work(srv)
            r = httpx.post(srv.url + "/enhance", files={"file": ("a.png", PAYLOAD)}, timeout=60)
            assert r.status_code == 503 and "no worker was free" in r.json()["error"] and r.headers["retry-after"]
            srv.open()
            assert first.result().status_code == 200
        assert srv.calls() == 1
    finally:
        srv.open()
        assert srv.stop(signal.SIGINT) == 130


def test_the_token_option(tmp_path):
    srv = Server(tmp_path, "--token", "from-the-option")
    try:
        assert httpx.get(srv.url + "/models").status_code == 401
        assert httpx.get(srv.url + "/models", headers={"Authorization": "Bearer from-the-option"}).status_code == 200
        assert "token required" in srv.log() and "from-the-option" not in srv.log()
    finally:
        srv.stop()


def test_idle_connections_do_not_lock_the_server_out(tmp_path):
    """300 sockets that send nothing, against one worker and a queue of one: /health still answers at once, and
    the work is admitted by the server's queue (JSON), not refused by a cap on connections (uvicorn's plain
    'Service Unavailable', which 40 idle sockets reached before)."""
    srv = Server(tmp_path, "--workers", 1, "--queue", 1)
    idle = []
    try:
        for _ in range(300):
            idle.append(socket.create_connection(("127.0.0.1", srv.port)))
        t0 = time.monotonic()
        r = httpx.get(srv.url + "/health", timeout=5)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json", r.text
        assert time.monotonic() - t0 < 2
        r = httpx.post(srv.url + "/enhance", files={"file": ("a.png", PAYLOAD)}, timeout=60)
        assert r.status_code == 200, r.text
    finally:
        for sock in idle:
            sock.close()
        srv.stop()
