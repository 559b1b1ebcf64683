"""The migration checkpoint: a versioned JSON snapshot plus an append-only journal beside it.

For a checkpoint PATH (default `.migration_checkpoint.json`) there are three files, all 0600:

    PATH          the snapshot: one JSON document, `version` 1, described by
                  `utils/schemas/checkpoint.schema.json` (#/$defs/snapshot); replaced whole by
                  compaction (temp file, fsync, os.replace, fsync of the folder)
    PATH.journal  JSON Lines, one #/$defs/journal_record per change, each appended with one
                  write() call; records carry a `seq` that rises by one per record
    PATH.lock     flock(2) held by the one process using the checkpoint; holds its PID

Load = snapshot + replay of the journal records whose `seq` is above the snapshot's
`journal_seq`. Compaction writes a snapshot holding everything first and empties the journal
second, so a crash in between leaves records that replay skips: nothing lost, nothing applied
twice. A torn last journal line (a crash mid-write) is dropped with a warning; anything else
invalid raises CheckpointError naming the file, the line and how to recover.

Recording a page or a mapping costs one small append. Compaction rewrites everything, so it
runs only once the journal holds half as many records as the snapshot has entries (and at
least `compact_threshold`): at most two entries rewritten per record, whatever the size. The
price is replay after a crash: up to half the snapshot's size in records (~6 us each).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, TypedDict, cast

from utils.errors import ToolError
from utils.fileio import (
    atomic_write_text,
    atomic_writer,
    open_append_fd,
    remove_durably,
    write_all,
)
from utils.filelock import FileLock, LockHeld
from utils.logger import get_logger
from utils.schema_check import Check, SchemaCompiler, explain, is_integer

SCHEMA_VERSION = 1
FORMAT = "comment-migrate-checkpoint"
DEFAULT_CHECKPOINT = ".migration_checkpoint.json"
PAGE_STATUSES = ("pending", "in_progress", "complete", "failed")
# an error message is kept for a human; a whole HTML error page would bloat every snapshot
MAX_ERROR_MESSAGE = 2000
# compaction waits for 1/COMPACT_GROWTH of the snapshot's entries in records: constant amortized
# cost per record, and a bounded replay after a crash
COMPACT_GROWTH = 2

FsyncPolicy = Literal["always", "page", "never"]
JSONDoc = dict[str, Any]

RECOVERY = (
    "Restore it from a backup, check it with `comment-migrate checkpoint validate {path}`, "
    "or start over with `comment-migrate run --reset` (which moves it aside)."
)


class CheckpointError(ToolError):
    """The checkpoint cannot be used: invalid, unreadable, locked, or asked for something wrong."""

    def __init__(self, message: str, *, path: Path | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class CheckpointLocked(CheckpointError):
    """Another process (PID in `.pid`, None if it could not be read) uses this checkpoint."""

    def __init__(self, path: Path, pid: int | None) -> None:
        holder = f"process {pid}" if pid is not None else "another process"
        super().__init__(
            f"{path}: the checkpoint is in use by {holder} (another comment-migrate run?). "
            "Wait for it to finish or stop it, then try again.",
            path=path,
        )
        self.pid = pid


class MappingConflict(CheckpointError):
    """A source id already maps to another target id (or is mapped and is being skipped)."""

    def __init__(self, source_id: str, existing: str, new: str) -> None:
        super().__init__(
            f"source comment {source_id!r} is already mapped to {existing!r}; refusing to map it "
            f"to {new!r} as well (that would be a duplicate in the target). Remove the old "
            "mapping first if the target really holds the comment under the new id."
        )
        self.source_id = source_id
        self.existing = existing
        self.new = new


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


def journal_path(checkpoint: Path) -> Path:
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.name + ".journal")


def lock_path(checkpoint: Path) -> Path:
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.name + ".lock")


def _corrupt(file: Path, problem: str, *, checkpoint: Path, line: int | None) -> CheckpointError:
    where = f"{file}, line {line}" if line is not None else str(file)
    return CheckpointError(
        f"{where}: {problem}. {RECOVERY.format(path=checkpoint)}", path=file, line=line
    )



@functools.cache
def load_schema() -> JSONDoc:
    """The shipped JSON Schema (package data): snapshot at the root, records in $defs."""
    text = resources.files("utils").joinpath("schemas/checkpoint.schema.json").read_text("utf-8")
    return cast(JSONDoc, json.loads(text))


RECORD_KINDS = ("start", "page", "map", "unmap", "skip", "config", "meta")


@functools.cache
def _checkers() -> tuple[Check, Check]:
    """(snapshot check, journal record check), compiled once from the shipped schema."""
    compiler = SchemaCompiler(load_schema())
    by_kind = {kind: compiler.definition(f"record_{kind}") for kind in RECORD_KINDS}

    def record_ok(record: Any) -> bool:
        # journal_record is anyOf the record_<kind> definitions, each fixing its `kind`: only
        # the one its kind names can match, so trying that one alone is the same test
        kind = record.get("kind") if isinstance(record, dict) else None
        check = by_kind.get(kind) if isinstance(kind, str) else None
        return check is not None and check(record)

    return compiler.definition("snapshot"), record_ok


def _explain(instance: Any, definition: str) -> tuple[str, list[str | int]]:
    """jsonschema's account of why `instance` fails `#/$defs/<definition>`: (message, path)."""
    return explain(load_schema(), instance, definition)


