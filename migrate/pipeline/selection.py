"""Which pages a run takes (`--page`, `--only-failed`), and the queue its page threads
take them from one at a time."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from migrate.errors import ExitStatus, MigrateError
from migrate.model import Page
from utils.checkpoint.state import CheckpointState


class PageSelectionError(MigrateError):
    exit_status = ExitStatus.USAGE


def select_pages(
    pages: Sequence[Page],
    state: CheckpointState,
    *,
    page_ids: Sequence[str] = (),
    only_failed: bool = False,
) -> list[Page]:
    selected = list(pages)
    if page_ids:
        wanted = set(page_ids)
        selected = [p for p in selected if p.id in wanted]
        missing = wanted - {p.id for p in selected}
        if missing:
            raise PageSelectionError(f"no such page in the source: {', '.join(sorted(missing))}")
    if only_failed:  # failed, or interrupted by a crash or Ctrl-C
        selected = [p for p in selected if state.get_page_status(p.id) in ("failed", "in_progress")]
    return selected


class PageQueue:
    """The pages left to migrate, taken one at a time by the page threads."""

    def __init__(self, pages: Sequence[Page]) -> None:
        self._pages = iter(pages)
        self._lock = threading.Lock()
        # a page raised, or the run's thread did: no page is taken after it
        self.halted = threading.Event()

    def next(self) -> Page | None:
        with self._lock:
            return next(self._pages, None)
