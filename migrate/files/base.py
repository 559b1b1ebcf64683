"""Pieces the targets share: timestamps, the source system of a comment, and the page-atomic
store behind the file targets (wxr, jsonl).

A file target buffers a page's comments in memory and commits them in `finish_page` with one
append + fsync to a JSON Lines store. Each append is one *batch* (a sequence number and its
number of lines), so a load can tell a complete page from a torn tail: a crash (SIGKILL, power
cut) mid-append leaves at most an incomplete last batch, which the next load cuts off with a
warning. Anything invalid before the tail is an error naming the file, never a silent reset.
The store is read when first needed (a rerun with nothing to do never reads it), a line at a
time; memory keeps where each page's batches are, and a page's comments are read back from
there when asked for.

Sync writes delta files beside the output (migrate/files/delta.py); reconciliation looks
at the output and all its delta files.
"""

from __future__ import annotations

import contextlib
import html as html_lib
import json
import logging
import os
import re
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from migrate.abilities import CommentRefused
from migrate.files.batches import Batch, read_batches
from migrate.files.delta import DeltaFiles
from migrate.files.formats import (
    WEB_SCHEMES,
    sanitize_html,
    strip_unwritable,
    unsafe_links,
    web_url,
)
from migrate.model import Capabilities, Created, OutgoingComment, Page, TargetComment
from utils.fileio import append_durably, atomic_binary_writer, open_nofollow

log = logging.getLogger("comment_migrate.targets")

Record = dict[str, Any]

AVATAR_SCHEMES = WEB_SCHEMES | {"mxc"}  # mxc: the Matrix media URI, mirrored by [media]
_TAG = re.compile(r"<[^>]*>")


def rfc3339(moment: datetime) -> str:
    """RFC 3339 in UTC with a Z, e.g. 2021-03-04T05:06:07Z (microseconds kept when present)."""
    if moment.tzinfo is None:  # the model promises aware datetimes; naive ones are UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_rfc3339(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def source_system(outgoing: OutgoingComment) -> str:
    """The source system named in the idempotency key `<system>:<source id>`."""
    key = outgoing.idempotency_key
    suffix = ":" + outgoing.source.id
    if key.endswith(suffix) and len(key) > len(suffix):
        return key[: -len(suffix)]
    return key.split(":", 1)[0] if ":" in key else "unknown"


def page_record(page: Page) -> Record:
    return {"id": page.id, "uri": page.key, "title": page.title}


def comment_record(target_id: str, outgoing: OutgoingComment) -> Record:
    """What a file target keeps of one comment (the JSONL record without its page).

    Files are read by importers that trust them: characters XML cannot hold are removed, the
    HTML is sanitized again, and an avatar URL other than http(s)/mxc is dropped, each logged
    with the comment's id. Raises CommentRefused when the removal leaves the comment empty."""
    reason = emptied_by_cleaning(outgoing)
    if reason is not None:
        raise CommentRefused(reason)
    record: Record = {"id": target_id, **comment_fields(outgoing)}
    removed: dict[str, list[str]] = {}
    author = record["author"]
    for holder, key, where in (
        (record, "text", "text"),
        (record, "html", "html"),
        (author, "name", "author name"),
        (author, "source_id", "author id"),
        (author, "avatar_url", "avatar URL"),
    ):
        if isinstance(holder.get(key), str):
            holder[key], gone = strip_unwritable(holder[key])
            if gone:
                removed[where] = gone
    if record["html"]:
        record["html"] = sanitize_html(record["html"]) or None
    avatar = author.get("avatar_url")
    if avatar and web_url(avatar, AVATAR_SCHEMES) is None:
        log.warning(
            "comment %s: avatar URL dropped (not http(s) or mxc): %r", outgoing.source.id, avatar
        )
        author["avatar_url"] = None
    for where, gone in removed.items():
        log.warning(
            "comment %s: removed from its %s characters a file cannot hold: %s",
            outgoing.source.id,
            where,
            ", ".join(gone),
        )
    for url in unsafe_links(record["text"]):
        log.warning("comment %s: link dropped (not http(s) or mailto): %r", outgoing.source.id, url)
    record["deleted"] = outgoing.source.deleted
    return record


def emptied_by_cleaning(outgoing: OutgoingComment) -> str | None:
    """Why a comment cannot be written to a file: nothing visible is left once the characters
    XML cannot hold are removed (None when something is, or when nothing was to begin with)."""
    text, removed = strip_unwritable(outgoing.text)
    html_content, removed_html = strip_unwritable(outgoing.html or "")
    if not removed and not removed_html:
        return None
    if text.strip() or _visible_html(html_content):
        return None
    gone = ", ".join(sorted(set(removed) | set(removed_html)))
    return f"nothing left once the characters a file cannot hold were removed ({gone})"


