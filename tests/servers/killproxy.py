"""A forwarding proxy that kills the migration at the worst moment.

It relays every request to an upstream target (Isso, the contract server). With
`drop_posts`, it lets the upstream store chosen POSTs and then drops their answers, so the
client retries a request that already took effect. When armed with
`kill_after_post=N` and a PID, it forwards the Nth POST, lets the upstream accept and store
the comment, then SIGKILLs the migration process before relaying the answer: the comment is
in the target, and the migration never learned its id. That is the window the
no-duplicates protocol must close. Bound to 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import logging
import os
import signal
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


class KillProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.upstream_path = parts.path.rstrip("/")
        self.lock = threading.Lock()
        self.posts = 0
        self.kill_after_post: int | None = None
        self.pid: int | None = None
        self.kills = 0
        # POST numbers (1 = the first POST) whose answer is dropped after the upstream stored
        # it: the client sees a reset connection and retries, with no process killed
        self.drop_posts: set[int] = set()
        self.dropped = 0
        # path substring -> status answered instead of forwarding (a failing upstream), as
        # often as fail_times says for that substring (always when it is not there)
        self.fail_paths: dict[str, int] = {}
        self.fail_times: dict[str, int] = {}
        # (method, path, upstream body) -> the body to answer instead, or None to relay it
        self.rewrite: Callable[[str, str, bytes], bytes | None] | None = None
        self.log: list[tuple[str, str]] = []  # (method, path) of every request, in order
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def _relay(self) -> None:
                with proxy.lock:
                    proxy.log.append((self.command, self.path))
                failing = proxy._failure_for(self.path)
                if failing:
                    length = int(self.headers.get("Content-Length") or 0)
                    if length:
                        self.rfile.read(length)
                    refusal = (
                        b'{"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests", '
                        b'"retry_after_ms": 1500}'
                        if failing[0] == 429
                        else b'{"errcode": "M_UNKNOWN", "error": "injected failure"}'
                    )
                    self.send_response(failing[0])
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(refusal)))
                    self.end_headers()
                    self.wfile.write(refusal)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                conn = http.client.HTTPConnection(
                    proxy.upstream_host, proxy.upstream_port, timeout=30
                )
                try:
                    conn.request(self.command, proxy.upstream_path + self.path, body, headers)
                    response = conn.getresponse()
                    payload = response.read()
                finally:
                    conn.close()
                if proxy.rewrite is not None:
                    payload = proxy.rewrite(self.command, self.path, payload) or payload
                if self.command == "POST" and proxy._should_drop():
                    # accepted upstream; the client dies before it hears the id
                    self.close_connection = True
                    return
                self.send_response(response.status, response.reason)
                for key, value in response.getheaders():
                    if key.lower() not in HOP_HEADERS and key.lower() != "set-cookie":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = do_PUT = _relay

        class QuietServer(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client killed mid-request is the point of this server

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _failure_for(self, path: str) -> list[int]:
        with self.lock:
            for part, status in self.fail_paths.items():
                if part not in path:
                    continue
                left = self.fail_times.get(part)
                if left is None:
                    return [status]
                if left > 0:
                    self.fail_times[part] = left - 1
                    return [status]
        return []

    def _should_drop(self) -> bool:
        with self.lock:
            self.posts += 1
            if self.posts in self.drop_posts:
                self.dropped += 1
                return True
        return self._should_kill()

    def _should_kill(self) -> bool:
        with self.lock:
            if self.kill_after_post is None or self.pid is None:
                return False
            if self.posts < self.kill_after_post:
                return False
            pid, self.pid, self.kill_after_post = self.pid, None, None
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return False
        self.kills += 1
        logger.debug("killed pid %d after POST %d", pid, self.posts)
        return True

    def arm(self, pid: int, after_posts: int) -> None:
        """Kill `pid` right after the upstream accepts the `after_posts`-th POST from now."""
        with self.lock:
            self.pid = pid
            self.kill_after_post = self.posts + after_posts

    def disarm(self) -> None:
        with self.lock:
            self.pid = None
            self.kill_after_post = None

    def start(self) -> KillProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
