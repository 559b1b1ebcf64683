"""Pieces the targets share: timestamps, the source system of a comment, and the page-atomic
store behind the file targets (wxr, jsonl).

A file target buffers a page's comments in memory and commits them in `finish_page` with one
append + fsync to a JSON Lines store. Each append is one *batch* (a sequence number and its
number of lines), so a load can tell a complete page from a torn tail: a crash (SIGKILL, power
cut) mid-append leaves at most an incomplete last batch, which the next load cuts off with a
warning. Anything invalid before the tail is an error naming the file, never a silent reset.
Committed comments are not kept in memory: migrate/files/store_index.py knows where each page
lies in the store and reads it back when asked (reconcile, list, rebuild, delete).

Sync writes delta files beside the output (migrate/files/delta.py); reconciliation looks
at the output and all its delta files.
"""

from __future__ import annotations

import html as html_lib
import json
import logging
import re
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from migrate.abilities import CommentRefused
from migrate.errors import ConfigError, TargetError
from migrate.files.delta import DeltaFiles
from migrate.files.formats import (
    WEB_SCHEMES,
    sanitize_html,
    strip_unwritable,
    unsafe_links,
    web_url,
)
from migrate.files.store_index import StoreIndex
from migrate.model import Capabilities, Created, OutgoingComment, Page, TargetComment
from utils.fileio import append_durably, atomic_writer, read_bytes, truncate_durably

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
    record["status"] = outgoing.source.status
    # what file formats hold of an author beyond the contract's fields (WXR, Disqus, ...)
    author["email"] = outgoing.source.author.email
    author["url"] = web_url(outgoing.source.author.url)
    if isinstance(author["email"], str):
        author["email"], _ = strip_unwritable(author["email"])
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
class Batch:
    """One committed append: a page's comments, as decoded from the store."""

    seq: int
    size: int  # lines this batch spans in the store
    page: Record
    comments: list[Record] = field(default_factory=list)
    lines: int = 0


@dataclass
class StoredPage:
    page: Record
    comments: list[Record] = field(default_factory=list)


def require_file(output: Path) -> None:
    """The output a user named is a file to write, not a folder (exit 2, before anything)."""
    if output.is_dir():
        raise ConfigError(
            f"[target] output {output} is a folder; name a file in it "
            f"(for example {output / 'comments.jsonl'})"
        )


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
        require_file(self.store)
        self._lock = threading.RLock()
        # committed pages: records and where their comments lie in the store (not in memory)
        self._index = StoreIndex(self.store, self.decode_line)
        self._size = 0  # bytes of the store: where the next batch begins
        self._buffers: dict[str, tuple[Page, list[Record]]] = {}  # uncommitted, by page id
        self._next_id = 1
        self._seq = 0  # last batch number in the store
        self._family: list[DeltaFiles] | None = None  # the output and its deltas
        self._load()

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
        try:
            data = read_bytes(self.store)
        except FileNotFoundError:
            return
        good_end = 0  # byte offset just past the last complete batch
        offset = batch_start = 0
        current: Batch | None = None
        broken: str | None = None
        broken_at = 0
        for raw_line in data.splitlines(keepends=True):
            line_start, offset = offset, offset + len(raw_line)
            if broken is not None:
                raise TargetError(
                    f"{self.store}: invalid line at byte {broken_at} ({broken}) "
                    "followed by more data; restore a backup or remove the damaged lines"
                )
            broken_at = line_start
            if not raw_line.endswith(b"\n"):
                broken = "no newline: a torn write"
                continue
            try:
                obj = json.loads(raw_line)
                seq, size, page, comments = self.decode_line(obj)
            except (ValueError, KeyError, TypeError) as exc:
                broken = f"{type(exc).__name__}: {exc}"
                continue
            if current is not None and current.seq != seq:
                broken = f"batch {current.seq} has {current.lines} of {current.size} lines"
                continue
            if current is None:
                current = Batch(seq, size, page)
                batch_start = line_start
            current.comments.extend(comments)
            current.lines += 1
            if current.lines == current.size:
                self._apply(current, batch_start, offset)
                current, good_end = None, offset
        if good_end < len(data):
            # only the tail can be torn: appends are serialized and each is one batch
            log.warning(
                "%s: dropping an incomplete last page (%d bytes) left by an interrupted write",
                self.store,
                len(data) - good_end,
            )
            truncate_durably(self.store, good_end)
        self._size = good_end

    def _apply(self, batch: Batch, start: int, end: int) -> None:
        self._seq = max(self._seq, batch.seq)
        self._index.add(batch.page, start, end)
        for comment in batch.comments:
            number = str(comment["id"])
            if number.isdigit():
                self._next_id = max(self._next_id, int(number) + 1)

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
            comments = self._index.comments(page_id)
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
            append_durably(self.store, data, mode=self.file_mode)
            start, self._size = self._size, self._size + len(data)
            self._apply(
                Batch(seq, len(lines), record, list(comments), len(lines)), start, self._size
            )
            self.after_change(force=False)

    def abort_page(self, page: Page) -> None:
        with self._lock:
            self._buffers.pop(page.id, None)

    def list_page(self, page: Page) -> list[TargetComment]:
        with self._lock:
            return [target_comment(c) for c in self._index.comments(page.id)]

    def delete(self, target_id: str, page: Page) -> bool:
        """Remove one comment and rewrite the store atomically (durable when this returns)."""
        with self._lock:
            comments = self._index.comments(page.id)
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
        """Every committed page with its comments, in first-commit order (call under lock)."""
        for page_id in self._index:
            yield StoredPage(self._index.pages[page_id], self._index.comments(page_id))

    def _rewrite(self, replaced: Mapping[str, list[Record]]) -> None:
        """Replace the store by one batch per page, with `replaced` pages' comments (after a
        delete; a page left with none is dropped), and index it again."""
        seq = 0
        with atomic_writer(self.store, mode=self.file_mode) as handle:
            for page_id in self._index:
                comments = replaced.get(page_id, None)
                if comments is None:
                    comments = self._index.comments(page_id)
                elif not comments:
                    continue
                seq += 1
                for line in self.encode_batch(seq, self._index.pages[page_id], comments):
                    handle.write(line + "\n")
        self._index.clear()
        self._seq = 0
        self._load()


def dumps(obj: object) -> str:
    """One compact JSON line (non-ASCII kept readable)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
