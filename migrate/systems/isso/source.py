"""Isso as a source: its SQLite database (`[source] type = "isso"`, `db_path = "comments.db"`).

The database is opened read-only through SQLite's URI (`file:...?mode=ro`): nothing is ever
written to it or to its journal, and it is safe while Isso runs (a busy timeout waits out
Isso's own writes; each page is read in one transaction, so it is one consistent state).

What comes across, per thread (`threads`: uri, title) and comment (`comments`): parent,
mode (1 accepted, 2 pending: comes as pending, 4 deleted: Isso keeps such a row only while it
has replies, so it comes as a tombstone), author, email, website, remote_addr (already
anonymised by Isso), created and modified (Unix seconds, UTC), likes, text (Markdown as Isso
stores it). A page's id and key are the thread's uri.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from migrate.config import RunConfig, SectionConfig
from migrate.content import clean_text
from migrate.errors import SourceError
from migrate.model import DELETED_TEXT, Author, Comment, Page, PageComments, SkippedEvent
from migrate.pages import default_key
from migrate.plugins import SourcePlugin

MODE_ACCEPTED, MODE_PENDING, MODE_DELETED = 1, 2, 4
BUSY_TIMEOUT = 30.0  # seconds: Isso holds its write lock only briefly

_COMMENTS = (
    "SELECT c.id, c.parent, c.created, c.modified, c.mode, c.remote_addr, c.text, c.author,"
    " c.email, c.website, c.likes FROM comments c JOIN threads t ON c.tid = t.id"
    " WHERE t.uri = ? ORDER BY c.created, c.id"
)


class IssoSource:
    system = "isso"
    local_only = True  # its database file (migrate.abilities.LocalOnly)

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        if not self.db_path.is_file():
            raise SourceError(f"Isso database {self.db_path} does not exist")
        uri = f"file:{quote(str(self.db_path.resolve()))}?mode=ro"
        try:
            self._db = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT, check_same_thread=False)
            self._db.execute("SELECT uri, title FROM threads LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise SourceError(f"{self.db_path} is not a readable Isso database: {exc}") from exc
        self._lock = threading.Lock()  # one connection, shared by the workers

    def __repr__(self) -> str:
        return f"IssoSource({str(self.db_path)!r})"

    def identity(self) -> Mapping[str, str]:
        return {"db_path": str(self.db_path.resolve())}

    def pages(self) -> Iterator[Page]:
        with self._lock:
            threads = self._db.execute("SELECT uri, title FROM threads ORDER BY id").fetchall()
        for uri, title in threads:
            yield Page(id=str(uri), key=default_key(str(uri)), title=title or None)

    def comments(self, page: Page) -> PageComments:
        with self._lock:
            try:
                rows = self._db.execute(_COMMENTS, (page.id,)).fetchall()
            except sqlite3.Error as exc:
                raise SourceError(f"cannot read {self.db_path}: {exc}") from exc
        present = {row[0] for row in rows}
        has_replies = {row[1] for row in rows if row[1] is not None}
        comments: list[Comment] = []
        skipped: list[SkippedEvent] = []
        orphans: list[str] = []
        for cid, parent, created, modified, mode, addr, text, author, email, site, likes in rows:
            source_id = str(cid)
            if mode == MODE_DELETED and cid not in has_replies:
                skipped.append(SkippedEvent(source_id, page.id, "deleted in Isso"))
                continue
            if mode not in (MODE_ACCEPTED, MODE_PENDING, MODE_DELETED):
                skipped.append(SkippedEvent(source_id, page.id, f"unknown Isso mode {mode!r}"))
                continue
            if not isinstance(created, int | float):
                skipped.append(SkippedEvent(source_id, page.id, "malformed row: no created time"))
                continue
            if parent is not None and parent not in present:
                orphans.append(source_id)
                parent = None
            deleted = mode == MODE_DELETED
            comments.append(
                Comment(
                    id=source_id,
                    page_id=page.id,
                    parent_id=None if parent is None else str(parent),
                    author=Author(
                        name="" if deleted else clean_text(author or ""),
                        source_id="",
                        email=None if deleted else _text(email),
                        url=None if deleted else _text(site),
                        ip=_text(addr),
                    ),
                    text=DELETED_TEXT if deleted else clean_text(text or ""),
                    created_at=datetime.fromtimestamp(float(created), UTC),
                    edited_at=datetime.fromtimestamp(float(modified), UTC)
                    if isinstance(modified, int | float)
                    else None,
                    deleted=deleted,
                    status="pending" if mode == MODE_PENDING else "approved",
                    likes=int(likes or 0),
                )
            )
        return PageComments(page, comments, skipped=skipped, orphans=orphans)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _text(value: object) -> str | None:
    return clean_text(value) if isinstance(value, str) and value.strip() else None


def _build(section: SectionConfig, run: RunConfig) -> IssoSource:
    path = section.path("db_path")
    assert path is not None  # the plugin's schema requires it
    return IssoSource(path)


PLUGIN = SourcePlugin(
    name="isso",
    build=_build,
    path_keys=("db_path",),
    schema={
        "required": ["db_path"],
        "properties": {"db_path": {"type": "string", "minLength": 1}},
    },
)
