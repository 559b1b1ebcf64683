"""CheckpointManager: the one writer of a checkpoint (lock, recording, compaction).

Every change is one journal record appended with one write() call before the method returns
(a batch of mappings: one write for all), so SIGKILL cannot lose it. Compaction rewrites
everything, so it runs only once the journal holds half as many records as the snapshot has
entries (and at least `compact_threshold`): at most two entries rewritten per record, whatever
the size. The read-only queries live on `manager.state` (a CheckpointState).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from utils.checkpoint import recording as rec
from utils.checkpoint.errors import CheckpointError, CheckpointLocked
from utils.checkpoint.formats import (
    DEFAULT_CHECKPOINT,
    SCHEMA_VERSION,
    JSONDoc,
    checkers,
    explain_failure,
    journal_path,
    lock_path,
    record_definition,
)
from utils.checkpoint.journal import encode_line, header
from utils.checkpoint.load import Loaded, load_files
from utils.checkpoint.snapshot import write_snapshot
from utils.checkpoint.state import CheckpointState
from utils.checkpoint.upgrade import new_id
from utils.errors import TornAppend, UnsafeFile
from utils.fileio import (
    append_all,
    atomic_binary_writer,
    disk_full_as_error,
    open_append_fd,
    read_bytes,
    remove_durably,
)
from utils.filelock import FileLock, LockHeld

FsyncPolicy = Literal["always", "page", "never"]
# compaction waits for 1/COMPACT_GROWTH of the snapshot's entries in records: constant amortized
# cost per record, and a bounded replay after a crash
COMPACT_GROWTH = 2
MAX_ERROR_MESSAGE = rec.MAX_ERROR_MESSAGE


class CheckpointManager(rec.Recorder):
    """The durable record of one migration (see utils.checkpoint for files and formats).

    One process at a time (a second one gets CheckpointLocked at once); any number of threads
    of that process (an RLock guards state and journal). `fsync` decides when a record is also
    forced to disk: "page" (default) at start, config, page complete/failed, metadata, syncs,
    save_checkpoint(), compaction and close; "always" after every append; "never" only at
    compaction and close. Compaction runs past `compact_threshold` records and on close.
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
        self.logger = logger or logging.getLogger(__name__)
        self.fsync: FsyncPolicy = fsync
        self.compact_threshold = compact_threshold
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._state = CheckpointState(self._lock)
        self._journal_fd: int | None = None
        self._journal_records = 0
        self._journal_size = 0
        self._snapshot_entries = 0
        self._broken: str | None = None
        self._closed = False
        if self.checkpoint_file.is_dir():  # before the lock: a folder must leave no `.lock`
            raise CheckpointError(
                f"{self.checkpoint_file} is a folder; the checkpoint is a file (for example "
                f"{self.checkpoint_file / '.migration_checkpoint.json'})",
                path=self.checkpoint_file,
            )
        self.checkpoint_file.parent.mkdir(parents=True, exist_ok=True)
        self._file_lock = FileLock(self.lock_file)
        try:
            self._file_lock.acquire()
        except LockHeld as exc:
            raise CheckpointLocked(self.checkpoint_file, exc.pid) from None
        except UnsafeFile as exc:
            raise CheckpointError(exc.message, path=self.lock_file) from None
        try:
            self._remove_stale_temp_files()
            self._load()
        except BaseException:
            self._close_journal()
            self._file_lock.release()
            raise

    @property
    def state(self) -> CheckpointState:
        """The live state, for every read-only query (state.get_page_status(...) ...)."""
        return self._state

    # -- lifecycle

    def __enter__(self) -> Self:
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
                with disk_full_as_error(self.journal_file):
                    os.fsync(self._journal_fd)

    def compact(self) -> None:
        """Fold the journal into a new snapshot now."""
        with self._lock:
            self._check_open()
            self._check_writable()
            self._compact_locked()

    def clear_checkpoint(self) -> None:
        """Delete snapshot and journal and start empty, as a new migration (lock stays held)."""
        with self._lock:
            self._check_open()
            self._close_journal()
            remove_durably(self.checkpoint_file, self.journal_file)
            self._state = CheckpointState(self._lock)
            self._state.migration_id = new_id()
            self._journal_records = self._journal_size = self._snapshot_entries = 0
            self._broken = None

    # -- queries kept on the manager for site owners' scripts (the rest: manager.state)

    def should_skip_page(self, page_id: str) -> bool:
        """True iff the page is complete."""
        return self._state.should_skip_page(page_id)

    def is_page_completed(self, page_id: str) -> bool:
        return self._state.is_page_completed(page_id)

    def is_page_failed(self, page_id: str) -> bool:
        return self._state.is_page_failed(page_id)

    def get_completed_page_ids(self) -> list[str]:
        return self._state.get_completed_page_ids()

    def get_failed_page_ids(self) -> list[str]:
        return self._state.get_failed_page_ids()

    def get_new_comment_id(self, source_id: str) -> str | None:
        return self._state.get_new_comment_id(source_id)

    def has_id_mapping(self, source_id: str) -> bool:
        return self._state.has_id_mapping(source_id)

    def get_progress_summary(self) -> JSONDoc:
        return self._state.get_progress_summary()

    def get_media(self, mxc: str) -> Mapping[str, Any] | None:
        """What record_media stored for `mxc`, or None (the media module binds to this)."""
        return self._state.get_media(mxc)

    # -- internals (callers hold self._lock)

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="milliseconds")

    def _check_open(self) -> None:
        if self._closed:
            raise CheckpointError(
                f"{self.checkpoint_file}: the checkpoint manager is closed",
                path=self.checkpoint_file,
            )

    def _check_writable(self) -> None:
        if self._broken is not None:
            raise CheckpointError(
                f"{self.journal_file}: a failed write could not be undone ({self._broken}); "
                "reopen the checkpoint",
                path=self.journal_file,
            )

    def _append(self, items: Sequence[tuple[str, Mapping[str, Any]]], *, durable: bool) -> None:
        """Validate, append every record with one write(), apply, maybe fsync, maybe compact."""
        self._check_open()
        self._check_writable()
        _, record_ok, _ = checkers()
        records = []
        seq = self._state.journal_seq
        for kind, fields in items:
            seq += 1
            record = {"seq": seq, "kind": kind, "time": self._now(), **fields}
            if not record_ok(record):
                raise CheckpointError(
                    f"refusing to journal an invalid {kind} record: "
                    f"{explain_failure(record, record_definition(record))}"
                )
            records.append(record)
        data = b"".join(map(encode_line, records))
        if self._journal_size == 0:
            state = self._state
            first = header(state.migration_id or "", state.snapshot_id, state.journal_seq)
            data = encode_line(first) + data
        fd = self._open_journal()
        sync = self.fsync == "always" or (durable and self.fsync == "page")
        try:
            append_all(fd, data, size=self._journal_size, path=self.journal_file, fsync=sync)
        except TornAppend as exc:
            self._broken = exc.message
            raise
        self._journal_size += len(data)
        self._journal_records += len(records)
        for record in records:
            self._state.apply(record)
        if self._journal_records >= max(
            self.compact_threshold, self._snapshot_entries // COMPACT_GROWTH
        ):
            self._compact_locked()

    def _open_journal(self) -> int:
        if self._journal_fd is None:
            try:
                self._journal_fd = open_append_fd(self.journal_file)
            except UnsafeFile as exc:
                raise CheckpointError(exc.message, path=self.journal_file) from None
        return self._journal_fd

    def _close_journal(self) -> None:
        fd, self._journal_fd = self._journal_fd, None
        if fd is not None:
            os.close(fd)

    def _cut_journal(self, size: int) -> None:
        """Cut the journal (a torn tail, or records a snapshot now holds) to `size` bytes."""
        fd = self._open_journal()
        with disk_full_as_error(self.journal_file):
            os.ftruncate(fd, size)
            os.fsync(fd)
        self._journal_size = size

    def _compact_locked(self) -> None:
        snapshot_id = new_id()
        doc = self._state.to_document(snapshot_id)
        snapshot_ok, _, _ = checkers()
        if not snapshot_ok(doc):
            raise CheckpointError(
                f"refusing to write an invalid snapshot: {explain_failure(doc, 'snapshot')}"
            )
        write_snapshot(self.checkpoint_file, doc)
        self._state.snapshot_id = snapshot_id
        # only now that the snapshot holds every record (up to journal_seq) may they go
        if self._journal_size or os.path.lexists(self.journal_file):
            self._cut_journal(0)
        self._journal_records = self._journal_size = 0
        self._snapshot_entries = self._state.entry_count()
        self.logger.debug("%s: compacted at seq %d", self.checkpoint_file, self._state.journal_seq)

    def _load(self) -> None:
        loaded = load_files(self.checkpoint_file, self.logger, self._lock)
        self._state = loaded.state
        if self._state.migration_id is None:
            self._state.migration_id = new_id()
        self._journal_records = loaded.journal.lines
        self._journal_size = loaded.journal.valid_length
        self._snapshot_entries = loaded.snapshot_entries
        self._broken = None
        if loaded.journal.torn:
            self._cut_journal(loaded.journal.valid_length)  # before anything is appended to it
        outdated = loaded.journal.legacy or (
            loaded.stored_version is not None and loaded.stored_version < SCHEMA_VERSION
        )
        if outdated:
            self._upgrade(loaded)
        elif not loaded.journal_current:
            # records of an older snapshot, all folded into this one: a compaction was cut short
            self._cut_journal(0)
            self._journal_records = 0

    def _upgrade(self, loaded: Loaded) -> None:
        old = loaded.stored_version if loaded.stored_version is not None else 1
        kept = []
        for file in (self.checkpoint_file, self.journal_file):
            if os.path.lexists(file):
                backup = file.with_name(f"{file.name}.v{old}.bak")
                with atomic_binary_writer(backup) as out:
                    out.write(read_bytes(file))
                kept.append(str(backup))
        self._compact_locked()
        self.logger.info(
            "%s: upgraded from checkpoint version %d to %d (original kept as %s)",
            self.checkpoint_file, old, SCHEMA_VERSION, ", ".join(kept),
        )  # fmt: skip

    def _remove_stale_temp_files(self) -> None:
        # left by a compaction that crashed before its rename; only the lock holder may do this
        folder = self.checkpoint_file.parent
        prefix = f".{self.checkpoint_file.name}."
        with contextlib.suppress(OSError):
            for entry in folder.iterdir():
                if entry.name.startswith(prefix) and entry.name.endswith(".tmp"):
                    entry.unlink(missing_ok=True)
