"""SIGINT/SIGTERM: the first asks for a graceful stop, the second leaves at once.

The first signal sets an event the workers check between comments, so the comment in flight
finishes, its mapping is journaled and the checkpoint is saved before exit 130. The second
exits 130 immediately: every journal record is a single appended line, so the checkpoint is
consistent at any instant anyway.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import threading
from types import FrameType, TracebackType
from typing import Any

from utils.pace import interrupt_waits, resume_waits

EXIT_INTERRUPTED = 130


class GracefulInterrupt:
    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.stop = threading.Event()
        self._received = itertools.count()
        self.logger = logger or logging.getLogger("comment_migrate")
        self._previous: dict[int, Any] = {}
        self.signal_name: str | None = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        # counted before anything else: a second signal can run this handler again while
        # the first one is still inside it (logging), and must still see it as the second
        if next(self._received) > 0:
            self.logger.warning("second interrupt: stopping now (the checkpoint is consistent)")
            os._exit(EXIT_INTERRUPTED)
        self.stop.set()
        interrupt_waits()  # a send waiting for a service's limit gives up, unsent
        self.signal_name = signal.Signals(signum).name
        self.logger.warning(
            "%s: finishing the comments in flight and saving; press Ctrl-C again to stop at once",
            self.signal_name,
        )

    def __enter__(self) -> GracefulInterrupt:
        resume_waits()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
