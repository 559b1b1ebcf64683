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
  HttpError too, not retryable; an answer cut off before its end is retryable, with that
  plain reason.
- `stream` (downloads) keeps the same deadline over the whole body and follows redirects
  only within the client's own origin, a few hops at most (a hostile server must not make
  the tool fetch, and publish, another host's answer).
"""

from __future__ import annotations

import http.cookiejar
import json
import logging
import os
import threading
import urllib.parse
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

import requests

from utils.deadline import Deadline, DeadlineAdapter, arm, disarm
from utils.redact import redact, redact_value, register_secret
from utils.retry import RetryableError, RetryPolicy, is_retryable_status, parse_retry_after

log = logging.getLogger(__name__)

USER_AGENT = "comment-migrate/0.1"
T = TypeVar("T")


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


def _status_error(method: str, url: str, response: requests.Response) -> Exception:
    """The HttpError of an answer that is not a success (wrapped for a retry when one may
    mend it)."""
    message, body = server_message(response)
    retryable = is_retryable_status(response.status_code)
    error = HttpError(
        f"{method} {url} -> {response.status_code}: {message}",
        status=response.status_code,
        url=url,
        retryable=retryable,
        body=body,
    )
    return _RetryableHttp(error, _retry_after(response, body)) if retryable else error


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:  # a port that is no number: an origin of its own, never ours
        port = -1
    return scheme, (parts.hostname or "").lower(), port


class _RetryableHttp(RetryableError):
    def __init__(self, error: HttpError, retry_after: float | None = None) -> None:
        super().__init__(str(error), retry_after)
        self.error = error


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
            session.mount("http://", DeadlineAdapter())
            session.mount("https://", DeadlineAdapter())
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
            deadline = arm(self.timeout)
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
                raise self._failure(method, url, exc, deadline) from exc
            finally:
                disarm(deadline)
            if response.status_code in ok:
                return response
            raise _status_error(method, url, response)

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

    def stream(
        self,
        path: str,
        receive: Callable[[requests.Response], T],
        *,
        max_redirects: int = 5,
    ) -> T:
        """GET `path` and hand its 200 answer to `receive` while the body is still coming
        (a download). The deadline (`timeout`) bounds the whole exchange, body and redirects
        included; redirects are followed only within this client's origin (scheme, host and
        port of `base_url`), at most `max_redirects`: anywhere else, or more, is an HttpError
        that no retry mends. A body cut off before its Content-Length is retried like a
        dropped connection. Other statuses: as `request`."""
        first = self.url(path)
        headers = dict(self.headers)
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        origin = _origin(self.base_url)

        def attempt() -> T:
            url = first
            deadline = arm(self.timeout)
            try:
                for _ in range(max_redirects + 1):
                    response = self.session().get(
                        url, headers=headers, stream=True, timeout=self.timeout,
                        allow_redirects=False,
                    )  # fmt: skip
                    with response:
                        if not response.is_redirect:
                            if response.status_code != 200:
                                raise _status_error("GET", url, response)
                            return receive(response)
                        location = urllib.parse.urljoin(url, response.headers["Location"])
                    if _origin(location) != origin:
                        raise HttpError(
                            f"GET {url}: redirected to another origin ({location}): not followed",
                            status=response.status_code,
                            url=url,
                        )
                    url = location
                raise HttpError(f"GET {first}: too many redirects (more than {max_redirects})",
                                url=first)  # fmt: skip
            except requests.RequestException as exc:
                raise self._failure("GET", url, exc, deadline) from exc
            finally:
                disarm(deadline)

        try:
            return self.policy.call(attempt)
        except _RetryableHttp as exc:
            raise exc.error from exc

    def _failure(
        self, method: str, url: str, exc: requests.RequestException, deadline: Deadline
    ) -> Exception:
        """What a failure of requests itself means: retryable unless no attempt can mend it."""
        if deadline.expired:
            error = HttpError(
                f"{method} {url}: timed out: no complete answer within {self.timeout:g} s",
                url=url,
                retryable=True,
            )
            return _RetryableHttp(error)
        if isinstance(exc, requests.exceptions.ChunkedEncodingError):
            message = f"{method} {url}: the answer was cut off before its end"
            return _RetryableHttp(HttpError(message, url=url, retryable=True))
        message = f"{method} {url}: {type(exc).__name__}: {exc}"
        if isinstance(exc, _TRANSIENT):
            return _RetryableHttp(HttpError(message, url=url, retryable=True))
        return HttpError(message, url=url)  # an invalid header, URL, ...

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
