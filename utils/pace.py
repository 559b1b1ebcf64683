"""A pace under a service's limits: at most N sends per window, for several windows at once.

Used where a service counts what a client creates (GitHub: 80 content-creating requests a
minute and 500 an hour), so the client stays under the limits instead of hitting them:
- sends are spaced evenly by the shortest window (60 s / 80 = 0.75 s), and a send waits
  while any window already holds its limit (the 501st waits for the hour's first to age out);
- `hold_until(t)`: the service said "not before t" (a rate-limit answer): nobody sends
  earlier, whatever the windows say;
- with `store`, the send times of the longest window and the hold are kept in a small JSON
  file (written whole, durably, after each send), so a run restarted after a kill or a
  reboot keeps the pace the service is still counting, and `status` can say when a run of
  N more sends ends (`expected_end`).

Waits are announced to listeners (`add_wait_listener`): the progress bar shows them. The
clock (epoch seconds: a hold survives a restart) and the sleep are injected, so tests never
really wait.
"""

from __future__ import annotations

import bisect
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from utils.fileio import atomic_write_text

log = logging.getLogger(__name__)

Limit = tuple[int, float]  # (sends, window in seconds)
WaitListener = Callable[[float, str], None]  # (seconds left, why); 0 when the wait is over

STORE_VERSION = 1
ANNOUNCE_AFTER = 2.0  # seconds: shorter waits are the pace itself, not worth a word
_NAP = 5.0  # the longest single sleep: a hold set meanwhile by another thread is seen soon

_listeners: list[WaitListener] = []
_listeners_lock = threading.Lock()
_stopping = threading.Event()  # a graceful stop was asked for: no wait goes on (utils.signals)


class WaitInterrupted(Exception):
    """A stop was asked for while a send waited for its turn: it was not sent."""


def interrupt_waits() -> None:
    """A graceful stop: every wait in progress or to come ends with WaitInterrupted (a
    paced run may be told to wait most of an hour; the comments in flight must not)."""
    _stopping.set()


def resume_waits() -> None:
    _stopping.clear()


def add_wait_listener(listener: WaitListener) -> None:
    with _listeners_lock:
        _listeners.append(listener)


def remove_wait_listener(listener: WaitListener) -> None:
    with _listeners_lock:
        if listener in _listeners:
            _listeners.remove(listener)


def _announce(seconds: float, reason: str) -> None:
    with _listeners_lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(seconds, reason)


def pace_file_for(checkpoint: Path) -> Path:
    """Where a paced target keeps its send times, beside the run's checkpoint."""
    return checkpoint.with_name(checkpoint.name + ".pace.json")


def _next_allowed(sent: Sequence[float], limits: Sequence[Limit], hold: float) -> float:
    """The earliest moment the next send may go, given the sends so far (sorted)."""
    earliest = hold
    if sent and limits:
        # evenly by the shortest window (80 a minute: 0.75 s); the longer ones only cap
        count, window = min(limits, key=lambda limit: limit[1])
        earliest = max(earliest, sent[-1] + window / count)
    for count, window in limits:
        if len(sent) >= count:
            # the window holds `count` sends once the one `count` back has aged out
            earliest = max(earliest, sent[-count] + window)
    return earliest


class Pacer:
    def __init__(
        self,
        limits: Sequence[Limit],
        *,
        store: Path | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if any(count <= 0 or window <= 0 for count, window in limits):
            raise ValueError(f"every limit needs a positive count and window: {limits!r}")
        self.limits = list(limits)
        self.store = store
        self.clock = clock
        self.sleep = sleep
        self.horizon = max((window for _, window in self.limits), default=0.0)
        self._lock = threading.Lock()
        self._sent: list[float] = []
        self._hold = 0.0
        self.waited = 0.0  # seconds spent waiting, for reports
        if store is not None:
            self._load(store)

    def _load(self, store: Path) -> None:
        state = read_pace(store)
        if state is None:
            return
        now = self.clock()
        self._sent = sorted(t for t in state.sent if t > now - self.horizon)
        self._hold = state.hold_until

    def _save(self) -> None:
        if self.store is None:
            return
        document = {
            "version": STORE_VERSION,
            "limits": [[count, window] for count, window in self.limits],
            "sent": self._sent,
            "hold_until": self._hold,
        }
        atomic_write_text(self.store, json.dumps(document))

    def _forget_old(self, now: float) -> None:
        cut = bisect.bisect_right(self._sent, now - self.horizon)
        if cut:
            del self._sent[:cut]

    def acquire(self) -> None:
        """Wait until one more send is within every limit, and count it as sent."""
        self._wait(count=True)

    def wait_for_hold(self) -> None:
        """Wait out a hold (sends that are not counted, such as reads, respect it too)."""
        self._wait(count=False)

    def _wait(self, *, count: bool) -> None:
        announced = False
        try:
            while True:
                with self._lock:
                    now = self.clock()
                    self._forget_old(now)
                    ready = _next_allowed(self._sent, self.limits, self._hold) if count else 0.0
                    ready = max(ready, self._hold)
                    if ready <= now:
                        if count:
                            self._sent.append(now)
                            self._save()
                        return
                    reason = "a limit" if now < self._hold else "the pace"
                left = ready - now
                if _stopping.is_set():
                    raise WaitInterrupted(f"stopped while waiting for {reason}")
                if left >= ANNOUNCE_AFTER:
                    _announce(left, f"waiting for {reason} until {_clock_text(ready)}")
                    announced = True
                self.waited += min(left, _NAP)
                self.sleep(min(left, _NAP))
        finally:
            if announced:
                _announce(0.0, "")

    def hold_until(self, when: float, reason: str) -> None:
        """The service said: nothing before `when` (epoch seconds)."""
        with self._lock:
            if when <= self._hold:
                return
            self._hold = when
            self._save()
        log.warning("%s: waiting until %s before sending again", reason, _clock_text(when))

    def expected_end(self, sends: int) -> float:
        """When `sends` more sends, each as soon as allowed, would be done."""
        with self._lock:
            return simulate_end(self._sent, self.limits, self._hold, sends, self.clock())


def simulate_end(
    sent: Sequence[float], limits: Sequence[Limit], hold: float, sends: int, now: float
) -> float:
    """When `sends` more sends would be done at the fastest pace the limits allow."""
    history = sorted(sent)
    moment = now
    for _ in range(max(0, sends)):
        moment = max(now, _next_allowed(history, limits, hold))
        history.append(moment)
    return moment


@dataclass(frozen=True)
class PaceState:
    limits: list[Limit]
    sent: list[float]
    hold_until: float


def read_pace(store: Path) -> PaceState | None:
    """What a pace file holds; None when there is none or it cannot be read (a pace file is
    an aid: a bad one costs a few sends at the start, never the run)."""
    try:
        document: Any = json.loads(store.read_text(encoding="utf-8"))
        return PaceState(
            limits=[(int(c), float(w)) for c, w in document["limits"]],
            sent=[float(t) for t in document["sent"]],
            hold_until=float(document.get("hold_until") or 0.0),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s cannot be read (%s): the pace starts afresh", store, exc)
        return None


def _clock_text(moment: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(moment))
