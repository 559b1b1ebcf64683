"""The shared HTTP client: proxies from the environment, no cookie jar, Retry-After."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from utils.http import HttpClient, HttpError
from utils.retry import RetryPolicy


class Recorder:
    """A tiny real server: answers per a script, records what it received."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.script: list[tuple[int, dict[str, str], bytes]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # also serves as a forward proxy (absolute URIs)
                recorder.seen.append((self.command, self.path, dict(self.headers)))
                if self.path.startswith("http://"):
                    return self._forward()
                status, headers, body = (
                    recorder.script.pop(0) if recorder.script else (200, {}, b'{"ok": true}')
                )
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return None

            def _forward(self) -> None:
                parts = urlsplit(self.path)
                conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80)
                conn.request("GET", parts.path or "/")
                response = conn.getresponse()
                payload = response.read()
                conn.close()
                self.send_response(response.status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def origin() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.stop()


@pytest.fixture
def proxy() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.stop()


def test_a_proxy_from_the_environment_is_used(
    origin: Recorder, proxy: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("http_proxy", proxy.url)
    client = HttpClient(origin.url)
    assert client.get_json("/thing") == {"ok": True}
    assert [path for _, path, _ in proxy.seen] == [origin.url + "/thing"]
    assert [path for _, path, _ in origin.seen] == ["/thing"]


def test_no_proxy_is_honoured(
    origin: Recorder, proxy: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("http_proxy", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    client = HttpClient(origin.url)
    client.get_json("/direct")
    assert proxy.seen == []
    assert [path for _, path, _ in origin.seen] == ["/direct"]


def test_without_a_cookie_jar_no_cookie_is_sent_back(origin: Recorder) -> None:
    origin.script = [(200, {"Set-Cookie": "session=abc; Path=/"}, b"{}")] * 3
    jarless = HttpClient(origin.url, keep_cookies=False)
    jarless.get_json("/a")
    jarless.get_json("/b")
    assert "Cookie" not in origin.seen[1][2]
    keeping = HttpClient(origin.url)
    keeping.get_json("/c")
    keeping.get_json("/d")
    assert origin.seen[3][2].get("Cookie") == "session=abc"


def test_retry_after_is_honoured_and_the_bearer_token_never_shown(origin: Recorder) -> None:
    slept: list[float] = []
    origin.script = [
        (429, {"Retry-After": "7"}, b'{"error": "slow down"}'),
        (503, {}, b"{}"),
        (200, {}, b'{"id": 1}'),
    ]
    client = HttpClient(
        origin.url,
        token="tok-123",
        policy=RetryPolicy(max_attempts=5, base_wait=0.001, sleep=slept.append),
    )
    assert client.get_json("/x") == {"id": 1}
    assert slept[0] == 7 and len(slept) == 2
    assert all(h.get("Authorization") == "Bearer tok-123" for _, _, h in origin.seen)
    assert "tok-123" not in repr(client)


def test_a_client_error_is_not_retried_and_keeps_the_server_message(origin: Recorder) -> None:
    origin.script = [(422, {}, b'{"error": "text is required"}')]
    client = HttpClient(origin.url, policy=RetryPolicy(sleep=lambda s: None))
    started = time.monotonic()
    with pytest.raises(HttpError) as info:
        client.get_json("/y")
    assert info.value.status == 422 and not info.value.retryable
    assert "text is required" in str(info.value)
    assert len(origin.seen) == 1 and time.monotonic() - started < 5


class Dribbler:
    """A real server that sends its answer one byte at a time (headers too, if asked)."""

    def __init__(self, interval: float, slow_headers: bool) -> None:
        self.requests = 0
        dribbler = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                dribbler.requests += 1
                body = b'{"padding": "' + b"x" * 40 + b'"}'
                head = (
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                ).encode()
                slow = head + body if slow_headers else body
                try:
                    if not slow_headers:
                        self.wfile.write(head)
                        self.wfile.flush()
                    for byte in slow:  # each byte comes well within requests' read timeout
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(interval)
                except OSError:
                    pass  # the client gave up: what the test wants

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("slow_headers", [False, True], ids=["slow-body", "slow-headers"])
def test_timeout_bounds_the_whole_request_and_is_retried_as_a_timeout(slow_headers: bool) -> None:
    # 0.25 s between bytes: requests' per-read timeout of 1 s would wait ~14 s per attempt
    server = Dribbler(interval=0.25, slow_headers=slow_headers)
    heard: list[BaseException] = []
    try:
        client = HttpClient(
            server.url, timeout=1.0, policy=RetryPolicy(max_attempts=2, sleep=lambda s: None)
        )
        started = time.monotonic()
        with pytest.raises(HttpError) as info:
            client.request("GET", "/slow", on_retry=lambda n, e: heard.append(e))
        elapsed = time.monotonic() - started
    finally:
        server.stop()
    assert info.value.retryable
    assert "timed out" in str(info.value) and "within 1 s" in str(info.value)
    assert server.requests == 2 and len(heard) == 1  # retried once, as a timeout
    assert elapsed < 4.0, f"two 1 s attempts took {elapsed:.1f} s"


def test_a_quick_answer_is_not_cut_off_by_the_deadline(origin: Recorder) -> None:
    client = HttpClient(origin.url, timeout=0.5)
    for _ in range(3):
        assert client.get_json("/fine") == {"ok": True}
    time.sleep(0.7)  # the deadlines of those requests pass: the kept connection still works
    assert client.get_json("/again") == {"ok": True}
    assert len(origin.seen) == 4