def _visible_html(value: str) -> bool:
    return "<img" in value.lower() or bool(html_lib.unescape(_TAG.sub("", value)).strip())


def comment_fields(outgoing: OutgoingComment) -> Record:
    """A comment as every target describes it: the HTTP contract's body without its page."""
    source = outgoing.source
    return {
        "parent_id": outgoing.parent_target_id,
        "author": {
            "name": source.author.name,
            "source_id": source.author.source_id,
            "avatar_url": source.author.avatar_url,
        },
        "text": outgoing.text,
        "html": outgoing.html,
        "created_at": rfc3339(source.created_at),
        "source": {
            "system": source_system(outgoing),
            "id": source.id,
            "parent_id": outgoing.parent_source_id,
        },
    }


def target_comment(record: Mapping[str, Any]) -> TargetComment:
    author = record.get("author") or {}
    source = record.get("source") or {}
    return TargetComment(
        target_id=str(record["id"]),
        parent_target_id=record.get("parent_id"),
        author_name=str(author.get("name") or ""),
        text=str(record.get("text") or ""),
        created_at=parse_rfc3339(record.get("created_at")),
        source_id=source.get("id"),
        html=record["html"] if isinstance(record.get("html"), str) else None,
        author_avatar_url=author.get("avatar_url") or None,
        raw=dict(record),
    )


@dataclass
class StoredPage:
    page: Record
    comments: list[Record] = field(default_factory=list)


@dataclass
class _Spans:
    """Where a committed page's batches are in the store: (start, end) byte offsets."""

    page: Record
    spans: list[tuple[int, int]] = field(default_factory=list)


