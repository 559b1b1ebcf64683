"""`run`: migrate every page not yet complete (or plan it, with a dry run).

Everything that touches the checkpoint's files happens under its lock: `--reset` takes the
lock before it moves the old checkpoint aside, so a migration that is running keeps its state.
A dry run plans from a copy of the real checkpoint, writes only a file it creates itself, and
never opens the real target.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from glob import escape as glob_escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrate.abilities import Target
from migrate.commands.rollback import ROLLBACK_KEY
from migrate.errors import ConfigChanged, ExitStatus, MigrateError
from migrate.identity import describe_identity_change
from migrate.pipeline.orchestrator import Orchestrator
from migrate.reporter import Reporter, RunSummary
from migrate.systems.jsonl.target import JsonlTarget
from utils.checkpoint_manager import (
    CheckpointManager,
    checkpoint_exists,
    journal_path,
    lock_path,
)
from utils.filelock import FileLock, LockHeld

if TYPE_CHECKING:
    from migrate.commands.sync import SyncOptions
    from migrate.migration import Migration

log = logging.getLogger(__name__)

KEEP_PLANS = 5  # a dry run keeps the newest plans it wrote beside the checkpoint
STDOUT = Path("-")


class RollbackUnfinished(MigrateError):
    exit_status = ExitStatus.CHECKPOINT


class NoCheckpoint(MigrateError):
    exit_status = ExitStatus.CHECKPOINT


class OutputExists(MigrateError):
    exit_status = ExitStatus.USAGE


@dataclass
class RunOptions:
    workers: int | None = None
    page_ids: Sequence[str] = ()
    only_failed: bool = False
    reset: bool = False
    dry_run: bool = False
    dry_run_output: Path | None = None
    quiet: bool = False


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


def check_identity(cp: CheckpointManager, migration: Migration, *, record: bool = True) -> None:
    """The checkpoint belongs to this migration; a new one is stamped with it (`record`)."""
    digest = migration.digest
    state = cp.state
    if state.config_digest is None:
        if record:
            cp.set_config(digest, dict(migration.identity))
    elif state.config_digest != digest:
        what = describe_identity_change(state.config_identity or {}, dict(migration.identity))
        raise ConfigChanged(
            f"checkpoint {cp.checkpoint_file} was made for another migration ({what}). "
            "Use the matching configuration, another --checkpoint, or --reset to start over "
            "(the old checkpoint is moved aside, not deleted)."
        )


@contextlib.contextmanager
def _media(migration: Migration, cp: CheckpointManager, *, dry_run: bool) -> Iterator[None]:
    """A source that copies media records each file in the checkpoint, so a rerun fetches
    nothing again; a dry run copies nothing (its plan links the homeserver)."""
    mirror = getattr(migration.source, "mirror", None)
    if mirror is None:
        yield
        return
    if dry_run:
        migration.source.mirror = None  # type: ignore[attr-defined]
        log.warning("a dry run copies no media: the plan links the homeserver")
        try:
            yield
        finally:
            migration.source.mirror = mirror  # type: ignore[attr-defined]
        return
    if hasattr(cp, "record_media"):
        mirror.ledger = cp
    yield


@contextlib.contextmanager
def open_checkpoint(
    migration: Migration, path: Path, *, dry_run: bool
) -> Iterator[CheckpointManager]:
    """The checkpoint of a run or a sync, under its lock: made for this migration, with no
    rollback half done, recording the media the source copies."""
    with CheckpointManager(checkpoint_file=path) as cp, _media(migration, cp, dry_run=dry_run):
        check_identity(cp, migration)
        if cp.state.get_metadata(ROLLBACK_KEY):
            raise RollbackUnfinished(
                f"a rollback of {path} is unfinished; finish it with "
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
        reporter=Reporter(quiet=options.quiet),
        stop=stop,
        **extra,
    )


def _dry_run_copy(path: Path, tmpdir: Path) -> Path:
    copy = tmpdir / "checkpoint.json"
    for original, duplicate in ((path, copy), (journal_path(path), journal_path(copy))):
        if original.exists():
            shutil.copyfile(original, duplicate)
    return copy


def _plan_stem(checkpoint: Path) -> str:
    return f"{checkpoint.name.lstrip('.')}.dry-run-"  # visible, though the checkpoint is not


def _plan_path(checkpoint: Path) -> Path:
    """A new file beside the checkpoint for each dry run: `<checkpoint>.dry-run-<time>.jsonl`
    (the newest KEEP_PLANS are kept, older ones of that name removed: the tool made them)."""
    folder, stem = checkpoint.parent, _plan_stem(checkpoint)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")  # sorts by time
    path, n = folder / f"{stem}{stamp}.jsonl", 1
    while path.exists() or path.is_symlink():
        n += 1
        path = folder / f"{stem}{stamp}-{n}.jsonl"
    return path


def _prune_plans(checkpoint: Path) -> None:
    stem = _plan_stem(checkpoint)
    plans = sorted(
        (p for p in checkpoint.parent.glob(f"{glob_escape(stem)}*.jsonl") if p.is_file()),
        key=lambda p: p.stat().st_mtime_ns,
    )
    for old in plans[:-KEEP_PLANS]:
        for leftover in (old, *old.parent.glob(f"{glob_escape(old.name)}.*")):
            leftover.unlink(missing_ok=True)


def run_migration(
    migration: Migration, options: RunOptions, *, stop: threading.Event | None = None
) -> RunSummary:
    path = migration.checkpoint
    spec = migration.target
    tmpdir: str | None = None
    to_stdout: Path | None = None
    try:
        if options.dry_run:
            # plan for the real target's rules, write JSONL, keep no state; start from a copy
            # of the real checkpoint, so the plan is what the next real run would do
            output = options.dry_run_output or _plan_path(path)
            if output == STDOUT:
                output = Path(tempfile.mkdtemp(prefix="comment-migrate-plan-")) / "plan.jsonl"
                to_stdout = output
            elif output.exists() or output.is_symlink():
                raise OutputExists(
                    f"{output} exists; a dry run writes only a new file. Remove it or name "
                    "another with --output."
                )
            tmpdir = tempfile.mkdtemp(prefix="comment-migrate-dry-run-")
            path = _dry_run_copy(path, Path(tmpdir))
            target: Target = JsonlTarget(output, capabilities=spec.capabilities)
        else:
            target = spec.build()  # a missing token stops here, before anything is touched
            if options.reset:
                for moved in move_aside_locked(path):
                    log.warning("moved the old checkpoint aside to %s", moved)
        try:
            with open_checkpoint(migration, path, dry_run=options.dry_run) as cp:
                pages = list(migration.source.pages())
                orchestrator = make_orchestrator(migration, target, cp, options, stop)
                summary = orchestrator.run(
                    pages, page_ids=options.page_ids, only_failed=options.only_failed
                )
        finally:
            target.close()
        summary.target = spec.name
        summary.dry_run = options.dry_run
        summary.output = str(output) if options.dry_run else spec.output
        if options.dry_run and not output.exists():
            summary.output = None  # nothing to send: no plan was written
        elif to_stdout is not None:
            with to_stdout.open(encoding="utf-8") as plan:
                shutil.copyfileobj(plan, sys.stdout)
            summary.output = "-"
        elif options.dry_run and options.dry_run_output is None:
            _prune_plans(migration.checkpoint)
        return summary
    finally:
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)
        if to_stdout is not None:
            shutil.rmtree(to_stdout.parent, ignore_errors=True)
