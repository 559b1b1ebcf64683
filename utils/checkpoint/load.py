"""Loading a checkpoint (snapshot + journal replay) and the read-only helpers built on it.

A checkpoint exists when its snapshot or its journal does: a crash before the first
compaction leaves a journal alone, and that is a checkpoint everywhere. Readers take no lock
and write nothing.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from utils.checkpoint.errors import CheckpointError
from utils.checkpoint.formats import SCHEMA_VERSION, JSONDoc, journal_path
from utils.checkpoint.journal import Replay, replay
from utils.checkpoint.snapshot import read_snapshot
from utils.checkpoint.state import CheckpointState
from utils.errors import ToolError
from utils.fileio import read_bytes

log = logging.getLogger(__name__)


@dataclass
class Loaded:
    state: CheckpointState
    stored_version: int | None  # None: no snapshot file
    snapshot_entries: int  # pages + mappings + skips + media in the snapshot alone
    journal: Replay

    @property
    def journal_current(self) -> bool:
        """The journal may be appended to as it is: empty, or a current-format journal
        extending exactly this snapshot (not a legacy one, not a stale leftover)."""
        head = self.journal.header
        if self.journal.valid_length == 0:
            return True
        return head is not None and head["snapshot"] == self.state.snapshot_id


def checkpoint_exists(path: str | os.PathLike[str]) -> bool:
    """True when a snapshot or a journal is there (a journal alone is a checkpoint too)."""
    checkpoint = Path(path)
    return os.path.lexists(checkpoint) or os.path.lexists(journal_path(checkpoint))


def load_files(
    checkpoint: Path, logger: logging.Logger, lock: threading.RLock | None = None
) -> Loaded:
    journal = journal_path(checkpoint)
    # the journal first: a compaction between the two reads then only makes its records stale,
    # where the other order could pair an old snapshot with an emptied journal
    try:
        data, exists = read_bytes(journal), True
    except FileNotFoundError:
        data, exists = b"", False
    except ToolError as exc:
        raise CheckpointError(exc.message, path=journal) from None
    except OSError as exc:
        raise CheckpointError(f"{journal}: cannot read the journal: {exc.strerror}",
                              path=journal) from exc  # fmt: skip
    state, stored_version = read_snapshot(checkpoint, checkpoint, CheckpointState(lock))
    if state is None:
        state = CheckpointState(lock)
    state.mappings.attach(checkpoint, journal)  # a page's mappings are read from there
    entries = state.entry_count()
    if data:
        result = replay(data, journal, checkpoint, state, stored_version, logger)
    else:
        result = Replay(exists=exists)
    return Loaded(state, stored_version, entries, result)


def _read_only(checkpoint: Path) -> Loaded:
    if not checkpoint_exists(checkpoint):
        raise CheckpointError(
            f"{checkpoint}: no checkpoint here (nor {journal_path(checkpoint)})", path=checkpoint
        )
    return load_files(checkpoint, log)


def read_checkpoint(path: str | os.PathLike[str]) -> CheckpointState:
    """The checkpoint's state as on disk, for `status` and `show`. Raises CheckpointError."""
    return _read_only(Path(path)).state


def validate_checkpoint_file(path: str | os.PathLike[str]) -> JSONDoc:
    """Check snapshot and journal completely (schema, checksums, binding, sequence); a summary,
    or CheckpointError saying what is wrong and where."""
    checkpoint = Path(path)
    loaded = _read_only(checkpoint)
    state = loaded.state
    return {
        "path": str(checkpoint),
        "snapshot_exists": loaded.stored_version is not None,
        "stored_version": loaded.stored_version,
        "version": SCHEMA_VERSION,
        "migration_id": state.migration_id,
        "journal_exists": loaded.journal.exists,
        "journal_records": loaded.journal.lines,
        "journal_records_replayed": loaded.journal.replayed,
        "torn_tail_dropped": loaded.journal.torn,
        "journal_seq": state.journal_seq,
        "pages": len(state.pages),
        "skipped_comments": len(state.skipped),
        "media_files": len(state.media),
        "syncs": len(state.syncs),
        "config_digest": state.config_digest,
        **state.get_progress_summary(),
    }
