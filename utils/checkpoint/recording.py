"""What a checkpoint can be told: the CheckpointManager's writers, each one journal record.

Arguments are checked before anything is written; a refused call records nothing.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any, cast

from utils.checkpoint.errors import CheckpointError, MappingConflict
from utils.checkpoint.formats import dumps
from utils.checkpoint.state import CheckpointState, ErrorInfo, PageState
from utils.schema_check import is_integer

# an error message is kept for a human; a whole HTML error page would bloat every snapshot
MAX_ERROR_MESSAGE = 2000
MAX_REVISION = 128
_MXC = re.compile(r"^mxc://[^/\s]+/[^/\s]+$")

MappingItem = tuple[str, str, str | None, str | None]  # source id, target id, page, revision


class Recorder:
    """The writers of CheckpointManager (which provides the lock, state and journal)."""

    _lock: threading.RLock
    _state: CheckpointState

    def _now(self) -> str:
        raise NotImplementedError

    def _append(self, items: Sequence[tuple[str, Mapping[str, Any]]], *, durable: bool) -> None:
        raise NotImplementedError

    def _record(self, kind: str, *, durable: bool, **fields: Any) -> None:
        self._append([(kind, fields)], durable=durable)

    def start_migration(self, total_pages: int) -> None:
        """Note the number of pages of this run; the first call also stamps `started_at`."""
        total = _require_count("total_pages", total_pages)
        with self._lock:
            self._record("start", durable=True, total_pages=total)

    def set_config(self, digest: str, identity: Mapping[str, str]) -> None:
        """Store the digest callers compare (and the identity it was computed from)."""
        _require_id("digest", digest)
        plain = {str(key): str(value) for key, value in identity.items()}
        with self._lock:
            if self._state.config == {"digest": digest, "identity": plain}:
                return
            self._record("config", durable=True, digest=digest, identity=plain)

    def set_metadata(self, key: str, value: Any) -> None:
        """Keep a small JSON value (a rollback's progress, say) under `key`."""
        _require_id("key", key)
        dumps(value)  # not JSON (or NaN): refuse before anything is written
        with self._lock:
            if key in self._state.metadata and self._state.metadata[key] == value:
                return
            self._record("meta", durable=True, key=key, value=value)

    def mark_page_in_progress(self, page_id: str) -> None:
        """The page is being worked on; counts one more attempt, keeps its last error."""
        _require_id("page_id", page_id)
        with self._lock:
            old = self._state.pages.get(page_id)
            self._record_page(
                page_id, "in_progress", attempts=(old["attempts"] if old else 0) + 1,
                counts=_counts_of(old), error=old["error"] if old else None,
            )  # fmt: skip

    def mark_page_complete(
        self, page_id: str, extracted: int = 0, imported: int = 0, skipped: int = 0,
        *, source_media: int | None = None, durable: bool = True,
    ) -> None:  # fmt: skip
        """Every comment of the page is mapped or skipped. Counts replace earlier ones;
        `source_media`: comments of it linking media on the source's server (kept if None).
        `durable=False`: no fsync of its own (where the target's own commit is the durable
        point and a lost record only means the page is read back and adopted again)."""
        _require_id("page_id", page_id)
        counts = _require_counts(extracted, imported, skipped)
        if source_media is not None:
            _require_count("source_media", source_media)
        with self._lock:
            old = self._state.pages.get(page_id)
            attempts = max(old["attempts"] if old else 0, 1)
            self._record_page(page_id, "complete", attempts=attempts, counts=counts, error=None,
                              source_media=source_media,
                              durable=None if durable else False)  # fmt: skip

    def mark_page_failed(
        self, page_id: str, error: BaseException | str, *, retryable: bool | None = None,
        error_type: str | None = None, extracted: int = 0, imported: int = 0, skipped: int = 0,
    ) -> None:  # fmt: skip
        """The page failed with `error`; `retryable` defaults to the exception's own flag."""
        _require_id("page_id", page_id)
        counts = _require_counts(extracted, imported, skipped)
        if isinstance(error, BaseException):
            message = str(getattr(error, "message", None) or error) or type(error).__name__
            kind = error_type or type(error).__name__
            flag = getattr(error, "retryable", None)
            if retryable is None and isinstance(flag, bool):
                retryable = flag
        else:
            message, kind = str(error), error_type or "Error"
        if len(message) > MAX_ERROR_MESSAGE:
            message = message[:MAX_ERROR_MESSAGE] + "..."
        with self._lock:
            old = self._state.pages.get(page_id)
            info: ErrorInfo = {"type": kind, "message": message, "retryable": retryable,
                               "time": self._now()}  # fmt: skip
            attempts = max(old["attempts"] if old else 0, 1)
            self._record_page(page_id, "failed", attempts=attempts, counts=counts, error=info)

    def set_page_cursor(self, page_id: str, cursor: str | None, *, ref: str | None = None) -> None:
        """Keep the source's position after the newest event read of the page (a Matrix
        pagination token) and `ref`, the page's address it was taken in (a room id); a sync
        reads on from there, in that room only. A page not seen yet stays pending."""
        _require_id("page_id", page_id)
        if cursor is not None:
            _require_id("cursor", cursor)
        if ref is not None:
            _require_id("ref", ref)
        with self._lock:
            old = self._state.pages.get(page_id)
            held = (old.get("cursor"), old.get("cursor_ref")) if old else None
            if held == (cursor, ref) or (old is None and cursor is None):
                return
            self._record_page(
                page_id, old["status"] if old else "pending",
                attempts=old["attempts"] if old else 0, counts=_counts_of(old),
                error=old["error"] if old else None, cursor=(cursor, ref), durable=False,
            )  # fmt: skip

    def add_id_mapping(
        self, source_id: str, new_id: str, page_id: str | None = None, revision: str | None = None
    ) -> bool:
        """Record that the target holds source comment `source_id` as `new_id` (sent with
        content digest `revision`, if given).

        The rule: a source id maps to one target id, ever. The same pair again records nothing
        new (returns False, whatever `page_id`; a new `revision` is kept); a different target
        id for a mapped source id raises MappingConflict and records nothing, because two
        target ids mean the comment exists twice. A skipped comment that gets mapped stops
        being skipped.
        """
        return self.add_id_mappings([(source_id, new_id, page_id, revision)])[0]

    def add_id_mappings(self, items: Sequence[MappingItem]) -> list[bool]:
        """Many mappings (source id, target id, page id, revision) in one journal append and
        at most one fsync (a batch of comments): all recorded or, on a conflict, none.
        Per item, True when newly mapped (add_id_mapping's rule)."""
        for source_id, new_id, page_id, revision in items:
            _require_id("source_id", source_id)
            _require_id("new_id", new_id)
            if page_id is not None:
                _require_id("page_id", page_id)
            if revision is not None:
                _require_revision(revision)
        with self._lock:
            mappings = self._state.mappings
            batch: dict[str, str] = {}
            fresh: list[MappingItem] = []
            records: list[tuple[str, Mapping[str, Any]]] = []
            added: list[bool] = []
            for item in items:
                source_id, new_id, _, revision = item
                found = mappings.find(source_id)
                existing = found[1] if found is not None else batch.get(source_id)
                if existing is not None and existing != new_id:
                    raise MappingConflict(source_id, existing, new_id)
                added.append(existing is None)
                if existing is None:
                    batch[source_id] = new_id
                    fresh.append(item)
                elif revision is not None and (found[2] if found else None) != revision:
                    records.append(("revision", {"source_id": source_id, "revision": revision}))
            records[:0] = _map_records(fresh)
            if records:
                self._append(records, durable=False)
            return added

    def set_revision(self, source_id: str, revision: str) -> None:
        """Record the digest of a mapped comment's content as sent again (after an edit)."""
        _require_id("source_id", source_id)
        _require_revision(revision)
        with self._lock:
            if not self._state.has_id_mapping(source_id):
                raise CheckpointError(
                    f"source comment {source_id!r} has no mapping: map it before recording "
                    "a revision of it"
                )
            if self._state.get_revision(source_id) != revision:
                self._record("revision", durable=False, source_id=source_id, revision=revision)

    def remove_id_mapping(self, source_id: str) -> bool:
        """Forget a mapping (a rollback deleted the comment); False if there was none."""
        _require_id("source_id", source_id)
        with self._lock:
            if not self._state.has_id_mapping(source_id):
                return False
            self._record("unmap", durable=False, source_id=source_id)
            return True

    def add_skipped(self, source_id: str, page_id: str | None, reason: str) -> None:
        """The comment is deliberately not imported, for `reason`. A mapped one can't be."""
        _require_id("source_id", source_id)
        if page_id is not None:
            _require_id("page_id", page_id)
        if not isinstance(reason, str):
            raise TypeError("reason must be a str")
        with self._lock:
            existing = self._state.get_new_comment_id(source_id)
            if existing is not None:
                raise MappingConflict(source_id, existing, f"(skipped: {reason})")
            if self._state.skipped.get(source_id) == (page_id, reason):
                return
            self._record("skip", durable=False, source_id=source_id, page_id=page_id,
                         reason=reason)  # fmt: skip

    def record_media(self, mxc: str, info: Mapping[str, Any]) -> None:
        """Keep where media file `mxc` (an mxc:// URI) was stored: `info` has name,
        content_type, size and sha256 (more keys are kept too)."""
        if not isinstance(mxc, str) or not _MXC.match(mxc):
            raise ValueError(f"not an mxc:// URI: {mxc!r}")
        plain = dict(info)
        dumps(plain)
        with self._lock:
            if self._state.media.get(mxc) == plain:
                return
            self._record("media", durable=False, mxc=mxc, info=plain)

    def record_sync(self, info: Mapping[str, Any]) -> None:
        """Add one sync to the history (`at`, `imported`, `pages`, ...; `at` defaults to now)."""
        plain = dict(info)
        dumps(plain)
        with self._lock:
            plain.setdefault("at", self._now())
            self._record("sync", durable=True, info=plain)

    def _record_page(
        self, page_id: str, status: str, *, attempts: int, counts: tuple[int, int, int],
        error: ErrorInfo | None, cursor: tuple[str | None, str | None] | None = None,
        source_media: int | None = None, durable: bool | None = None,
    ) -> None:  # fmt: skip
        """`cursor`: a new (token, ref) pair; None keeps the page's own, as the source's
        media count is kept when `source_media` is None."""
        old = self._state.pages.get(page_id)
        state: PageState = {"status": status, "attempts": attempts, "extracted": counts[0],
                            "imported": counts[1], "skipped": counts[2], "error": error,
                            "updated_at": self._now()}  # fmt: skip
        token, ref = cursor if cursor is not None else (
            (old.get("cursor"), old.get("cursor_ref")) if old else (None, None)
        )  # fmt: skip
        if token is not None:
            state["cursor"] = token
            if ref is not None:  # a ref without its cursor means nothing
                state["cursor_ref"] = ref
        media = source_media if source_media is not None else (
            old.get("source_media") if old else None
        )  # fmt: skip
        if media is not None:
            state["source_media"] = media
        if durable is None:
            durable = status in ("complete", "failed")
        self._record("page", durable=durable, page_id=page_id, state=state)


def _map_records(items: Sequence[MappingItem]) -> list[tuple[str, Mapping[str, Any]]]:
    """One map_page record per run of items on one page (a page's comments, committed or
    sent in a batch, cost one record), a map record for an item alone."""
    records: list[tuple[str, Mapping[str, Any]]] = []
    start = 0
    while start < len(items):
        page_id = items[start][2]
        end = start + 1
        while end < len(items) and items[end][2] == page_id:
            end += 1
        run = items[start:end]
        if len(run) == 1:
            source_id, new_id, _, revision = run[0]
            single = {"source_id": source_id, "target_id": new_id, "page_id": page_id}
            records.append(("map", {**single, **({"revision": revision} if revision else {})}))
        else:
            fields: dict[str, Any] = {
                "page_id": page_id,
                "source_ids": [item[0] for item in run],
                "target_ids": [item[1] for item in run],
            }
            if any(item[3] for item in run):
                fields["revisions"] = [item[3] for item in run]
            records.append(("map_page", fields))
        start = end
    return records


def _counts_of(page: PageState | None) -> tuple[int, int, int]:
    return (page["extracted"], page["imported"], page["skipped"]) if page else (0, 0, 0)


def _require_id(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    return value


def _require_revision(value: object) -> None:
    _require_id("revision", value)
    if len(str(value)) > MAX_REVISION:
        raise ValueError(f"revision must be at most {MAX_REVISION} characters (a digest)")


def _require_count(name: str, value: object) -> int:
    if not is_integer(value) or cast(int, value) < 0:
        raise ValueError(f"{name} must be a whole number >= 0, not {value!r}")
    return int(cast(int, value))


def _require_counts(extracted: int, imported: int, skipped: int) -> tuple[int, int, int]:
    return (_require_count("extracted", extracted), _require_count("imported", imported),
            _require_count("skipped", skipped))  # fmt: skip
