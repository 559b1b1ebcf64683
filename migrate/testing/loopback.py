"""A threaded HTTP/1.1 server on 127.0.0.1 that hands each request to a Python object.

The object's `handle(method, path, headers, raw)` returns an `Answer` (status, body, extra
headers): a dict body goes out as JSON, a str as text/plain, None as an empty body. Raising
`Reset` drops the connection without an answer (a TCP RST), the way a crashed proxy drops a
request. Connections are kept alive, as real APIs do. `serve` binds 127.0.0.1 only.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

logger = logging.getLogger(__name__)

Body = dict[str, Any]
Fault = int | str  # an HTTP status to answer, or "reset" (drop the connection)
Answer = tuple[int, Body | str | None, dict[str, str]]


class Reset(Exception):
    """Answer nothing: drop the connection."""


class Responder(Protocol):
    def handle(self, method: str, path: str, headers: Mapping[str, str], raw: bytes) -> Answer:
        """One request -> (status, JSON body / plain text / nothing, extra headers)."""
        ...


def serve(responder: Responder, port: int = 0) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Start answering on 127.0.0.1:`port` (0: any free port) in a daemon thread."""

    class Handler(_Handler):
        pass

    Handler.responder = responder
    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    logger.debug("serving on 127.0.0.1:%s", httpd.server_address[1])
    return httpd, thread


def answer_fault(fault: Fault) -> Answer:
    """The answer an injected fault gives (429 says Retry-After: 0); "reset" raises Reset."""
    if fault == "reset":
        raise Reset
    status = int(fault)
    headers = {"Retry-After": "0"} if status == 429 else {}
    return status, {"error": f"injected fault {status}"}, headers


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real APIs do
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls
    responder: Responder

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            status, body, extra = self.responder.handle(
                self.command, self.path, dict(self.headers.items()), raw
            )
        except Reset:
            # SO_LINGER 0: closing sends a RST, the way a crashed proxy drops a request
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if body is None:
            payload, kind = b"", None
        elif isinstance(body, str):
            payload, kind = body.encode(), "text/plain"
        else:
            payload, kind = json.dumps(body).encode(), "application/json"
        self.send_response(status)
        if kind:
            self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve
