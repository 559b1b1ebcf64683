"""The one retry policy: which failures are worth another try, and how long to wait.

Connection errors, timeouts, 429 and 5xx are retried with exponential backoff and full
jitter (tenacity's `wait_random_exponential`), never waiting less than a server's
Retry-After (header, or Matrix's `retry_after_ms`), which is itself capped. Anything else
fails at once. The sleep function is injected so tests never really wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TypeVar

import tenacity
from tenacity.wait import wait_base

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class RetryableError(Exception):
    """A failure worth another attempt; `retry_after` is the server's requested wait."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or 500 <= status <= 599


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class WaitAtLeastRetryAfter(wait_base):
    """Another wait strategy's wait, raised to the server's Retry-After (capped at `cap`)."""

    def __init__(self, backoff: wait_base, cap: float) -> None:
        self.backoff = backoff
        self.cap = cap

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        wait = self.backoff(retry_state)
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None and outcome.failed else None
        if isinstance(error, RetryableError) and error.retry_after is not None:
            wait = max(wait, min(error.retry_after, self.cap))
        return wait


@dataclass
class RetryPolicy:
    max_attempts: int = 6
    base_wait: float = 0.5
    max_wait: float = 30.0
    # a server asking for more than this is treated as this (a stuck Retry-After must not hang us)
    max_retry_after: float = 120.0
    sleep: Callable[[float], None] = time.sleep
    wait: wait_base = field(init=False, repr=False)
    _states: tenacity.Retrying = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.wait = WaitAtLeastRetryAfter(
            tenacity.wait_random_exponential(multiplier=self.base_wait, max=self.max_wait),
            self.max_retry_after,
        )
        self._states = tenacity.Retrying()  # owner of the call states wait_for() builds

    def wait_for(self, attempt: int, error: BaseException | None) -> float:
        """The wait after failed attempt number `attempt` (1 = the first) with `error`."""
        state = tenacity.RetryCallState(self._states, None, (), {})
        state.attempt_number = attempt
        if error is not None:
            state.set_exception((type(error), error, error.__traceback__))
        return self.wait(state)

    def call(
        self, fn: Callable[[], T], on_retry: Callable[[int, BaseException], None] | None = None
    ) -> T:
        """Run fn, retrying RetryableError up to max_attempts; the last error is re-raised."""
        # the first attempt runs bare: nearly every call succeeds at once, and building a
        # tenacity loop for each one costs more than the rest of a loopback request's overhead
        try:
            return fn()
        except RetryableError as first:
            if self.max_attempts <= 1:
                raise
            if on_retry is not None:
                on_retry(1, first)
            self.sleep(self.wait_for(1, first))

        def wait(state: tenacity.RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            return self.wait_for(state.attempt_number + 1, error)

        def before_sleep(state: tenacity.RetryCallState) -> None:
            if on_retry is not None and state.outcome is not None:
                error = state.outcome.exception()
                if error is not None:
                    on_retry(state.attempt_number + 1, error)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts - 1),
            wait=wait,
            retry=tenacity.retry_if_exception_type(RetryableError),
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(fn)
