"""`[media]` downloads against a homeserver that misbehaves as no real Synapse can be made to
on cue (a test server of our own on 127.0.0.1): a body dribbled at 10 bytes a second, a
redirect to another origin, a redirect loop, a body cut off before its Content-Length.
Each ends that file within the deadline with a plain reason; nothing from another origin is
saved, and the run never hangs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from migrate.media import MediaMirror, MediaUnavailable
from tests.servers.faulty import Behaviour, FaultyServer
from utils.retry import RetryPolicy

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
BASE_URL = "https://blog.example/media/"


def png(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "image/png")
    handler.send_header("Content-Length", str(len(PNG)))
    handler.end_headers()
    handler.wfile.write(PNG)


def redirect_to(location: str) -> Behaviour:
    def behaviour(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return behaviour


def mirror(tmp_path: Path, homeserver: str, *, timeout: float = 10.0) -> MediaMirror:
    copies = MediaMirror(
        tmp_path / "media",
        BASE_URL,
        homeserver=homeserver,
        timeout=timeout,
        policy=RetryPolicy(max_attempts=2, sleep=lambda _: None),
    )
    copies.start()
    return copies


def within(seconds: float, action: Callable[[], object]) -> object:
    """`action`'s result (or the exception it raised), failing the test if it takes longer
    than `seconds` (the thread is left behind, as a hung run would be)."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(action())
        except Exception as exc:  # the caller looks at what was raised
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still downloading after {seconds} s"
    return outcome[0]


def test_a_dribbling_server_meets_a_deadline_for_the_whole_download(
    serve_faults: Callable[[Behaviour], FaultyServer], tmp_path: Path
) -> None:
    def dribble(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.send_header("Content-Length", "10000")
        handler.end_headers()
        for _ in range(1000):  # 10 bytes a second: each read is quick, the whole is not
            try:
                handler.wfile.write(b"x" * 10)
                handler.wfile.flush()
            except OSError:
                return
            time.sleep(1)

    server = serve_faults(dribble)
    copies = mirror(tmp_path, server.url, timeout=1.5)
    started = time.monotonic()
    outcome = within(20, lambda: copies.url_for("mxc://hs.example/slow"))
    assert isinstance(outcome, MediaUnavailable) and outcome.retryable
    assert "mxc://hs.example/slow" in outcome.message and "1.5 s" in outcome.message
    assert time.monotonic() - started < 10  # two attempts of 1.5 s, not 1000 s
    assert [p.name for p in (tmp_path / "media").iterdir()] == []  # no half file left


def test_a_redirect_to_another_origin_is_not_followed(
    serve_faults: Callable[[Behaviour], FaultyServer],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    elsewhere = serve_faults(png)  # another port of the same host is another origin
    homeserver = serve_faults(redirect_to(f"{elsewhere.url}/internal/secret.png"))
    copies = mirror(tmp_path, homeserver.url)
    with caplog.at_level(logging.WARNING, logger="migrate.media"):
        assert within(10, lambda: copies.url_for("mxc://hs.example/moved")) is None
    assert elsewhere.requests == []
    assert list((tmp_path / "media").iterdir()) == []
    assert "redirected to another origin" in caplog.text and elsewhere.url in caplog.text


def test_a_redirect_within_the_homeserver_is_followed(
    serve_faults: Callable[[Behaviour], FaultyServer], tmp_path: Path
) -> None:
    def moved_once(handler: BaseHTTPRequestHandler) -> None:
        if handler.path.startswith("/store/"):
            png(handler)
        else:
            redirect_to("/store/abc.png")(handler)

    server = serve_faults(moved_once)
    copies = mirror(tmp_path, server.url)
    url = within(10, lambda: copies.url_for("mxc://hs.example/moved"))
    assert isinstance(url, str) and url.startswith(BASE_URL)
    assert (tmp_path / "media" / url.removeprefix(BASE_URL)).read_bytes() == PNG


def test_a_redirect_loop_fails_that_file_with_a_plain_reason(
    serve_faults: Callable[[Behaviour], FaultyServer],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = serve_faults(redirect_to("/_matrix/client/v1/media/download/hs.example/loop"))
    copies = mirror(tmp_path, server.url)
    with caplog.at_level(logging.WARNING, logger="migrate.media"):
        assert within(10, lambda: copies.url_for("mxc://hs.example/loop")) is None
    assert "too many redirects" in caplog.text and "mxc://hs.example/loop" in caplog.text
    assert len(server.requests) < 30  # a few hops per endpoint, not requests' 30 each
    assert list((tmp_path / "media").iterdir()) == []


def test_a_body_cut_off_fails_that_file_with_a_plain_reason(
    serve_faults: Callable[[Behaviour], FaultyServer], tmp_path: Path
) -> None:
    def truncated(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.send_header("Content-Length", str(len(PNG)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(PNG[: len(PNG) // 2])
        handler.close_connection = True

    server = serve_faults(truncated)
    copies = mirror(tmp_path, server.url)
    outcome = within(10, lambda: copies.url_for("mxc://hs.example/cut"))
    assert isinstance(outcome, MediaUnavailable), outcome
    assert outcome.message.startswith("mxc://hs.example/cut: ")
    assert "cut off" in outcome.message and "Error" not in outcome.message
    assert len(server.requests) == 2  # retried once by the policy
    assert list((tmp_path / "media").iterdir()) == []
