"""utils.pace: sends within several windows at once, holds a service asked for, and the
pace kept across a restart (a fake clock: nothing really waits)."""

from __future__ import annotations

import io
import itertools
import os
import signal
from pathlib import Path

import pytest

from migrate.reporter import Reporter
from utils.pace import (
    Pacer,
    WaitInterrupted,
    add_wait_listener,
    read_pace,
    remove_wait_listener,
    simulate_end,
)
from utils.signals import GracefulInterrupt


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def sends(pacer: Pacer, n: int) -> list[float]:
    times = []
    for _ in range(n):
        pacer.acquire()
        times.append(pacer.clock())
    return times


def test_sends_are_spaced_by_the_minute_and_stop_at_the_hour() -> None:
    fake = FakeTime()
    pacer = Pacer([(80, 60.0), (500, 3600.0)], clock=fake.clock, sleep=fake.sleep)
    times = sends(pacer, 501)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps[:499]) >= 0.75 - 1e-9  # evenly, 80 a minute
    assert all(sum(1 for t in times if start <= t < start + 60) <= 80 for start in times)
    # the 501st waits until the hour's first has aged out
    assert times[500] >= times[0] + 3600 - 1e-6
    assert times[499] - times[0] < 400  # not spread thin over the hour in advance


def test_a_loose_long_limit_does_not_speed_up_the_short_one() -> None:
    fake = FakeTime()
    pacer = Pacer([(240, 60.0), (1_000_000, 3600.0)], clock=fake.clock, sleep=fake.sleep)
    times = sends(pacer, 241)
    assert times[-1] - times[0] >= 60 - 1e-6
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.25 - 1e-9


def test_a_hold_stops_every_send_until_its_time() -> None:
    fake = FakeTime()
    pacer = Pacer([(80, 60.0)], clock=fake.clock, sleep=fake.sleep)
    pacer.acquire()
    pacer.hold_until(fake.now + 42, "a limit")
    heard: list[tuple[float, str]] = []

    def listen(seconds: float, reason: str) -> None:
        heard.append((seconds, reason))

    add_wait_listener(listen)
    try:
        start = fake.now
        pacer.wait_for_hold()
        assert fake.now >= start + 42
        assert heard[0][0] >= 41 and "limit" in heard[0][1] and heard[-1] == (0.0, "")
    finally:
        remove_wait_listener(listen)


def test_a_restarted_pacer_keeps_the_pace_the_service_still_counts(tmp_path: Path) -> None:
    fake = FakeTime()
    store = tmp_path / "cp.json.pace.json"
    first = Pacer([(5, 60.0)], store=store, clock=fake.clock, sleep=fake.sleep)
    times = sends(first, 5)
    first.hold_until(fake.now + 10, "told")
    again = Pacer([(5, 60.0)], store=store, clock=fake.clock, sleep=fake.sleep)
    again.acquire()  # a sixth within the minute must wait for the first to age out
    assert fake.now >= times[0] + 60
    state = read_pace(store)
    # the first aged out of the window; the new one is kept, and so is the hold
    assert state is not None and state.sent == [*times[1:], fake.now]
    assert state.hold_until >= times[-1] + 10
    store.write_text("not json")
    assert read_pace(store) is None  # a damaged pace file costs the pace, never the run


def test_the_expected_end_follows_the_limits() -> None:
    now = 1_800_000_000.0
    hour = [(500, 3600.0), (80, 60.0)]
    # 10,000 creations at 500 an hour: about 20 hours
    end = simulate_end([], hour, 0.0, 10_000, now)
    assert 19 * 3600 < end - now < 20 * 3600
    assert simulate_end([], hour, now + 100, 1, now) == now + 100


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_wait_shows_on_the_progress_bar() -> None:
    fake = FakeTime()
    screen = _Terminal()
    reporter = Reporter(stream=screen)
    reporter.start(1)
    try:
        pacer = Pacer([(80, 60.0)], clock=fake.clock, sleep=fake.sleep)
        pacer.hold_until(fake.now + 90, "GitHub's secondary rate limit")
        pacer.wait_for_hold()
    finally:
        reporter.close()
    assert "waiting for a limit until" in screen.getvalue()
    assert "(90 s)" in screen.getvalue()


def test_a_graceful_stop_ends_a_long_wait_unsent() -> None:
    fake = FakeTime()
    pacer = Pacer([(1, 3600.0)], clock=fake.clock, sleep=fake.sleep)
    pacer.acquire()
    with GracefulInterrupt() as interrupt:

        def stop_while_asleep(seconds: float) -> None:
            os.kill(os.getpid(), signal.SIGINT)  # the first Ctrl-C, during the wait
            fake.sleep(seconds)

        pacer.sleep = stop_while_asleep
        with pytest.raises(WaitInterrupted):
            pacer.acquire()  # would wait an hour
        assert interrupt.stop.is_set()
    assert fake.now < 1_800_000_000.0 + 60  # it did not sit out the hour
    assert len(pacer._sent) == 1  # the interrupted send was not counted
    with GracefulInterrupt():
        pacer.sleep = fake.sleep
        pacer.acquire()  # a new run waits again as usual
