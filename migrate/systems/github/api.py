"""GitHub's GraphQL API within its limits, through the project's HTTP client.

GitHub's two kinds of limit (docs.github.com, "Rate limits for the GraphQL API"):
- the primary one, points per hour: every answer says what is left in `x-ratelimit-remaining`
  and when it refills in `x-ratelimit-reset` (epoch seconds). Once it is spent, GitHub answers
  200 with a RATE_LIMITED error and `x-ratelimit-remaining: 0`. Nothing is sent before the
  reset once the remainder is 0.
- the secondary ones, on content creation (80 requests a minute, 500 an hour by default here,
  `per_minute` / `per_hour`): creations are paced below them (utils.pace). GitHub answers a
  secondary limit with 403 or 429 (REST style: a `message` naming it), or 200 with a GraphQL
  error naming it. The request was not carried out.
Either kind is waited out as told: `retry-after`, else `x-ratelimit-reset` when nothing is
left, else a minute; then the same request goes again. These waits are not failed attempts:
a run at GitHub's pace takes hours and must not give up after six limits. Connection errors,
timeouts and 5xx go through the project's retry policy, with a look before a creation is
resent (an answer lost after GitHub created the comment).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import requests

from utils.http import HttpClient, HttpError
from utils.pace import Pacer
from utils.retry import RetryPolicy, parse_retry_after

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com/graphql"
DEFAULT_WAIT = 60.0  # GitHub: without retry-after or a reset, wait at least a minute
_SECONDARY_WORDS = ("secondary rate limit", "abuse")


class GraphQLFailed(HttpError):
    """GitHub answered with GraphQL errors (not a limit): `types` says which (NOT_FOUND,
    FORBIDDEN, UNPROCESSABLE, ...)."""

    def __init__(self, message: str, *, url: str, types: tuple[str, ...]) -> None:
        super().__init__(message, status=200, url=url)
        self.types = types


class GitHubGraphQL:
    def __init__(
        self,
        url: str,
        *,
        token: str | None,
        pacer: Pacer,
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.url = url
        self.client = HttpClient(url, token=token, timeout=timeout, policy=policy)
        self.pacer = pacer
        self.remaining: int | None = None  # primary points left, as last told
        self.reset_at = 0.0  # when they refill (epoch seconds)
        self.limits_met = 0  # limit answers waited out, for reports
        self._lock = threading.Lock()

    def call(
        self,
        document: str,
        variables: Mapping[str, Any] | None = None,
        *,
        creates: bool = False,
        before_resend: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """Run one query or mutation; its `data`. `creates`: it creates content (paced, and
        counted against the secondary limits). Raises GraphQLFailed or HttpError."""
        body = {"query": document, "variables": dict(variables or {})}
        while True:
            self._respect_primary()
            if creates:
                self.pacer.acquire()
            else:
                self.pacer.wait_for_hold()
            response = self.client.request(
                "POST", "", json_body=body, ok=(200, 401, 403, 429), before_resend=before_resend
            )
            wait = self._limit_wait(response)
            if wait is None:
                data = self._data(response)
                self._note_rate(data.get("rateLimit"))
                return data
            self.limits_met += 1
            now = self.pacer.clock()
            self.pacer.hold_until(now + wait[0], wait[1])

    def _respect_primary(self) -> None:
        with self._lock:
            spent = self.remaining == 0 and self.reset_at > self.pacer.clock()
            reset_at = self.reset_at
        if spent:
            self.pacer.hold_until(reset_at + 1, "GitHub's hourly points are spent")

    def _note_headers(self, response: requests.Response) -> None:
        remaining = _number(response.headers.get("x-ratelimit-remaining"))
        reset = _number(response.headers.get("x-ratelimit-reset"))
        with self._lock:
            if remaining is not None:
                self.remaining = int(remaining)
            if reset is not None:
                self.reset_at = reset

    def _note_rate(self, rate: Any) -> None:
        """A query's own `rateLimit { remaining resetAt }`: the same budget as the headers,
        and it survives proxies that drop headers."""
        if not isinstance(rate, dict) or not isinstance(rate.get("remaining"), int):
            return
        try:
            reset = datetime.fromisoformat(str(rate["resetAt"]).replace("Z", "+00:00"))
        except (KeyError, ValueError):
            return
        with self._lock:
            self.remaining, self.reset_at = rate["remaining"], reset.timestamp()

    def _told_wait(self, response: requests.Response) -> float:
        """How long GitHub says to wait: retry-after, else until the reset when nothing is
        left, else a minute."""
        after = parse_retry_after(response.headers.get("retry-after"))
        if after is not None:
            return after
        now = self.pacer.clock()
        with self._lock:
            if self.remaining == 0 and self.reset_at > now:
                return self.reset_at - now + 1
        return DEFAULT_WAIT

    def _limit_wait(self, response: requests.Response) -> tuple[float, str] | None:
        """(seconds, what) when the answer is a limit, None otherwise."""
        self._note_headers(response)
        try:
            payload: Any = response.json()
        except ValueError:
            payload = None
        if response.status_code in (403, 429):
            message = str(payload.get("message", "")) if isinstance(payload, dict) else ""
            secondary = any(w in message.lower() for w in _SECONDARY_WORDS)
            if secondary or response.status_code == 429 or "retry-after" in response.headers:
                return self._told_wait(response), "GitHub's secondary rate limit"
            if self.remaining == 0:
                return self._told_wait(response), "GitHub's hourly points are spent"
            return None  # a refusal: _data reports it
        for error in _errors(payload):
            message = str(error.get("message", "")).lower()
            if any(w in message for w in _SECONDARY_WORDS):
                return self._told_wait(response), "GitHub's secondary rate limit"
            if error.get("type") == "RATE_LIMITED" or "rate limit" in message:
                return self._told_wait(response), "GitHub's hourly points are spent"
        return None

    def _data(self, response: requests.Response) -> dict[str, Any]:
        try:
            payload: Any = response.json()
        except ValueError:
            payload = None
        if response.status_code != 200 or not isinstance(payload, dict):
            message = payload.get("message") if isinstance(payload, dict) else None
            raise HttpError(
                f"POST {self.url} -> {response.status_code}: {message or response.reason}",
                status=response.status_code,
                url=self.url,
                body=payload,
            )
        errors = _errors(payload)
        if errors:
            types = tuple(str(e.get("type") or "ERROR") for e in errors)
            text = "; ".join(str(e.get("message", "")) for e in errors)
            raise GraphQLFailed(f"GitHub refused it: {text}", url=self.url, types=types)
        data = payload.get("data")
        if not isinstance(data, dict):
            raise HttpError(f"POST {self.url}: an answer without data", url=self.url)
        return data

    def close(self) -> None:
        self.client.close()


def _errors(payload: Any) -> list[dict[str, Any]]:
    if not isinstance(payload, dict) or not isinstance(payload.get("errors"), list):
        return []
    return [e for e in payload["errors"] if isinstance(e, dict)]


def _number(value: str | None) -> float | None:
    try:
        return None if value is None else float(value)
    except ValueError:
        return None
