"""What the sources of XML exports (Disqus, WordPress) share: the file read once into a
RecordSpill when the source is opened, and a page served from it through the one rule of
migrate/threads.py (`assemble_page`: tombstones, orphans, parent cycles)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from migrate.files.reading import RecordSpill
from migrate.model import Comment, Page, PageComments, SkippedEvent
from migrate.threads import assemble_page


class SpilledExportSource:
    """A source over one export file. Subclasses set `system`, fill `self.spill` in
    `index()` (one group per page) and turn one spilled record into its comment, or the
    reason it does not migrate, in `read()`."""

    system: str
    local_only = True  # an export file on this machine (migrate.abilities.LocalOnly)

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.spill = RecordSpill(self.system, self.path)
        try:
            self.index()
        except BaseException:
            self.spill.close()
            raise
        self.spill.finish()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    def index(self) -> None:
        raise NotImplementedError

    def read(self, page: Page, record: tuple[Any, ...]) -> tuple[str, Comment | str]:
        """(its id, the comment or why it does not migrate)"""
        raise NotImplementedError

    def comments(self, page: Page) -> PageComments:
        comments: list[Comment] = []
        skipped: list[SkippedEvent] = []
        for record in self.spill.records(page.id):
            comment_id, outcome = self.read(page, record)
            if isinstance(outcome, Comment):
                comments.append(outcome)
            else:
                skipped.append(SkippedEvent(comment_id, page.id, outcome))
        return assemble_page(page, comments, skipped)

    def identity(self) -> Mapping[str, str]:
        return {"path": str(self.path.resolve())}

    def close(self) -> None:
        self.spill.close()
