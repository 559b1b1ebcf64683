"""A server of the test's own on 127.0.0.1 for faults no real server can be made to show on
cue (a body dribbled, cut off, redirects anywhere): each GET is answered by a Python function.

Fixture (registered through tests/conftest.py): `serve_faults(behaviour)` starts one; all
are stopped after the test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

Behaviour = Callable[[BaseHTTPRequestHandler], None]


class FaultyServer:
    """Answers every GET with `behaviour`; counts the requests it got."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                outer.requests.append(self.path)
                behaviour(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve_faults() -> Iterator[Callable[[Behaviour], FaultyServer]]:
    started: list[FaultyServer] = []

    def start(behaviour: Behaviour) -> FaultyServer:
        server = FaultyServer(behaviour)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
