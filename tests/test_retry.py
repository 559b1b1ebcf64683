"""The one retry policy: what is retried, how long it waits, when it gives up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from utils.retry import RetryableError, RetryPolicy, is_retryable_status, parse_retry_after


def policy(max_attempts: int = 4) -> tuple[RetryPolicy, list[float]]:
    slept: list[float] = []
    return RetryPolicy(max_attempts=max_attempts, sleep=slept.append), slept


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 599])
def test_transient_statuses_are_retryable(status: int) -> None:
    assert is_retryable_status(status)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422])
def test_client_errors_are_not_retryable(status: int) -> None:
    assert not is_retryable_status(status)


def test_retries_until_success() -> None:
    retry, slept = policy()
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RetryableError("503")
        return "ok"

    assert retry.call(flaky) == "ok"
    assert len(calls) == 3 and len(slept) == 2


def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    retry, slept = policy(max_attempts=3)
    calls = []

    def down() -> None:
        calls.append(1)
        raise RetryableError(f"attempt {len(calls)}")

    with pytest.raises(RetryableError, match="attempt 3"):
        retry.call(down)
    assert len(calls) == 3 and len(slept) == 2


def test_other_errors_are_not_retried() -> None:
    retry, slept = policy()
    calls = []

    def broken() -> None:
        calls.append(1)
        raise ValueError("400 bad request")

    with pytest.raises(ValueError, match="400"):
        retry.call(broken)
    assert calls == [1] and slept == []


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    retry = RetryPolicy(base_wait=1.0, max_wait=8.0)
    for attempt in range(1, 10):
        ceiling = min(8.0, 2 ** (attempt - 1))
        waits = [retry.wait_for(attempt, None) for _ in range(200)]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling * 0.8  # jitter spreads over the whole range


def test_server_retry_after_is_honoured_but_bounded() -> None:
    retry = RetryPolicy(base_wait=0.01, max_wait=0.02, max_retry_after=60)
    assert retry.wait_for(1, RetryableError("429", retry_after=5)) == 5
    assert retry.wait_for(1, RetryableError("429", retry_after=3600)) == 60


def test_on_retry_hears_each_failed_attempt() -> None:
    retry, _ = policy(max_attempts=3)
    heard: list[int] = []

    def down() -> None:
        raise RetryableError("x")

    with pytest.raises(RetryableError):
        retry.call(down, on_retry=lambda n, e: heard.append(n))
    assert heard == [1, 2]


def test_parse_retry_after() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(later, now=now.timestamp()) == pytest.approx(30)
    earlier = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(earlier, now=now.timestamp()) == 0.0
