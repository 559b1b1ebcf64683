"""One HTTP attempt's deadline: a whole request, body included, ends when its time is up.

requests' own timeout bounds each read, so a server that dribbles its answer a few bytes at a
time is never cut off by it. Here each attempt `arm`s a Deadline; the connections of the
`DeadlineAdapter` attach themselves to the deadline of the thread's attempt, and one watchdog
thread shuts an attempt's socket down when its time is up, which ends any read in progress.
utils/http.py is the only user.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from typing import Any

import requests
import requests.adapters
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class Deadline:
    """One attempt's end: past it, the attempt's connection is shut down, which ends any
    read in progress (requests' own timeout only bounds each read)."""

    __slots__ = ("conn", "done", "expired", "lock", "when")

    def __init__(self, when: float) -> None:
        self.when = when
        self.conn: HTTPConnection | None = None
        self.expired = False
        self.done = False
        self.lock = threading.Lock()

    def attach(self, conn: HTTPConnection) -> None:
        with self.lock:
            self.conn = conn
            if self.expired:  # the time ran out while connecting
                _shut_down(conn)

    def expire(self) -> None:
        with self.lock:
            if self.done:
                return
            self.expired = True
            if self.conn is not None:
                _shut_down(self.conn)

    def finish(self) -> None:
        with self.lock:
            self.done = True


def _shut_down(conn: HTTPConnection) -> None:
    sock = conn.sock
    if sock is not None:
        # shutdown, not close: it wakes the blocked reader and leaves the descriptor to it
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread for all deadlines of the process (a heap, so arming is cheap)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def arm(self, deadline: Deadline) -> None:
        with self._wake:
            heapq.heappush(self._heap, (deadline.when, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="http-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is deadline:
                self._wake.notify()

    def _run(self) -> None:
        with self._wake:
            while True:
                now = time.monotonic()
                while self._heap and (self._heap[0][2].done or self._heap[0][0] <= now):
                    _, _, deadline = heapq.heappop(self._heap)
                    deadline.expire()
                self._wake.wait(self._heap[0][0] - now if self._heap else None)


_watchdog = _Watchdog()
_attempt = threading.local()  # the deadline of the request this thread is making


class _WatchedHTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        deadline: Deadline | None = getattr(_attempt, "deadline", None)
        if deadline is not None:
            deadline.attach(self)
        super().request(*args, **kwargs)
        if deadline is not None:
            deadline.attach(self)  # connected by now: shut at once if the time already ran out


class _WatchedHTTPSConnection(HTTPSConnection, _WatchedHTTPConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class DeadlineAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter, with connections the watchdog can shut down."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is urllib3.ProxyManager:  # SOCKS pools keep their own connections
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


def arm(timeout: float) -> Deadline:
    """The deadline of one attempt starting now, watched, for this thread's requests."""
    deadline = Deadline(time.monotonic() + timeout)
    _watchdog.arm(deadline)
    _attempt.deadline = deadline
    return deadline


def disarm(deadline: Deadline) -> None:
    """The attempt is over (its answer read, or failed): its deadline no longer applies."""
    deadline.finish()
    _attempt.deadline = None