def _format_path(path: Iterable[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(the document)"


def _record_definition(record: Any) -> str:
    kind = record.get("kind") if isinstance(record, dict) else None
    return f"record_{kind}" if kind in RECORD_KINDS else "journal_record"



class _SemanticError(Exception):
    """Valid against the schema but inconsistent (a mapping twice, a seq gap...)."""

    def __init__(self, message: str, json_path: list[str | int] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.json_path = json_path or []


class CheckpointState:
    """Everything a checkpoint records, with read-only queries.

    `read_checkpoint()` returns one of these; CheckpointManager keeps one and guards it.
    """

    def __init__(self) -> None:
        self.journal_seq = 0  # seq of the last record folded in or replayed
        self.started_at: str | None = None
        self.updated_at: str | None = None
        self.total_pages: int | None = None
        self.config: JSONDoc | None = None
        self.metadata: JSONDoc = {}
        self.pages: dict[str, PageState] = {}
        self.targets: dict[str, str] = {}
        # per page (None: recorded without a page), its mapped source ids in insertion order
        self.page_sources: dict[str | None, list[str]] = {}
        self.skipped: dict[str, tuple[str | None, str]] = {}
        # source id -> page, built on the first removal only: a million entries cost memory
        self._page_of: dict[str, str | None] | None = None
        self._status_counts = dict.fromkeys(PAGE_STATUSES, 0)
        self._comment_totals = [0, 0, 0]  # extracted, imported, skipped over all pages

    # -- building

    @classmethod
    def from_document(cls, doc: JSONDoc) -> CheckpointState:
        """A state from a schema-valid version-1 snapshot (its lists are adopted, not copied)."""
        state = cls()
        state.journal_seq = doc["journal_seq"]
        state.started_at = doc["started_at"]
        state.updated_at = doc["updated_at"]
        state.total_pages = doc["total_pages"]
        state.config = doc["config"]
        state.metadata = doc["metadata"]
        for page_id, page in doc["pages"].items():
            state._set_page(page_id, cast(PageState, page))
        targets = state.targets
        for index, group in enumerate(doc["mappings"]):
            sources, new_ids = group["source_ids"], group["target_ids"]
            if len(sources) != len(new_ids):
                raise _SemanticError(
                    f"{len(sources)} source ids but {len(new_ids)} target ids",
                    ["mappings", index],
                )
            if group["page_id"] in state.page_sources:
                raise _SemanticError(
                    f"page {group['page_id']!r} has a second mapping group", ["mappings", index]
                )
            before = len(targets)
            targets.update(zip(sources, new_ids, strict=True))
            if len(targets) != before + len(sources):
                raise _duplicate_source(doc["mappings"], index)
            state.page_sources[group["page_id"]] = sources
        for source_id, entry in doc["skipped"].items():
            if source_id in targets:
                raise _SemanticError(
                    f"source comment {source_id!r} is both mapped and skipped",
                    ["skipped", source_id],
                )
            state.skipped[source_id] = (entry["page_id"], entry["reason"])
        return state

    def to_document(self) -> JSONDoc:
        """The version-1 snapshot of this state (sharing its lists: serialize it at once)."""
        targets = self.targets
        return {
            "format": FORMAT,
            "version": SCHEMA_VERSION,
            "journal_seq": self.journal_seq,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
            "total_pages": self.total_pages,
            "config": self.config,
            "metadata": self.metadata,
            "pages": self.pages,
            "mappings": [
                {"page_id": page_id, "source_ids": sources,
                 "target_ids": [targets[source] for source in sources]}
                for page_id, sources in self.page_sources.items()
                if sources
            ],
            "skipped": {
                source_id: {"page_id": page_id, "reason": reason}
                for source_id, (page_id, reason) in self.skipped.items()
            },
        }

    def apply(self, record: JSONDoc) -> None:
        """Apply one schema-valid journal record."""
        kind = record["kind"]
        if kind == "map":
            self._map(record["source_id"], record["target_id"], record["page_id"])
        elif kind == "page":
            self._set_page(record["page_id"], cast(PageState, record["state"]))
        elif kind == "unmap":
            self._unmap(record["source_id"])
        elif kind == "skip":
            if record["source_id"] in self.targets:
                raise _SemanticError(f"source comment {record['source_id']!r} is mapped")
            self.skipped[record["source_id"]] = (record["page_id"], record["reason"])
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

    def _map(self, source_id: str, new_id: str, page_id: str | None) -> None:
        existing = self.targets.get(source_id)
        if existing is not None:
            if existing == new_id:
                return
            raise _SemanticError(
                f"source comment {source_id!r} mapped to {new_id!r} but already to {existing!r}"
            )
        self.targets[source_id] = new_id
        self.page_sources.setdefault(page_id, []).append(source_id)
        if self._page_of is not None:
            self._page_of[source_id] = page_id
        self.skipped.pop(source_id, None)

    def _unmap(self, source_id: str) -> None:
        if self.targets.pop(source_id, None) is None:
            return
        if self._page_of is None:
            self._page_of = {
                source: page_id for page_id, sources in self.page_sources.items()
                for source in sources
            }
        page_id = self._page_of.pop(source_id)
        self.page_sources[page_id].remove(source_id)

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

    # -- queries (CheckpointManager offers the same ones, under its lock)

    def entry_count(self) -> int:
        return len(self.pages) + len(self.targets) + len(self.skipped)

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
        return {"page_id": page_id, **page, "error": None if error is None else dict(error)}

    def get_page_ids(self, status: str) -> list[str]:
        return [page_id for page_id, page in self.pages.items() if page["status"] == status]

    def get_completed_page_ids(self) -> list[str]:
        return self.get_page_ids("complete")

    def get_failed_page_ids(self) -> list[str]:
        return self.get_page_ids("failed")

    def get_in_progress_page_ids(self) -> list[str]:
        return self.get_page_ids("in_progress")

    def get_new_comment_id(self, source_id: str) -> str | None:
        return self.targets.get(source_id)

    def has_id_mapping(self, source_id: str) -> bool:
        return source_id in self.targets

    def get_id_mappings(self) -> dict[str, str]:
        return dict(self.targets)

    def get_page_mappings(self, page_id: str | None) -> list[tuple[str, str]]:
        targets = self.targets
        return [(source, targets[source]) for source in self.page_sources.get(page_id, ())]

    def mapping_count(self) -> int:
        return len(self.targets)

    def get_skipped_reason(self, source_id: str) -> str | None:
        entry = self.skipped.get(source_id)
        return None if entry is None else entry[1]

    def get_page_skipped(self, page_id: str | None) -> dict[str, str]:
        return {
            source: reason for source, (page, reason) in self.skipped.items() if page == page_id
        }

    @property
    def config_digest(self) -> str | None:
        return None if self.config is None else cast(str, self.config["digest"])

    @property
    def config_identity(self) -> dict[str, str] | None:
        return None if self.config is None else dict(self.config["identity"])

    def get_metadata(self, key: str, default: Any = None) -> Any:
        return self.metadata.get(key, default)

    # -- SYNC SHIM (branch `sync`): stopgap until the `checkpoint` branch lands these names;
    # kept in metadata under "sync.*" keys. The lead replaces this block at merge.

    def get_page_cursor(self, page_id: str) -> str | None:
        value = self.metadata.get(f"sync.cursor.{page_id}")
        return value if isinstance(value, str) else None

    def get_revision(self, source_id: str) -> str | None:
        value = self.metadata.get(f"sync.revision.{source_id}")
        return value if isinstance(value, str) else None

    def get_syncs(self) -> list[dict[str, Any]]:
        return [dict(s) for s in self.metadata.get("sync.history") or []]

    @property
    def last_sync(self) -> dict[str, Any] | None:
        syncs = self.get_syncs()
        return syncs[-1] if syncs else None

    # -- END SYNC SHIM

    def get_progress_summary(self) -> JSONDoc:
        counts = self._status_counts
        total = max(self.total_pages or 0, len(self.pages))
        done = counts["complete"]
        return {
            "total_pages": total,
            "completed": done,
            "failed": counts["failed"],
            "in_progress": counts["in_progress"],
            "pending": max(total - done - counts["failed"] - counts["in_progress"], 0),
            "percent_complete": round(100.0 * done / total, 1) if total else 0.0,
            "comments_extracted": self._comment_totals[0],
            "comments_imported": self._comment_totals[1],
            "comments_skipped": self._comment_totals[2],
            "mappings": len(self.targets),
            "started_at": self.started_at,
            "updated_at": self.updated_at,
            "elapsed_seconds": _seconds_between(self.started_at, self.updated_at),
        }


def _duplicate_source(groups: list[JSONDoc], upto: int) -> _SemanticError:
    seen: set[str] = set()
    for index, group in enumerate(groups[: upto + 1]):
        for position, source in enumerate(group["source_ids"]):
            if source in seen:
                return _SemanticError(
                    f"source comment {source!r} is mapped twice",
                    ["mappings", index, "source_ids", position],
                )
            seen.add(source)
    return _SemanticError("a source comment is mapped twice", ["mappings", upto])


def _seconds_between(start: str | None, end: str | None) -> float:
    if start is None or end is None:
        return 0.0
    try:
        delta = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    except ValueError:
        return 0.0
    return round(max(delta.total_seconds(), 0.0), 3)



LEGACY_KEYS = frozenset({"completed_pages", "failed_pages", "id_mapping"})


def _upgrade_0_to_1(doc: JSONDoc) -> JSONDoc:
    """Version 0: the flat file of the first migration scripts, without a version field:

        {"completed_pages": [page_id, ...], "failed_pages": {page_id: error message},
         "id_mapping": {source_id: target_id}, "total_pages": n?, "started_at": time?,
         "last_updated": time?}
    """
    completed = doc.get("completed_pages", [])
    failed = doc.get("failed_pages", {})
    mapping = doc.get("id_mapping", {})
    if not (isinstance(completed, list) and all(isinstance(p, str) for p in completed)):
        raise _SemanticError("completed_pages must be a list of page ids", ["completed_pages"])
    if not (isinstance(failed, dict) and all(isinstance(m, str) for m in failed.values())):
        raise _SemanticError("failed_pages must map page ids to messages", ["failed_pages"])
    if not (isinstance(mapping, dict) and all(isinstance(t, str) for t in mapping.values())):
        raise _SemanticError("id_mapping must map source ids to target ids", ["id_mapping"])
    started = doc.get("started_at") if isinstance(doc.get("started_at"), str) else None
    updated = doc.get("last_updated") if isinstance(doc.get("last_updated"), str) else None
    when = updated or started or _utc_now()
    total: Any = doc.get("total_pages")
    pages: JSONDoc = {}
    for page_id, message in failed.items():
        error = {"type": "Error", "message": message, "retryable": None, "time": when}
        pages[page_id] = _page_doc("failed", when, error=error)
    for page_id in completed:
        pages[page_id] = _page_doc("complete", when)
    return {
        "format": FORMAT,
        "version": 1,
        "journal_seq": 0,
        "started_at": started,
        "updated_at": updated,
        "total_pages": int(total) if is_integer(total) and total >= 0 else None,
        "config": None,
        "metadata": {},
        "pages": pages,
        "mappings": [
            {"page_id": None, "source_ids": list(mapping), "target_ids": list(mapping.values())}
        ] if mapping else [],
        "skipped": {},
    }


def _page_doc(status: str, when: str, error: JSONDoc | None = None) -> JSONDoc:
    return {"status": status, "attempts": 1, "extracted": 0, "imported": 0, "skipped": 0,
            "error": error, "updated_at": when}


# version n -> the step that turns a version-n document into a version-(n+1) one
UPGRADES: dict[int, Callable[[JSONDoc], JSONDoc]] = {0: _upgrade_0_to_1}


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")



def _locate(file: Path, json_path: list[str | int]) -> int | None:
    """The line of `json_path` in a snapshot laid out by _write_snapshot (best effort)."""
    try:
        lines = file.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    if len(lines) <= 1:
        return 1 if lines else None
    if not json_path:
        return 1
    top = re.compile(re.escape(json.dumps(json_path[0], ensure_ascii=False)) + r"\s*:")
    start = next((n for n, text in enumerate(lines) if top.match(text)), None)
    if start is None:
        return None
    if len(json_path) == 1:
        return start + 1
    key = json_path[1]
    if isinstance(key, int):
        line = start + 1 + key
        return line + 1 if line < len(lines) else start + 1
    entry = "  " + json.dumps(key, ensure_ascii=False) + ":"
    found = next((n for n in range(start + 1, len(lines)) if lines[n].startswith(entry)), None)
    return (found if found is not None else start) + 1


def _stored_version(doc: JSONDoc, file: Path, checkpoint: Path) -> int:
    if "version" not in doc:
        if LEGACY_KEYS & doc.keys():
            return 0
        raise _corrupt(file, "no `version` field: this is not a comment-migrate checkpoint",
                       checkpoint=checkpoint, line=1)
    version = doc["version"]
    if not is_integer(version) or version < 0:
        raise _corrupt(file, f"`version` must be a whole number, not {version!r}",
                       checkpoint=checkpoint, line=_locate(file, ["version"]))
    return int(version)


def _read_snapshot(file: Path, checkpoint: Path) -> tuple[CheckpointState, int | None]:
    """The snapshot's state and its stored version (None: there is no snapshot)."""
    try:
        # text mode: the undecoded bytes are freed before parsing (matters at a million mappings)
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return CheckpointState(), None
    except UnicodeDecodeError as exc:
        raise _corrupt(file, f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                       checkpoint=checkpoint, line=None) from None
    except OSError as exc:
        raise CheckpointError(f"{file}: cannot read the checkpoint: {exc.strerror}",
                              path=file) from exc
    if not text.strip():
        raise _corrupt(file, "the snapshot is empty (it is always written whole, so something "
                       "else truncated it)", checkpoint=checkpoint, line=1)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _corrupt(file, f"not valid JSON ({exc.msg} at column {exc.colno}); the file is "
                       "truncated or was edited", checkpoint=checkpoint, line=exc.lineno) from None
    del text
    if not isinstance(doc, dict):
        raise _corrupt(file, "not a JSON object", checkpoint=checkpoint, line=1)
    version = _stored_version(doc, file, checkpoint)
    if version > SCHEMA_VERSION:
        line = _locate(file, ["version"])
        raise CheckpointError(
            f"{file}, line {line}: checkpoint format version {version} is newer than this "
            f"comment-migrate understands (up to {SCHEMA_VERSION}). Upgrade comment-migrate to "
            "resume this migration; do not edit or delete the file.",
            path=file, line=line,
        )
    for step in range(version, SCHEMA_VERSION):
        upgrade = UPGRADES.get(step)
        if upgrade is None:
            raise CheckpointError(f"{file}: no upgrade from checkpoint version {step}", path=file)
        try:
            doc = upgrade(doc)
        except _SemanticError as exc:
            raise _corrupt(file, f"cannot upgrade from version {step}: {exc.message}",
                           checkpoint=checkpoint, line=_locate(file, exc.json_path)) from None
    # a line number refers to the file as stored, which an upgraded document no longer is
    def locate(json_path: list[str | int]) -> int | None:
        return _locate(file, json_path) if version == SCHEMA_VERSION else None

    snapshot_ok, _ = _checkers()
    if not snapshot_ok(doc):
        message, where = _explain(doc, "snapshot")
        raise _corrupt(file, f"schema violation at {_format_path(where)}: {message}",
                       checkpoint=checkpoint, line=locate(where))
    try:
        return CheckpointState.from_document(doc), version
    except _SemanticError as exc:
        raise _corrupt(file, f"{exc.message} (at {_format_path(exc.json_path)})",
                       checkpoint=checkpoint, line=locate(exc.json_path)) from None


@dataclass
class _Loaded:
    state: CheckpointState
    stored_version: int | None  # None: no snapshot file
    journal_exists: bool
    snapshot_entries: int  # pages + mappings + skips in the snapshot alone
    journal_lines: int  # complete records in the journal, replayed or already folded in
    replayed: int
    valid_length: int  # bytes of the journal before a torn tail
    torn: bool


def _load_files(checkpoint: Path, logger: logging.Logger) -> _Loaded:
    journal = journal_path(checkpoint)
    # the journal first: a compaction between the two reads then only makes its records stale,
    # where the other order could pair an old snapshot with an emptied journal
    try:
        data = journal.read_bytes()
        journal_exists = True
    except FileNotFoundError:
        data, journal_exists = b"", False
    except OSError as exc:
        raise CheckpointError(f"{journal}: cannot read the journal: {exc.strerror}",
                              path=journal) from exc
    state, stored_version = _read_snapshot(checkpoint, checkpoint)
    loaded = _Loaded(state, stored_version, journal_exists, state.entry_count(), 0, 0,
                     len(data), False)
    _replay(data, journal, checkpoint, loaded, logger)
    return loaded


def _replay(
    data: bytes, journal: Path, checkpoint: Path, loaded: _Loaded, logger: logging.Logger
) -> None:
    _, record_ok = _checkers()
    state = loaded.state
    lines = data.split(b"\n")
    # every record ends with a newline, so the last piece is empty unless a write was torn
    complete, tail = lines[:-1], lines[-1]
    previous_seq = 0
    offset = 0
    for number, raw in enumerate(complete, 1):
        line_start, offset = offset, offset + len(raw) + 1
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError as exc:
            if number == len(complete) and not tail:
                _drop_torn(journal, loaded, line_start, number, logger)
                return
            raise _corrupt(journal, f"not valid JSON ({exc}); a crash only ever tears the last "
                           "line, so the journal was damaged", checkpoint=checkpoint,
                           line=number) from None
        if not record_ok(record):
            message, where = _explain(record, _record_definition(record))
            raise _corrupt(journal, f"invalid record at {_format_path(where)}: {message}",
                           checkpoint=checkpoint, line=number)
        seq: int = record["seq"]
        if seq <= previous_seq:
            raise _corrupt(journal, f"record seq {seq} after seq {previous_seq}: records out of "
                           "order", checkpoint=checkpoint, line=number)
        previous_seq = seq
        loaded.journal_lines += 1
        if seq <= state.journal_seq:
            continue  # folded into the snapshot by a compaction that crashed before emptying us
        if seq != state.journal_seq + 1:
            raise _corrupt(journal, f"record seq {seq} does not follow seq {state.journal_seq} "
                           "of the snapshot: records are missing (is the snapshot an older "
                           "copy, or missing?)", checkpoint=checkpoint, line=number)
        try:
            state.apply(record)
        except _SemanticError as exc:
            raise _corrupt(journal, exc.message, checkpoint=checkpoint, line=number) from None
        loaded.replayed += 1
    if tail:
        _drop_torn(journal, loaded, len(data) - len(tail), len(complete) + 1, logger)


def _drop_torn(
    journal: Path, loaded: _Loaded, start: int, line: int, logger: logging.Logger
) -> None:
    loaded.valid_length = start
    loaded.torn = True
    logger.warning(
        "%s, line %d: dropped a torn last record (the previous run stopped while writing it, "
        "before it was acknowledged)", journal, line,
    )



_dumps = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_ENTRY_PER_LINE = frozenset({"pages", "metadata", "skipped"})


def _write_snapshot(file: Path, doc: JSONDoc) -> None:
    """One top-level field per line and one page, group or skip per line, so that an error
    can name a line and a diff stays readable."""
    with atomic_writer(file) as out:
        out.write("{\n")
        keys = list(doc)
        for position, key in enumerate(keys):
            value = doc[key]
            out.write(json.dumps(key) + ": ")
            if key in _ENTRY_PER_LINE:
                entries = (f"  {_dumps(k)}: {_dumps(v)}" for k, v in value.items())
                _write_lines(out, "{", "}", entries)
            elif key == "mappings":
                _write_lines(out, "[", "]", (f"  {_dumps(group)}" for group in value))
            else:
                out.write(_dumps(value))
            out.write(",\n" if position < len(keys) - 1 else "\n")
        out.write("}\n")


def _write_lines(out: IO[str], opening: str, closing: str, entries: Iterable[str]) -> None:
    out.write(opening + "\n")
    first = True
    for entry in entries:
        if not first:
            out.write(",\n")
        out.write(entry)
        first = False
    out.write(("\n" if not first else "") + closing)



def _require_id(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    return value


def _require_count(name: str, value: object) -> int:
    if not is_integer(value) or cast(int, value) < 0:
        raise ValueError(f"{name} must be a whole number >= 0, not {value!r}")
    return int(cast(int, value))


class CheckpointManager:
    """The durable record of one migration; see the module docstring for files and formats.

    One process at a time (a second one gets CheckpointLocked at once); any number of threads
    of that process (an RLock guards state and journal). Every change is appended to the journal
    with one write() call before the method returns, so SIGKILL cannot lose it; `fsync` decides
    when it is also forced to disk: "page" (default) at start, config, page complete/failed,
    metadata, save_checkpoint(), compaction and close; "always" after every record; "never" only
    at compaction and close. Compaction runs past `compact_threshold` journal records (more for
    a big checkpoint, see COMPACT_GROWTH) and on close.
    """

    def __init__(
        self,
        checkpoint_file: str | os.PathLike[str] = DEFAULT_CHECKPOINT,
        logger: logging.Logger | None = None,
        *,
        fsync: FsyncPolicy = "page",
        compact_threshold: int = 10_000,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if fsync not in ("always", "page", "never"):
            raise ValueError(f"fsync must be 'always', 'page' or 'never', not {fsync!r}")
        if compact_threshold < 1:
            raise ValueError("compact_threshold must be at least 1")
        self.checkpoint_file = Path(checkpoint_file)
        self.journal_file = journal_path(self.checkpoint_file)
        self.lock_file = lock_path(self.checkpoint_file)
        self.logger = logger or get_logger("checkpoint")
        self.fsync: FsyncPolicy = fsync
        self.compact_threshold = compact_threshold
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._state = CheckpointState()
        self._journal_fd: int | None = None
        self._journal_records = 0
        self._journal_size = 0
        self._snapshot_entries = 0
        self._broken: str | None = None
        self._closed = False
        self.checkpoint_file.parent.mkdir(parents=True, exist_ok=True)
        self._file_lock = FileLock(self.lock_file)
        try:
            self._file_lock.acquire()
        except LockHeld as exc:
            raise CheckpointLocked(self.checkpoint_file, exc.pid) from None
        try:
            self._remove_stale_temp_files()
            self._load()
        except BaseException:
            self._close_journal()
            self._file_lock.release()
            raise

    @property
    def state(self) -> CheckpointState:
        """The in-memory state: every read-only query lives there."""
        return self._state

    # -- lifecycle

    def __enter__(self) -> CheckpointManager:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self, *, compact: bool = True) -> None:
        """Fold the journal into the snapshot (unless `compact` is False), then let go of the
        files and the lock."""
        with self._lock:
            if self._closed:
                return
            try:
                if compact and self._journal_records and self._broken is None:
                    self._compact_locked()
            finally:
                self._closed = True
                self._close_journal()
                self._file_lock.release()

    @property
    def closed(self) -> bool:
        return self._closed

    def load_checkpoint(self) -> bool:
        """Reload from disk (snapshot + journal); True when there was anything to load."""
        with self._lock:
            self._check_open()
            self._close_journal()
            self._load()
            return self._state.journal_seq > 0 or bool(self._state.entry_count())

    def save_checkpoint(self) -> None:
        """Force everything recorded so far to disk (records are already in the kernel)."""
        with self._lock:
            self._check_open()
            if self._journal_fd is not None:
                os.fsync(self._journal_fd)

    def compact(self) -> None:
        """Fold the journal into a new snapshot now."""
        with self._lock:
            self._check_open()
            self._check_writable()
            self._compact_locked()

    def clear_checkpoint(self) -> None:
        """Delete snapshot and journal and start empty (the lock stays held)."""
        with self._lock:
            self._check_open()
            self._close_journal()
            remove_durably(self.checkpoint_file, self.journal_file)
            self._state = CheckpointState()
            self._journal_records = self._journal_size = self._snapshot_entries = 0
            self._broken = None

    # -- recording

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
        _dumps(value)  # not JSON (or NaN): refuse before anything is written
        with self._lock:
            if key in self._state.metadata and self._state.metadata[key] == value:
                return
            self._record("meta", durable=True, key=key, value=value)

    # -- SYNC SHIM (branch `sync`): stopgap until the `checkpoint` branch lands these names;
    # metadata records under "sync.*" keys, journaled without an fsync of their own (like a
    # mapping). The lead replaces this block at merge.

    def set_page_cursor(self, page_id: str, cursor: str) -> None:
        self._set_meta_lazily(f"sync.cursor.{_require_id('page_id', page_id)}", cursor)

    def set_revision(self, source_id: str, revision: str) -> None:
        self._set_meta_lazily(f"sync.revision.{_require_id('source_id', source_id)}", revision)

    def record_sync(self, info: Mapping[str, Any]) -> None:
        with self._lock:
            history = [*self._state.get_syncs(), dict(info)]
        self.set_metadata("sync.history", history)

    def _set_meta_lazily(self, key: str, value: str) -> None:
        with self._lock:
            if self._state.metadata.get(key) == value:
                return
            self._record("meta", durable=False, key=key, value=value)

    # -- END SYNC SHIM

    def mark_page_in_progress(self, page_id: str) -> None:
        """The page is being worked on; counts one more attempt, keeps its last error."""
        _require_id("page_id", page_id)
        with self._lock:
            old = self._state.pages.get(page_id)
            self._record_page(
                page_id, "in_progress",
                attempts=(old["attempts"] if old else 0) + 1,
                counts=(old["extracted"], old["imported"], old["skipped"]) if old else (0, 0, 0),
                error=old["error"] if old else None,
            )

    def mark_page_complete(
        self, page_id: str, extracted: int = 0, imported: int = 0, skipped: int = 0
    ) -> None:
        """Every comment of the page is mapped or skipped. Counts replace earlier ones."""
        _require_id("page_id", page_id)
        counts = (_require_count("extracted", extracted), _require_count("imported", imported),
                  _require_count("skipped", skipped))
        with self._lock:
            old = self._state.pages.get(page_id)
            self._record_page(page_id, "complete", attempts=max(old["attempts"] if old else 0, 1),
                              counts=counts, error=None)

    def mark_page_failed(
        self,
        page_id: str,
        error: BaseException | str,
        *,
        retryable: bool | None = None,
        error_type: str | None = None,
        extracted: int = 0,
        imported: int = 0,
        skipped: int = 0,
    ) -> None:
        """The page failed with `error`; `retryable` defaults to the exception's own flag."""
        _require_id("page_id", page_id)
        counts = (_require_count("extracted", extracted), _require_count("imported", imported),
                  _require_count("skipped", skipped))
        if isinstance(error, BaseException):
            message = str(getattr(error, "message", None) or error) or type(error).__name__
            kind = error_type or type(error).__name__
            flag = getattr(error, "retryable", None)
            retryable = retryable if retryable is not None else (
                flag if isinstance(flag, bool) else None)
        else:
            message, kind = str(error), error_type or "Error"
        if len(message) > MAX_ERROR_MESSAGE:
            message = message[:MAX_ERROR_MESSAGE] + "..."
        with self._lock:
            old = self._state.pages.get(page_id)
            info: ErrorInfo = {"type": kind, "message": message, "retryable": retryable,
                               "time": self._now()}
            self._record_page(page_id, "failed", attempts=max(old["attempts"] if old else 0, 1),
                              counts=counts, error=info)

    def add_id_mapping(self, source_id: str, new_id: str, page_id: str | None = None) -> bool:
        """Record that the target holds source comment `source_id` as `new_id`.

        The rule: a source id maps to one target id, ever. The same pair again is a no-op
        (returns False, whatever `page_id`); a different target id for a mapped source id
        raises MappingConflict and records nothing, because two target ids mean the comment
        exists twice. A skipped comment that gets mapped stops being skipped.
        """
        _require_id("source_id", source_id)
        _require_id("new_id", new_id)
        if page_id is not None:
            _require_id("page_id", page_id)
        with self._lock:
            existing = self._state.targets.get(source_id)
            if existing == new_id:
                return False
            if existing is not None:
                raise MappingConflict(source_id, existing, new_id)
            self._record("map", durable=False, source_id=source_id, target_id=new_id,
                         page_id=page_id)
            return True

    def remove_id_mapping(self, source_id: str) -> bool:
        """Forget a mapping (a rollback deleted the comment); False if there was none."""
        _require_id("source_id", source_id)
        with self._lock:
            if source_id not in self._state.targets:
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
            existing = self._state.targets.get(source_id)
            if existing is not None:
                raise MappingConflict(source_id, existing, f"(skipped: {reason})")
            if self._state.skipped.get(source_id) == (page_id, reason):
                return
            self._record("skip", durable=False, source_id=source_id, page_id=page_id,
                         reason=reason)

    # -- queries

    def should_skip_page(self, page_id: str) -> bool:
        """True iff the page is complete."""
        with self._lock:
            return self._state.should_skip_page(page_id)

    def is_page_completed(self, page_id: str) -> bool:
        with self._lock:
            return self._state.is_page_completed(page_id)

    def is_page_failed(self, page_id: str) -> bool:
        with self._lock:
            return self._state.is_page_failed(page_id)

    def get_page(self, page_id: str) -> JSONDoc | None:
        with self._lock:
            return self._state.get_page(page_id)

    def get_page_status(self, page_id: str) -> str | None:
        with self._lock:
            return self._state.get_page_status(page_id)

    def get_completed_page_ids(self) -> list[str]:
        with self._lock:
            return self._state.get_completed_page_ids()

    def get_failed_page_ids(self) -> list[str]:
        with self._lock:
            return self._state.get_failed_page_ids()

    def get_in_progress_page_ids(self) -> list[str]:
        with self._lock:
            return self._state.get_in_progress_page_ids()

    def get_new_comment_id(self, source_id: str) -> str | None:
        with self._lock:
            return self._state.get_new_comment_id(source_id)

    def has_id_mapping(self, source_id: str) -> bool:
        with self._lock:
            return self._state.has_id_mapping(source_id)

    def get_id_mappings(self) -> dict[str, str]:
        with self._lock:
            return self._state.get_id_mappings()

    def get_page_mappings(self, page_id: str | None) -> list[tuple[str, str]]:
        """(source id, target id) of the page, in the order they were recorded."""
        with self._lock:
            return self._state.get_page_mappings(page_id)

    def mapping_count(self) -> int:
        with self._lock:
            return self._state.mapping_count()

    def get_skipped_reason(self, source_id: str) -> str | None:
        with self._lock:
            return self._state.get_skipped_reason(source_id)

    def get_page_skipped(self, page_id: str | None) -> dict[str, str]:
        with self._lock:
            return self._state.get_page_skipped(page_id)

    @property
    def config_digest(self) -> str | None:
        with self._lock:
            return self._state.config_digest

    @property
    def config_identity(self) -> dict[str, str] | None:
        with self._lock:
            return self._state.config_identity

    def get_metadata(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._state.get_metadata(key, default)

    def get_progress_summary(self) -> JSONDoc:
        """Counts, percent complete, comment totals, mappings, times (elapsed: start to last
        change)."""
        with self._lock:
            return self._state.get_progress_summary()

    def export_document(self) -> JSONDoc:
        """A copy of the current state as a version-1 snapshot document."""
        with self._lock:
            return cast(JSONDoc, json.loads(_dumps(self._state.to_document())))

    # -- internals (callers hold self._lock)

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="milliseconds")

    def _check_open(self) -> None:
        if self._closed:
            raise CheckpointError(f"{self.checkpoint_file}: the checkpoint manager is closed",
                                  path=self.checkpoint_file)

    def _check_writable(self) -> None:
        if self._broken is not None:
            raise CheckpointError(
                f"{self.journal_file}: a failed write could not be undone ({self._broken}); "
                "reopen the checkpoint", path=self.journal_file)

    def _record_page(
        self, page_id: str, status: str, *, attempts: int, counts: tuple[int, int, int],
        error: ErrorInfo | None,
    ) -> None:
        state: PageState = {"status": status, "attempts": attempts, "extracted": counts[0],
                            "imported": counts[1], "skipped": counts[2], "error": error,
                            "updated_at": self._now()}
        self._record("page", durable=status in ("complete", "failed"), page_id=page_id,
                     state=state)

    def _record(self, kind: str, *, durable: bool, **fields: Any) -> None:
        """Validate, append with one write(), apply, maybe fsync, maybe compact."""
        self._check_open()
        self._check_writable()
        record = {"seq": self._state.journal_seq + 1, "kind": kind, "time": self._now(), **fields}
        _, record_ok = _checkers()
        if not record_ok(record):
            message, where = _explain(record, _record_definition(record))
            raise CheckpointError(f"refusing to journal an invalid {kind} record: "
                                  f"{_format_path(where)}: {message}")
        data = (_dumps(record) + "\n").encode("utf-8")
        fd = self._open_journal()
        try:
            write_all(fd, data)
        except BaseException:
            self._undo_partial_write(fd)
            raise
        self._journal_size += len(data)
        self._journal_records += 1
        self._state.apply(record)
        if self.fsync == "always" or (durable and self.fsync == "page"):
            os.fsync(fd)
        if self._journal_records >= max(self.compact_threshold,
                                        self._snapshot_entries // COMPACT_GROWTH):
            self._compact_locked()

    def _undo_partial_write(self, fd: int) -> None:
        # a partial line left in place would become a corrupt middle line after the next append
        try:
            os.ftruncate(fd, self._journal_size)
        except OSError as exc:
            self._broken = str(exc)

    def _open_journal(self) -> int:
        if self._journal_fd is None:
            self._journal_fd = open_append_fd(self.journal_file)
        return self._journal_fd

    def _close_journal(self) -> None:
        fd, self._journal_fd = self._journal_fd, None
        if fd is not None:
            os.close(fd)

    def _compact_locked(self) -> None:
        doc = self._state.to_document()
        snapshot_ok, _ = _checkers()
        if not snapshot_ok(doc):
            message, where = _explain(doc, "snapshot")
            raise CheckpointError(f"refusing to write an invalid snapshot: "
                                  f"{_format_path(where)}: {message}")
        _write_snapshot(self.checkpoint_file, doc)
        # only now that the snapshot holds every record (up to journal_seq) may they go
        if self._journal_records or self.journal_file.exists():
            fd = self._open_journal()
            os.ftruncate(fd, 0)
            os.fsync(fd)
        self._journal_records = self._journal_size = 0
        self._snapshot_entries = self._state.entry_count()
        self.logger.debug("%s: compacted at seq %d", self.checkpoint_file, self._state.journal_seq)

    def _load(self) -> None:
        loaded = _load_files(self.checkpoint_file, self.logger)
        if loaded.torn:
            # cut the torn tail before anything is appended after it
            fd = self._open_journal()
            os.ftruncate(fd, loaded.valid_length)
            os.fsync(fd)
        self._state = loaded.state
        self._journal_records = loaded.journal_lines
        self._journal_size = loaded.valid_length
        self._snapshot_entries = loaded.snapshot_entries
        self._broken = None
        if loaded.stored_version is not None and loaded.stored_version < SCHEMA_VERSION:
            backup = self.checkpoint_file.with_name(
                f"{self.checkpoint_file.name}.v{loaded.stored_version}.bak")
            atomic_write_text(backup, self.checkpoint_file.read_text("utf-8"))
            self._compact_locked()
            self.logger.info("%s: upgraded from checkpoint version %d to %d (original kept as %s)",
                             self.checkpoint_file, loaded.stored_version, SCHEMA_VERSION, backup)

    def _remove_stale_temp_files(self) -> None:
        # left by a compaction that crashed before its rename; only the lock holder may do this
        folder = self.checkpoint_file.parent
        prefix = f".{self.checkpoint_file.name}."
        with contextlib.suppress(OSError):
            for entry in folder.iterdir():
                if entry.name.startswith(prefix) and entry.name.endswith(".tmp"):
                    entry.unlink(missing_ok=True)



def read_checkpoint(path: str | os.PathLike[str]) -> CheckpointState:
    """The checkpoint's state as on disk, for `status` and `show`. Raises CheckpointError."""
    return _read_only(Path(path)).state


def validate_checkpoint_file(path: str | os.PathLike[str]) -> JSONDoc:
    """Check snapshot and journal completely; a summary, or CheckpointError saying what's wrong."""
    checkpoint = Path(path)
    loaded = _read_only(checkpoint)
    return {
        "path": str(checkpoint),
        "snapshot_exists": loaded.stored_version is not None,
        "stored_version": loaded.stored_version,
        "version": SCHEMA_VERSION,
        "journal_exists": loaded.journal_exists,
        "journal_records": loaded.journal_lines,
        "journal_records_replayed": loaded.replayed,
        "torn_tail_dropped": loaded.torn,
        "journal_seq": loaded.state.journal_seq,
        "pages": len(loaded.state.pages),
        "skipped_comments": len(loaded.state.skipped),
        "config_digest": loaded.state.config_digest,
        **loaded.state.get_progress_summary(),
    }


def _read_only(checkpoint: Path) -> _Loaded:
    if not checkpoint.exists() and not journal_path(checkpoint).exists():
        raise CheckpointError(f"{checkpoint}: no checkpoint here (nor {journal_path(checkpoint)})",
                              path=checkpoint)
    return _load_files(checkpoint, get_logger("checkpoint"))
