"""`run`: migrate every page not yet complete (or plan it, with a dry run).

Everything that touches the checkpoint's files happens under its lock: `--reset` takes the
lock before it moves the old checkpoint aside, so a migration that is running keeps its state.
A dry run plans from a copy of the real checkpoint, writes only a file it creates itself, and
never opens the real target.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from glob import escape as glob_escape
from pathlib import Path
from typing import TYPE_CHECKING

from migrate.abilities import Target
from migrate.errors import ExitStatus, MigrateError
from migrate.reporter import RunSummary
from migrate.session import dry_run_copy, make_orchestrator, move_aside_locked, open_checkpoint
from migrate.systems.jsonl.target import JsonlTarget

if TYPE_CHECKING:
    from migrate.migration import Migration

log = logging.getLogger(__name__)

KEEP_PLANS = 5  # a dry run keeps the newest plans it wrote beside the checkpoint
STDOUT = Path("-")


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
            path = dry_run_copy(path, Path(tmpdir))
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
