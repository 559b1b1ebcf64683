"""The page-atomic store behind the file targets (records: migrate/files/records.py).

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
import json
import logging
import os
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrate.abilities import CommentRefused
from migrate.errors import ConfigError, TargetError
from migrate.files.batches import Batch, read_batches
from migrate.files.delta import DeltaFiles
from migrate.files.formats import (
    page_link,
)
from migrate.files.records import (
    Record,
    comment_record,
    emptied_by_cleaning,
    page_record,
    target_comment,
)
from migrate.model import Capabilities, Created, OutgoingComment, Page, TargetComment
from utils.fileio import (
    append_all,
    append_durably,
    atomic_binary_writer,
    disk_full_as_error,
    open_nofollow,
    undo_append,
)

log = logging.getLogger("comment_migrate.targets")


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


@dataclass
class _Batch:
    batch: Batch
    data: bytes  # its lines, as appended


@dataclass
class _Pending:
    """A batch `commit_later` appended, its fsync under way."""

    batch: _Batch
    fd: int
    size: int  # of the store before it: where a failed fsync cuts it back to
    fsync: Future[None]
    error: BaseException | None = None


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
    local_only = True  # writes files on this machine only (migrate.abilities.LocalOnly)

    def __init__(self, store: Path, *, read_only: bool = False) -> None:
        self.store = Path(store)
        require_file(self.store)
        # a reader (verify) writes nothing, ever: it leaves a torn tail to whoever appends
        self.read_only = read_only
        self._lock = threading.RLock()  # the store: loading, commits (held during the fsync)
        # what `create` touches, a few instructions at a time: the next id and the pages not
        # yet committed. Under the store's lock every comment waited for other pages'
        # commits, and the page threads convoyed on it (a thread switch per comment)
        self._ids = threading.Lock()
        self._pages_read: dict[str, _Spans] | None = None  # committed, in commit order
        self._buffers: dict[str, tuple[Page, list[Record]]] = {}  # uncommitted, by page id
        self._first_free_id = 1
        self._seq = 0  # last batch number in the store
        self._size = 0  # bytes of whole batches in the store
        self._family: list[DeltaFiles] | None = None  # the output and its deltas
        self._pending: _Pending | None = None  # written by commit_later, its fsync under way
        self._fsyncs: ThreadPoolExecutor | None = None  # where that fsync runs
        # the store was read whole (not merely begun: `_pages_read` fills while it is read);
        # what is asked without the lock asks this first
        self._loaded = False
        with contextlib.suppress(FileNotFoundError):  # a link is refused now, not at a commit
            os.close(open_nofollow(self.store, os.O_RDONLY))

    @property
    def _pages(self) -> dict[str, _Spans]:
        with self._lock:
            if self._pages_read is None:
                self._pages_read = {}
                self._load()
                self._loaded = True
            return self._pages_read

    @property
    def _next_id(self) -> int:
        self._pages  # noqa: B018 (read the store first: its ids come before)
        return self._first_free_id

    @_next_id.setter
    def _next_id(self, value: int) -> None:
        self._pages  # noqa: B018
        with self._ids:
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
        # a reader (verify) leaves a torn tail to whoever appends: it may be being written
        for batch, span in read_batches(self.store, self.decode_line, repair=not self.read_only):
            self._apply(batch, span)
            self._size = span[1]

    def _apply(self, batch: Batch, span: tuple[int, int], *, ours: bool = False) -> None:
        """Note a batch read from the store, or (`ours`) just committed, whose ids `create`
        gave out and are below the next one already."""
        self._seq = max(self._seq, batch.seq)
        assert self._pages_read is not None
        stored = self._pages_read.setdefault(str(batch.page["id"]), _Spans(batch.page))
        stored.page = batch.page
        stored.spans.append(span)
        if ours:
            return
        numbers = [int(n) for n in (str(c["id"]) for c in batch.comments) if n.isdigit()]
        if numbers:
            with self._ids:
                self._first_free_id = max(self._first_free_id, max(numbers) + 1)

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
        return self.refusal(outgoing) or emptied_by_cleaning(outgoing)

    def refusal(self, outgoing: OutgoingComment) -> str | None:
        """Why the comment is refused by rule (`check` also asks whether cleaning empties
        it, which its record would refuse too)."""
        # a page address goes into every file as a link: http(s) or a path, nothing else
        _, problem = page_link("", outgoing.page.key)
        if problem is not None:
            return problem
        # a dry run planned for another target refuses what that target would refuse
        minimum = self.capabilities.min_text_length
        if minimum and len(outgoing.text.rstrip()) < minimum:
            return f"text is too short (minimum length: {minimum})"
        return None

    def begin_page(self, page: Page) -> None:
        with self._ids:
            self._buffers[page.id] = (page, [])

    def create(self, outgoing: OutgoingComment) -> Created:
        # the sender asks `check` first; a caller of its own may not. The record refuses a
        # comment that cleaning empties (as `check` does), so only the rules are asked again
        problem = self.refusal(outgoing)
        if problem is not None:
            raise CommentRefused(problem)
        if not self._loaded:
            self._pages  # noqa: B018 (read the store first: its ids come before)
        # made outside any lock, before its id: a refused comment leaves no id unused
        record = self.record(outgoing)
        with self._ids:
            target_id = str(self._first_free_id)
            self._first_free_id += 1
            record["id"] = target_id  # the record's first key, made as None
            page = outgoing.page
            if page.id not in self._buffers:  # create without begin_page: start the buffer
                self._buffers[page.id] = (page, [])
            self._buffers[page.id][1].append(record)
        return Created(target_id=target_id, parent_target_id=outgoing.parent_target_id)

    def record(self, outgoing: OutgoingComment) -> Record:
        """What the store keeps of one comment (a format may keep more), its id None.
        Raises CommentRefused when cleaning leaves the comment empty."""
        return comment_record(None, outgoing)

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
        if not by_source:  # a page new to the files: `pending` need not even be made
            return {}
        return {o.source.id: by_source[o.source.id] for o in pending if o.source.id in by_source}

    def by_source(self, page_id: str) -> dict[str, str]:
        """Source id -> target id of the page's committed comments in this file."""
        if self._loaded and page_id not in (self._pages_read or {}):
            return {}  # without the store's lock, held during other pages' commits
        with self._lock:
            stored = self._pages.get(page_id)
            if stored is None:
                return {}
            comments = self._comments(stored)
            return {c["source"]["id"]: str(c["id"]) for c in comments if c.get("source")}

    def _writable(self) -> None:
        if self.read_only:
            raise TargetError(f"{self.store} was opened for reading only")

    def finish_page(self, page: Page) -> None:
        self._writable()
        with self._lock:
            self._settle()
            batch = self._batch(page)
            if batch is not None:
                # one write is the commit; a failed one is undone, never built upon
                append_durably(self.store, batch.data, mode=self.file_mode)
                self._committed(batch)

    def commit_later(self, page: Page) -> Callable[[], None]:
        """`finish_page` whose fsync goes on, on a thread of its own, while the caller works
        on (migrate.abilities.CommitsLater); the call returned waits for it."""
        self._writable()
        with self._lock:
            if not os.path.lexists(self.store):  # a new file: made with its folder's fsync
                self.finish_page(page)
                return lambda: None  # durable already
            self._settle()
            batch = self._batch(page)
            if batch is None:
                return lambda: None
            fd = open_nofollow(self.store, os.O_WRONLY | os.O_APPEND)
            try:
                size = os.fstat(fd).st_size
                append_all(fd, batch.data, size=size, path=self.store)  # undone if it fails
                if self._fsyncs is None:
                    self._fsyncs = ThreadPoolExecutor(1, thread_name_prefix="fsync")
                pending = self._pending = _Pending(
                    batch, fd, size, self._fsyncs.submit(os.fsync, fd)
                )
            except BaseException:
                os.close(fd)
                raise

        def durable() -> None:
            with self._lock:
                if self._pending is pending:  # else settled already (by the next commit)
                    self._settle()
            if pending.error is not None:
                raise pending.error

        return durable

    def _batch(self, page: Page) -> _Batch | None:
        """The page's buffered comments as the lines of the next batch (None: none)."""
        with self._ids:
            _, comments = self._buffers.pop(page.id, (page, []))
        if not comments:
            return None
        record = page_record(page)
        seq = self._seq + 1
        lines = self.encode_batch(seq, record, comments)
        self._pages  # noqa: B018 (a torn tail is cut before anything is added)
        data = "".join(line + "\n" for line in lines).encode("utf-8")
        return _Batch(Batch(seq, len(lines), record, list(comments), len(lines)), data)

    def _committed(self, batch: _Batch) -> None:
        span = (self._size, self._size + len(batch.data))
        self._size += len(batch.data)
        self._apply(batch.batch, span, ours=True)
        self.after_change(force=False)

    def _settle(self) -> None:
        """The page `commit_later` wrote last is durable, or cut off the end of the file,
        its error kept for its caller (call under the store's lock)."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        try:
            with disk_full_as_error(self.store):
                pending.fsync.result()
        except Exception as failure:
            pending.error = undo_append(pending.fd, pending.size, self.store, failure)
        else:
            self._committed(pending.batch)
        finally:
            os.close(pending.fd)

    def abort_page(self, page: Page) -> None:
        with self._ids:
            self._buffers.pop(page.id, None)

    def list_page(self, page: Page) -> list[TargetComment]:
        with self._lock:
            stored = self._pages.get(page.id)
            return [target_comment(c) for c in self._comments(stored)] if stored else []

    def delete(self, target_id: str, page: Page) -> bool:
        """Remove one comment and rewrite the store atomically (durable when this returns)."""
        self._writable()
        with self._lock:
            self._settle()
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
            self._settle()
            if self._fsyncs is not None:
                self._fsyncs.shutdown()
                self._fsyncs = None
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
