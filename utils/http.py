"""The one HTTP client, shared by the Matrix source and every HTTP target.

It wraps requests with the retry policy of utils/retry.py, a per-thread session (workers
share a client, not a connection), an optional bearer token that is never logged, and an
optional cookie-less mode (Isso sets cookies on every POST and answers 431 once a session
has collected a few hundred of them).

Contract:
- `timeout` bounds each attempt as a whole (connect, send, headers and body), not each read:
  a server that dribbles its answer is cut off when the time is up, and the policy retries
  that as a timeout. A watchdog thread shuts the attempt's socket down at its deadline.
- Every HttpError's message and body pass through utils.redact: the client's token and any
  other registered secret never appear in them, even when a server echoes the request's
  headers or requests quotes a header value in an exception.
- Failures of requests itself that no retry can mend (an invalid header or URL) are
  HttpError too, not retryable.
"""

from __future__ import annotations

import contextlib
import heapq
import http.cookiejar
import itertools
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

import requests
import requests.adapters
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from utils.redact import redact, redact_value, register_secret
from utils.retry import RetryableError, RetryPolicy, is_retryable_status, parse_retry_after

log = logging.getLogger(__name__)

USER_AGENT = "comment-migrate/0.1"


class HttpError(Exception):
    """A request that failed for good: after retries, or with a non-retryable status."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        url: str = "",
        retryable: bool = False,
        body: Any = None,
    ) -> None:
        message = redact(message)  # server bodies and exception texts may echo a secret
        super().__init__(message)
        self.message = message
        self.status = status
        self.url = redact(url)
        self.retryable = retryable
        self.body = redact_value(body)

    @property
    def errcode(self) -> str | None:
        """Matrix's machine-readable error code, when the body has one."""
        if isinstance(self.body, dict):
            code = self.body.get("errcode")
            return code if isinstance(code, str) else None
        return None


def server_message(response: requests.Response) -> tuple[str, Any]:
    """The server's own words for an error: a JSON `error`/`message` field, else the text."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("error", "message", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value, body
    text = redact(response.text.strip())  # before cutting, or half a secret could remain
    return (text[:500] if text else response.reason or "no message"), body


def _retry_after(response: requests.Response, body: Any) -> float | None:
    header = parse_retry_after(response.headers.get("Retry-After"))
    if header is not None:
        return header
    if isinstance(body, dict) and isinstance(body.get("retry_after_ms"), int | float):
        return float(body["retry_after_ms"]) / 1000.0
    return None


# failures a later attempt may not meet; the rest of requests' errors are the request's own
_TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


class _RetryableHttp(RetryableError):
    def __init__(self, error: HttpError, retry_after: float | None = None) -> None:
        super().__init__(str(error), retry_after)
        self.error = error


class _Deadline:
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
        self._heap: list[tuple[float, int, _Deadline]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def arm(self, deadline: _Deadline) -> None:
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
        deadline: _Deadline | None = getattr(_attempt, "deadline", None)
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


class _DeadlineAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter, with connections the watchdog can shut down."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is urllib3.ProxyManager:  # SOCKS pools keep their own connections
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


def _keep_head(response: requests.Response, limit: int) -> None:
    """Read at most `limit` bytes of a streamed body into `response.content`, then close
    the connection (the rest is never read, however much the server has)."""
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(min(limit, 64 * 1024) or 1):
            chunks.append(chunk[: limit - size])
            size += len(chunk)
            if size >= limit:
                break
    finally:
        response.close()
    response._content = b"".join(chunks)  # what requests keeps a read body in


class HttpClient:
    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
        keep_cookies: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.keep_cookies = keep_cookies
        self.headers = {"User-Agent": USER_AGENT, **(headers or {})}
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never show the token
        return f"HttpClient({self.base_url!r})"

    @property
    def token(self) -> str | None:
        return self._token

    @token.setter
    def token(self, value: str | None) -> None:
        # whoever sets it (a caller, a guest registration), the token is never shown
        if value:
            register_secret(value)
        self._token = value

    def session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            # requests re-reads the proxy and CA variables on every request (two scans of the
            # environment, a sizeable share of a loopback request); this client talks to one
            # host, so the answer is fixed: resolve it once, the same way requests would
            session.trust_env = False
            session.mount("http://", _DeadlineAdapter())
            session.mount("https://", _DeadlineAdapter())
            session.proxies.update(requests.utils.get_environ_proxies(self.base_url))
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            if bundle:
                session.verify = bundle
            if not self.keep_cookies:
                session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        ok: Collection[int] = (200, 201, 204),
        retry: bool = True,
        on_retry: Callable[[int, BaseException], None] | None = None,
        before_resend: Callable[[], None] | None = None,
        max_bytes: int | None = None,
    ) -> requests.Response:
        """Send one request, retried by the policy. Statuses in `ok` are returned;
        anything else raises HttpError with the server's message.

        `max_bytes`: read at most that much of the body (decoded), whatever the server sends
        or announces; the connection is then closed, and `response.content` is that head.

        `before_resend` runs before every attempt after the first: for a request that is not
        idempotent, it can look whether the server acted on the lost attempt after all, and
        raise to stop the resend."""
        url = self.url(path)
        all_headers = dict(self.headers)
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        if headers:
            all_headers.update(headers)
        body_bytes = data
        if json_body is not None:
            body_bytes = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            all_headers.setdefault("Content-Type", "application/json")

        attempts = 0

        def attempt() -> requests.Response:
            nonlocal attempts
            attempts += 1
            if attempts > 1 and before_resend is not None:
                before_resend()
            deadline = _Deadline(time.monotonic() + self.timeout)
            _watchdog.arm(deadline)
            _attempt.deadline = deadline
            try:
                response = self.session().request(
                    method,
                    url,
                    params=params,
                    data=body_bytes,
                    headers=all_headers,
                    timeout=self.timeout,
                    stream=max_bytes is not None,
                )
                if max_bytes is not None:
                    _keep_head(response, max_bytes)  # within the attempt's deadline
            except requests.RequestException as exc:
                if deadline.expired:
                    error = HttpError(
                        f"{method} {url}: timed out: no complete answer within {self.timeout:g} s",
                        url=url,
                        retryable=True,
                    )
                    raise _RetryableHttp(error) from exc
                message = f"{method} {url}: {type(exc).__name__}: {exc}"
                if isinstance(exc, _TRANSIENT):
                    raise _RetryableHttp(HttpError(message, url=url, retryable=True)) from exc
                raise HttpError(message, url=url) from exc  # an invalid header, URL, ...
            finally:
                deadline.finish()
                _attempt.deadline = None
            if response.status_code in ok:
                return response
            message, body = server_message(response)
            retryable = is_retryable_status(response.status_code)
            error = HttpError(
                f"{method} {url} -> {response.status_code}: {message}",
                status=response.status_code,
                url=url,
                retryable=retryable,
                body=body,
            )
            if retryable:
                raise _RetryableHttp(error, _retry_after(response, body))
            raise error

        def log_retry(attempt_number: int, error: BaseException) -> None:
            log.debug("retrying after attempt %d: %s", attempt_number, error)
            if on_retry is not None:
                on_retry(attempt_number, error)

        try:
            if not retry:
                return attempt()
            return self.policy.call(attempt, on_retry=log_retry)
        except _RetryableHttp as exc:
            raise exc.error from exc

    def get_json(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs).json()

    def post_json(self, path: str, body: Any, **kwargs: Any) -> Any:
        response = self.request("POST", path, json_body=body, **kwargs)
        return response.json() if response.content else None

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()
        self._local = threading.local()
