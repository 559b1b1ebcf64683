"""Everything a checkpoint records, in memory, with its read-only queries.

CheckpointState is built from a snapshot document and changed only by `apply(record)`, one
journal record at a time, so a state replayed from disk equals the one that wrote it. The
queries live here only: a CheckpointManager exposes its state as `manager.state`. Queries that
walk a whole table hold the state's lock (the manager's), so a worker thread may call them
while others record.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any, NotRequired, TypedDict, cast

from utils.checkpoint.errors import SemanticError
from utils.checkpoint.formats import FORMAT, PAGE_STATUSES, SCHEMA_VERSION, JSONDoc
from utils.checkpoint.mappings import MappingTable, Place


class ErrorInfo(TypedDict):
    type: str
    message: str
    retryable: bool | None
    time: str


class PageState(TypedDict):
    status: str
    attempts: int
    extracted: int
    imported: int
    skipped: int
    error: ErrorInfo | None
    updated_at: str
    cursor: NotRequired[str | None]
    cursor_ref: NotRequired[str]  # where the cursor was taken (a room id)
    source_media: NotRequired[int]  # comments linking media on the source's server


class CheckpointState:
    """Everything a checkpoint records, with read-only queries."""

    def __init__(self, lock: threading.RLock | None = None) -> None:
        self.lock = lock or threading.RLock()
        self.migration_id: str | None = None
        self.snapshot_id: str | None = None  # the snapshot this state was read from or written as
        self.journal_seq = 0  # seq of the last record folded in or replayed
        self.started_at: str | None = None
        self.updated_at: str | None = None
        self.total_pages: int | None = None
        self.config: JSONDoc | None = None
        self.metadata: JSONDoc = {}
        self.pages: dict[str, PageState] = {}
        # on disk, read a page at a time (mappings.py): a million would not fit in memory
        self.mappings = MappingTable()
        self.skipped: dict[str, tuple[str | None, str]] = {}
        self._skipped_by_page: dict[str | None, dict[str, str]] = {}
        self.media: dict[str, JSONDoc] = {}
        self.syncs: list[JSONDoc] = []
        self._status_counts = dict.fromkeys(PAGE_STATUSES, 0)
        self._comment_totals = [0, 0, 0]  # extracted, imported, skipped over all pages

    # -- building

    @classmethod
    def from_document(cls, doc: JSONDoc, lock: threading.RLock | None = None) -> CheckpointState:
        """A state from a schema-valid current-version snapshot (its lists are adopted)."""
        return cls(lock).load_document(doc)

    def load_document(self, doc: JSONDoc) -> CheckpointState:
        """Fill this empty state (or one holding only mapping groups, read a line at a time)
        from a schema-valid current-version snapshot; returns it."""
        state = self
        state.migration_id = doc["migration_id"]
        state.snapshot_id = doc["snapshot_id"]
        state.journal_seq = doc["journal_seq"]
        state.started_at = doc["started_at"]
        state.updated_at = doc["updated_at"]
        state.total_pages = doc["total_pages"]
        state.config = doc["config"]
        state.metadata = doc["metadata"]
        state.media = doc["media"]
        state.syncs = doc["syncs"]
        for page_id, page in doc["pages"].items():
            state._set_page(page_id, cast(PageState, page))
        for index, group in enumerate(doc["mappings"]):
            state.add_group(group, None, index)
        state.add_skipped_entries(doc["skipped"])
        return state

    def add_group(self, group: JSONDoc, place: Place | None, index: int) -> None:
        """One schema-valid mapping group of a snapshot, at `place` in its file."""
        try:
            self.mappings.add_group(group, place)
        except SemanticError as exc:
            raise SemanticError(exc.message, ["mappings", index, *exc.json_path]) from None

    def add_skipped_entries(self, skipped: JSONDoc) -> None:
        """A snapshot's skipped comments (after its mappings)."""
        for source_id, entry in skipped.items():
            if self.mappings.find(source_id) is not None:
                raise SemanticError(
                    f"source comment {source_id!r} is both mapped and skipped",
                    ["skipped", source_id],
                )
            self._skip(source_id, entry["page_id"], entry["reason"])

    def to_document(self, snapshot_id: str | None = None, *, mappings: bool = True) -> JSONDoc:
        """The snapshot of this state (sharing its lists: serialize it at once), without its
        checksum; `snapshot_id` defaults to the one it was read from or written as. Without
        `mappings`, its mapping groups are left out (mappings.groups() yields them)."""
        return {
            "format": FORMAT,
            "version": SCHEMA_VERSION,
            "migration_id": self.migration_id,
            "snapshot_id": snapshot_id or self.snapshot_id,
            "journal_seq": self.journal_seq,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
            "total_pages": self.total_pages,
            "config": self.config,
            "metadata": self.metadata,
            "pages": self.pages,
            "mappings": list(self.mappings.groups()) if mappings else [],
            "skipped": {
                source_id: {"page_id": page_id, "reason": reason}
                for source_id, (page_id, reason) in self.skipped.items()
            },
            "media": self.media,
            "syncs": self.syncs,
        }

    def apply(self, record: JSONDoc, place: Place | None = None) -> None:
        """Apply one schema-valid journal record (at `place` in the journal file)."""
        kind = record["kind"]
        if kind in ("map", "map_page", "unmap", "revision"):
            for source_id in self.mappings.apply(record, place):
                self._unskip(source_id)
        elif kind == "page":
            self._set_page(record["page_id"], cast(PageState, record["state"]))
        elif kind == "skip":
            if self.mappings.find(record["source_id"]) is not None:
                raise SemanticError(f"source comment {record['source_id']!r} is mapped")
            self._skip(record["source_id"], record["page_id"], record["reason"])
        elif kind == "media":
            self.media[record["mxc"]] = record["info"]
        elif kind == "sync":
            self.syncs.append(record["info"])
        elif kind == "start":
            self.total_pages = record["total_pages"]
        elif kind == "config":
            self.config = {"digest": record["digest"], "identity": record["identity"]}
        elif kind == "meta":
            self.metadata[record["key"]] = record["value"]
        if self.started_at is None:
            self.started_at = record["time"]
        self.updated_at = record["time"]
        self.journal_seq = record["seq"]

    def _skip(self, source_id: str, page_id: str | None, reason: str) -> None:
        self._unskip(source_id)
        self.skipped[source_id] = (page_id, reason)
        self._skipped_by_page.setdefault(page_id, {})[source_id] = reason

    def _unskip(self, source_id: str) -> None:
        entry = self.skipped.pop(source_id, None)
        if entry is not None:
            self._skipped_by_page[entry[0]].pop(source_id, None)

    def _set_page(self, page_id: str, page: PageState) -> None:
        totals = self._comment_totals
        old = self.pages.get(page_id)
        if old is not None:
            self._status_counts[old["status"]] -= 1
            totals[0] -= old["extracted"]
            totals[1] -= old["imported"]
            totals[2] -= old["skipped"]
        self.pages[page_id] = page
        self._status_counts[page["status"]] += 1
        totals[0] += page["extracted"]
        totals[1] += page["imported"]
        totals[2] += page["skipped"]

    # -- queries

    def entry_count(self) -> int:
        return len(self.pages) + self.mappings.count + len(self.skipped) + len(self.media)

    def should_skip_page(self, page_id: str) -> bool:
        return self.get_page_status(page_id) == "complete"

    def is_page_completed(self, page_id: str) -> bool:
        return self.get_page_status(page_id) == "complete"

    def is_page_failed(self, page_id: str) -> bool:
        return self.get_page_status(page_id) == "failed"

    def get_page_status(self, page_id: str) -> str | None:
        page = self.pages.get(page_id)
        return None if page is None else page["status"]

    def get_page(self, page_id: str) -> JSONDoc | None:
        page = self.pages.get(page_id)
        if page is None:
            return None
        error = page["error"]
        return {"page_id": page_id, "cursor": None, **page,
                "error": None if error is None else dict(error)}  # fmt: skip

    def get_page_cursor(self, page_id: str) -> str | None:
        """The Matrix pagination token after the newest event read of the page, if any."""
        page = self.pages.get(page_id)
        return None if page is None else page.get("cursor")

    def get_page_cursor_ref(self, page_id: str) -> str | None:
        """The source's address of the page (a room id) its cursor was taken in, if known."""
        page = self.pages.get(page_id)
        return None if page is None else page.get("cursor_ref")

    def get_page_source_media(self, page_id: str) -> int | None:
        """Comments of the page that linked media on the source's server when it was last
        read whole (None: not known, e.g. recorded by an older version)."""
        page = self.pages.get(page_id)
        return None if page is None else page.get("source_media")

    def get_page_ids(self, status: str) -> list[str]:
        with self.lock:
            return [page_id for page_id, page in self.pages.items() if page["status"] == status]

    def get_completed_page_ids(self) -> list[str]:
        return self.get_page_ids("complete")

    def get_failed_page_ids(self) -> list[str]:
        return self.get_page_ids("failed")

    def get_in_progress_page_ids(self) -> list[str]:
        return self.get_page_ids("in_progress")

    def get_new_comment_id(self, source_id: str) -> str | None:
        if not self.mappings.may_hold(source_id):  # a new comment: no lock to wait for
            return None
        with self.lock:
            found = self.mappings.find(source_id)
        return None if found is None else found[1]

    def has_id_mapping(self, source_id: str) -> bool:
        return self.get_new_comment_id(source_id) is not None

    def get_revision(self, source_id: str) -> str | None:
        """The digest of the comment's content as last sent, if one was recorded."""
        if not self.mappings.may_hold(source_id):
            return None
        with self.lock:
            found = self.mappings.find(source_id)
        return None if found is None else found[2]

    def get_revisions(
        self, source_ids: Iterable[str], page_id: str | None = None
    ) -> dict[str, str | None]:
        """`get_revision` of many comments (a page's) under one hold of the lock; ids
        without a mapping are left out. `page_id`: the page most of them are mapped under,
        whose mappings are looked in first (one dict look-up rather than a search)."""
        found: dict[str, str | None] = {}
        with self.lock:
            here = self.mappings.page(page_id) if page_id is not None else {}
            for source_id in source_ids:
                mapped_here = here.get(source_id)
                if mapped_here is not None:
                    found[source_id] = mapped_here[1]
                    continue
                entry = self.mappings.find(source_id)
                if entry is not None:
                    found[source_id] = entry[2]
        return found

    def get_id_mappings(self) -> dict[str, str]:
        """Every mapping (reads every page: for reports and small checkpoints)."""
        with self.lock:
            return {
                source: target
                for group in self.mappings.groups()
                for source, target in zip(group["source_ids"], group["target_ids"], strict=True)
            }

    def get_page_mappings(self, page_id: str | None) -> list[tuple[str, str]]:
        """(source id, target id) of the page, in the order they were recorded."""
        with self.lock:
            return [(source, entry[0]) for source, entry in self.mappings.page(page_id).items()]

    def mapping_count(self) -> int:
        return self.mappings.count

    def get_skipped_reason(self, source_id: str) -> str | None:
        entry = self.skipped.get(source_id)
        return None if entry is None else entry[1]

    def get_page_skipped(self, page_id: str | None) -> dict[str, str]:
        with self.lock:
            return dict(self._skipped_by_page.get(page_id, {}))

    def get_media(self, mxc: str) -> JSONDoc | None:
        info = self.media.get(mxc)
        return None if info is None else dict(info)

    def get_syncs(self) -> list[JSONDoc]:
        """Every recorded sync, oldest first (copies)."""
        with self.lock:
            return [dict(info) for info in self.syncs]

    @property
    def last_sync(self) -> JSONDoc | None:
        with self.lock:
            return dict(self.syncs[-1]) if self.syncs else None

    @property
    def config_digest(self) -> str | None:
        return None if self.config is None else cast(str, self.config["digest"])

    @property
    def config_identity(self) -> dict[str, str] | None:
        return None if self.config is None else dict(self.config["identity"])

    def get_metadata(self, key: str, default: Any = None) -> Any:
        return self.metadata.get(key, default)

    def get_progress_summary(self) -> JSONDoc:
        """Counts, percent complete, comment totals, mappings, times (elapsed: start to last
        change)."""
        with self.lock:
            counts = dict(self._status_counts)
            totals = list(self._comment_totals)
        total = max(self.total_pages or 0, len(self.pages))
        done = counts["complete"]
        return {
            "total_pages": total,
            "completed": done,
            "failed": counts["failed"],
            "in_progress": counts["in_progress"],
            "pending": max(total - done - counts["failed"] - counts["in_progress"], 0),
            "percent_complete": round(100.0 * done / total, 1) if total else 0.0,
            "comments_extracted": totals[0],
            "comments_imported": totals[1],
            "comments_skipped": totals[2],
            "mappings": self.mappings.count,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
            "elapsed_seconds": _seconds_between(self.started_at, self.updated_at),
        }


def _seconds_between(start: str | None, end: str | None) -> float:
    if start is None or end is None:
        return 0.0
    try:
        delta = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    except ValueError:
        return 0.0
    return round(max(delta.total_seconds(), 0.0), 3)
