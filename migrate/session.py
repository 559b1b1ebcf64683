"""What every verb shares: the checkpoint opened under its lock for this migration (its
identity checked, no rollback half done, the media mirror started only then), the checkpoint
moved aside, a dry run's copy, and the orchestrator built from a migration.

It sits below the verbs (migrate/commands/) and above the pipeline: a verb imports this,
never a sibling verb.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrate.abilities import Target
from migrate.errors import ConfigChanged, ExitStatus, MigrateError
from migrate.identity import describe_identity_change
from migrate.media import MediaMirror
from migrate.pipeline.orchestrator import Orchestrator
from migrate.reporter import Reporter
from utils.checkpoint_manager import (
    CheckpointManager,
    checkpoint_exists,
    journal_path,
    lock_path,
    read_checkpoint,
)
from utils.filelock import FileLock, LockHeld

if TYPE_CHECKING:
    from migrate.commands.run import RunOptions
    from migrate.commands.sync import SyncOptions
    from migrate.migration import Migration

log = logging.getLogger(__name__)

# the checkpoint's metadata while a rollback is unfinished: `run` and `sync` refuse to start
ROLLBACK_KEY = "rollback_in_progress"


class RollbackUnfinished(MigrateError):
    exit_status = ExitStatus.CHECKPOINT


class NoCheckpoint(MigrateError):
    exit_status = ExitStatus.CHECKPOINT


def move_aside(path: Path) -> list[Path]:
    """Keep the old checkpoint (and journal) under a timestamped name (--reset, rollback).
    The caller holds the checkpoint's lock."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    moved = []
    for candidate in (path, journal_path(path)):
        if candidate.exists():
            dest = candidate.with_name(f"{candidate.name}.{stamp}.bak")
            candidate.replace(dest)
            moved.append(dest)
    return moved


def move_aside_locked(path: Path) -> list[Path]:
    """Take the checkpoint's lock, then move it aside: a running migration keeps its files
    (this fails, naming the holder, instead)."""
    from utils.checkpoint_manager import CheckpointLocked

    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_path(path))
    try:
        lock.acquire()
    except LockHeld as exc:
        raise CheckpointLocked(path, exc.pid) from None
    try:
        return move_aside(path)
    finally:
        lock.release()


def require_checkpoint(path: Path, purpose: str) -> None:
    """Commands that read a migration need its checkpoint (a journal alone is one: a crash
    before the first compaction leaves no snapshot)."""
    if not checkpoint_exists(path):
        raise NoCheckpoint(f"{path}: no checkpoint {purpose} (has `run` been run?)")


def check_identity(
    cp: CheckpointManager, migration: Migration, *, record: bool = True, named: Path | None = None
) -> None:
    """The checkpoint belongs to this migration; a new one is stamped with it (`record`).
    `named`: the user's checkpoint, when `cp` is a dry run's copy of it."""
    digest = migration.digest
    state = cp.state
    if state.config_digest is None:
        if record:
            cp.set_config(digest, dict(migration.identity))
    elif state.config_digest != digest:
        what = describe_identity_change(state.config_identity or {}, dict(migration.identity))
        raise ConfigChanged(
            f"checkpoint {named or cp.checkpoint_file} was made for another migration ({what}). "
            "Use the matching configuration, another --checkpoint, or --reset to start over "
            "(the old checkpoint is moved aside, not deleted)."
        )


def source_mirror(migration: Migration) -> MediaMirror | None:
    """The media mirror of a source that copies media ([media]), if any."""
    mirror = getattr(migration.source, "mirror", None)
    return mirror if isinstance(mirror, MediaMirror) else None


@contextlib.contextmanager
def _media(migration: Migration, cp: CheckpointManager, *, dry_run: bool) -> Iterator[None]:
    """Called under the checkpoint's lock: a run or a sync starts the mirror, which records
    each file in the checkpoint, so a rerun fetches nothing again; a dry run only links the
    copies the checkpoint knows (it downloads and writes nothing)."""
    mirror = source_mirror(migration)
    if mirror is None:
        yield
        return
    if dry_run:
        mirror.ledger = cp  # the dry run's copy: read, never written through the mirror
        log.warning("a dry run copies no media: files not copied yet link the source's server")
    else:
        mirror.start(cp)
    yield


@contextlib.contextmanager
def open_checkpoint(
    migration: Migration, path: Path, *, dry_run: bool
) -> Iterator[CheckpointManager]:
    """The checkpoint of a run or a sync, under its lock: made for this migration, with no
    rollback half done, recording the media the source copies. A dry run's `path` is a
    copy; messages name the user's checkpoint (`migration.checkpoint`)."""
    named = migration.checkpoint
    with (
        CheckpointManager(checkpoint_file=path) as cp,
        _media(migration, cp, dry_run=dry_run),
    ):
        check_identity(cp, migration, named=named)
        if cp.state.get_metadata(ROLLBACK_KEY):
            raise RollbackUnfinished(
                f"a rollback of {named} is unfinished; finish it with "
                "`comment-migrate rollback` before running again"
            )
        yield cp


def make_orchestrator(
    migration: Migration,
    target: Target,
    cp: CheckpointManager,
    options: RunOptions | SyncOptions,
    stop: threading.Event | None,
    **extra: Any,
) -> Orchestrator:
    return Orchestrator(
        migration.source,
        target,
        cp,
        workers=options.workers or migration.workers,
        mention_parent=migration.mention_parent,
        keep_ip=migration.keep_ip,
        # a dry run's stand-in target holds no earlier comment: it cannot tell which were
        # removed, so it plans every reply under the parent it had
        orphans="fail" if options.dry_run else migration.orphans,
        reporter=Reporter(quiet=options.quiet),
        stop=stop,
        **extra,
    )


def dry_run_copy(path: Path, tmpdir: Path) -> Path:
    """A copy of the checkpoint to plan on; the original is read first, so a damaged one
    is an error naming the user's file, not the copy."""
    if path.exists():
        read_checkpoint(path)
    copy = tmpdir / "checkpoint.json"
    for original, duplicate in ((path, copy), (journal_path(path), journal_path(copy))):
        if original.exists():
            shutil.copyfile(original, duplicate)
    return copy
