"""The migration checkpoint: a versioned, checksummed JSON snapshot plus a journal beside it.

For a checkpoint PATH there are three files, all created 0600 and opened without following
symbolic links:

    PATH          the snapshot (snapshot.py): one JSON document, `version` 3, described by
                  `utils/schemas/checkpoint.schema.json` (#/$defs/snapshot), sealed by a
                  checksum; replaced whole by compaction (temp file, fsync, os.replace, fsync
                  of the folder)
    PATH.journal  JSON Lines (journal.py): a header binding it to the migration and the
                  snapshot it extends, then one checksummed record per change
    PATH.lock     flock(2) held by the one process using the checkpoint; holds its PID

Load = snapshot + replay of the journal records whose `seq` is above the snapshot's
`journal_seq` (load.py); a journal alone (a crash before the first compaction) is a
checkpoint too. Compaction writes a snapshot holding everything first and empties the journal
second, so a crash in between leaves records that replay skips: nothing lost, nothing applied
twice. A torn last journal line is dropped with a warning; anything else invalid raises
CheckpointError naming the file, the line and how to recover. Older versions are upgraded by
explicit steps (upgrade.py). CheckpointManager (manager.py, recording.py) is the one writer;
CheckpointState (state.py) holds what was recorded and answers every query. The mappings stay
in the files: memory holds where each page's are, and reads a page's when asked (mappings.py).
"""

from utils.checkpoint.errors import CheckpointError, CheckpointLocked, MappingConflict
from utils.checkpoint.formats import (
    DEFAULT_CHECKPOINT,
    FORMAT,
    PAGE_STATUSES,
    SCHEMA_VERSION,
    journal_path,
    load_schema,
    lock_path,
)
from utils.checkpoint.load import checkpoint_exists, read_checkpoint, validate_checkpoint_file
from utils.checkpoint.manager import COMPACT_GROWTH, CheckpointManager, FsyncPolicy
from utils.checkpoint.recording import MAX_ERROR_MESSAGE, MappingItem
from utils.checkpoint.state import CheckpointState, ErrorInfo, PageState
from utils.checkpoint.upgrade import UPGRADES
from utils.errors import DiskFull

__all__ = [
    "COMPACT_GROWTH",
    "DEFAULT_CHECKPOINT",
    "FORMAT",
    "MAX_ERROR_MESSAGE",
    "PAGE_STATUSES",
    "SCHEMA_VERSION",
    "UPGRADES",
    "CheckpointError",
    "CheckpointLocked",
    "CheckpointManager",
    "CheckpointState",
    "DiskFull",
    "ErrorInfo",
    "FsyncPolicy",
    "MappingConflict",
    "MappingItem",
    "PageState",
    "checkpoint_exists",
    "journal_path",
    "load_schema",
    "lock_path",
    "read_checkpoint",
    "validate_checkpoint_file",
]