class PageAtomicFileTarget(DeltaFiles):
    """Shared machinery of the file targets: buffer per page, commit per page, read back.

    Subclasses say how a batch looks in the store (`encode_batch`, `decode_line`) and may
    rebuild a derived file after each change (`after_change`). Thread-safe: workers share one
    instance and each works on its own pages."""

    capabilities: Capabilities
    output: Path

    # files hold comments and authors: private unless the configuration says otherwise
    file_mode = 0o600

    def __init__(self, store: Path) -> None:
        self.store = Path(store)
        self._lock = threading.RLock()
        self._pages_read: dict[str, _Spans] | None = None  # committed, in commit order
        self._buffers: dict[str, tuple[Page, list[Record]]] = {}  # uncommitted, by page id
        self._first_free_id = 1
        self._seq = 0  # last batch number in the store
        self._size = 0  # bytes of whole batches in the store
        self._family: list[DeltaFiles] | None = None  # the output and its deltas
        with contextlib.suppress(FileNotFoundError):  # a link is refused now, not at a commit
            os.close(open_nofollow(self.store, os.O_RDONLY))

    @property
    def _pages(self) -> dict[str, _Spans]:
        with self._lock:
            if self._pages_read is None:
                self._pages_read = {}
                self._load()
            return self._pages_read

    @property
    def _next_id(self) -> int:
        self._pages  # noqa: B018 (read the store first: its ids come before)
        return self._first_free_id

    @_next_id.setter
    def _next_id(self, value: int) -> None:
        self._pages  # noqa: B018
        self._first_free_id = value

    # -- the store format (subclasses) --------------------------------------------------

    def encode_batch(self, seq: int, page: Record, comments: Sequence[Record]) -> list[str]:
        """The lines (JSON, no newline) that commit `comments` of `page` as batch `seq`."""
        raise NotImplementedError

    def decode_line(self, obj: Mapping[str, Any]) -> tuple[int, int, Record, list[Record]]:
        """(batch seq, batch size in lines, page, comments) of one stored line."""
        raise NotImplementedError

    def after_change(self, *, force: bool) -> None:
        """Called (under the lock) after a commit or a delete; `force` on close."""

    # -- loading ------------------------------------------------------------------------

    def _load(self) -> None:
        for batch, span in read_batches(self.store, self.decode_line):
            self._apply(batch, span)
            self._size = span[1]

    def _apply(self, batch: Batch, span: tuple[int, int]) -> None:
        self._seq = max(self._seq, batch.seq)
        assert self._pages_read is not None
        stored = self._pages_read.setdefault(str(batch.page["id"]), _Spans(batch.page))
        stored.page = batch.page
        stored.spans.append(span)
        for comment in batch.comments:
            number = str(comment["id"])
            if number.isdigit():
                self._first_free_id = max(self._first_free_id, int(number) + 1)

    def _comments(self, stored: _Spans) -> list[Record]:
        """A committed page's comments, read back from the store."""
        comments: list[Record] = []
        with self.store.open("rb") as handle:
            for start, end in stored.spans:
                handle.seek(start)
                for line in handle.read(end - start).split(b"\n")[:-1]:
                    comments.extend(self.decode_line(json.loads(line))[3])
        return comments

    # -- the Target protocol ------------------------------------------------------------

    def check(self, outgoing: OutgoingComment) -> str | None:
        # a dry run planned for another target refuses what that target would refuse
        minimum = self.capabilities.min_text_length
        if minimum and len(outgoing.text.rstrip()) < minimum:
            return f"text is too short (minimum length: {minimum})"
        return emptied_by_cleaning(outgoing)

    def begin_page(self, page: Page) -> None:
        with self._lock:
            self._buffers[page.id] = (page, [])

    def create(self, outgoing: OutgoingComment) -> Created:
        with self._lock:
            page = outgoing.page
            if page.id not in self._buffers:  # create without begin_page: start the buffer
                self._buffers[page.id] = (page, [])
            target_id = str(self._next_id)
            self._next_id += 1
            self._buffers[page.id][1].append(comment_record(target_id, outgoing))
        return Created(target_id=target_id, parent_target_id=outgoing.parent_target_id)

    def reconcile(
        self,
        page: Page,
        pending: Sequence[OutgoingComment],
        known_target_ids: Collection[str] = (),
    ) -> dict[str, str]:
        by_source: dict[str, str] = {}
        members: list[DeltaFiles] = [*self.relatives(), self]
        for member in members:  # this file's own records win
            by_source.update(member.by_source(page.id))
        return {o.source.id: by_source[o.source.id] for o in pending if o.source.id in by_source}

    def by_source(self, page_id: str) -> dict[str, str]:
        """Source id -> target id of the page's committed comments in this file."""
        with self._lock:
            stored = self._pages.get(page_id)
            if stored is None:
                return {}
            comments = self._comments(stored)
            return {c["source"]["id"]: str(c["id"]) for c in comments if c.get("source")}

    def finish_page(self, page: Page) -> None:
        with self._lock:
            _, comments = self._buffers.pop(page.id, (page, []))
            if not comments:
                return
            record = page_record(page)
            seq = self._seq + 1
            lines = self.encode_batch(seq, record, comments)
            # one write is the commit; a failed one is undone, never built upon
            data = "".join(line + "\n" for line in lines).encode("utf-8")
            self._pages  # noqa: B018 (a torn tail is cut before anything is added)
            append_durably(self.store, data, mode=self.file_mode)
            span = (self._size, self._size + len(data))
            self._size += len(data)
            self._apply(Batch(seq, len(lines), record, list(comments), len(lines)), span)
            self.after_change(force=False)

    def abort_page(self, page: Page) -> None:
        with self._lock:
            self._buffers.pop(page.id, None)

    def list_page(self, page: Page) -> list[TargetComment]:
        with self._lock:
            stored = self._pages.get(page.id)
            return [target_comment(c) for c in self._comments(stored)] if stored else []

    def delete(self, target_id: str, page: Page) -> bool:
        """Remove one comment and rewrite the store atomically (durable when this returns)."""
        with self._lock:
            stored = self._pages.get(page.id)
            if stored is None:
                return False
            comments = self._comments(stored)
            kept = [c for c in comments if str(c["id"]) != target_id]
            if len(kept) == len(comments):
                return False
            self._rewrite({page.id: kept})
            self.after_change(force=False)
            return True

    def close(self) -> None:
        with self._lock:
            self.after_change(force=True)

    # -- helpers ------------------------------------------------------------------------

    def committed_pages(self) -> Iterator[StoredPage]:
        """Every committed page with its comments, in first-commit order, read a page at a
        time (call under lock)."""
        for stored in list(self._pages.values()):
            yield StoredPage(stored.page, self._comments(stored))

    def _rewrite(self, changed: Mapping[str, list[Record]]) -> None:
        """Replace the store by one batch per page, `changed` pages holding the comments
        given (none: the page goes), the others as they are (after a delete)."""
        seq = offset = 0
        spans: dict[str, _Spans] = {}
        with atomic_binary_writer(self.store, mode=self.file_mode) as handle:
            for page_id, stored in self._pages.items():
                comments = changed[page_id] if page_id in changed else self._comments(stored)
                if comments:
                    seq += 1
                    lines = self.encode_batch(seq, stored.page, comments)
                    data = "".join(line + "\n" for line in lines).encode("utf-8")
                    handle.write(data)
                    spans[page_id] = _Spans(stored.page, [(offset, offset + len(data))])
                    offset += len(data)
        self._pages_read, self._seq, self._size = spans, seq, offset


def dumps(obj: object) -> str:
    """One compact JSON line (non-ASCII kept readable)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
