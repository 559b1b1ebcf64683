"""`sync`: the cutover. Every page again, complete ones included, importing only what is new
since the last run or sync, with the same exactly-once protocol as `run`.

- A complete page whose source can tell (migrate.abilities.IncrementalSource: Matrix) that
  nothing happened since the page's cursor costs one small read; a page with new events is
  read whole again, so replies to long-migrated comments find their parent through the
  checkpoint. Other sources (archives) are read whole and compared with what is mapped.
- Edits and deletions of migrated comments are applied where the target can, reported
  where it cannot (migrate.pipeline.changes).
- File targets (migrate.abilities.DeltaFileTarget) get a new file beside the output for what
  this sync brings (`<stem>.sync-<UTC time><suffix>`); what was imported is never rewritten.
- `--dry-run` works on a copy of the checkpoint and sends nothing, writes nothing and
  records nothing: it says what a sync would do now.
- A finished sync (not an interrupted one) is recorded in the checkpoint, for `status`.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrate.abilities import DeltaFileTarget, IncrementalSource, Target
from migrate.pipeline.changes import SyncSummary
from migrate.session import dry_run_copy, make_orchestrator, open_checkpoint, source_mirror
from migrate.systems.jsonl.target import JsonlTarget

if TYPE_CHECKING:
    from migrate.migration import Migration

log = logging.getLogger(__name__)

_KEPT_CHANGES = 200  # unapplied changes listed per history entry (the count is exact)


@dataclass
class SyncOptions:
    workers: int | None = None
    dry_run: bool = False
    quiet: bool = False


def sync_label(now: datetime) -> str:
    """The delta file's tag, e.g. sync-20261124T120000 (UTC)."""
    return "sync-" + now.astimezone(UTC).strftime("%Y%m%dT%H%M%S")


def sync_migration(
    migration: Migration, options: SyncOptions, *, stop: threading.Event | None = None
) -> SyncSummary:
    path = migration.checkpoint
    spec = migration.target
    now = datetime.now(UTC)
    tmpdir: str | None = None
    try:
        if options.dry_run:
            # plan for the real target's rules on a copy of the checkpoint; the JSONL of what
            # would be sent is thrown away with the copy
            tmpdir = tempfile.mkdtemp(prefix="comment-migrate-sync-dry-run-")
            path = dry_run_copy(path, Path(tmpdir))
            target: Target = JsonlTarget(
                Path(tmpdir) / "would-send.jsonl", capabilities=spec.capabilities
            )
            work = target
        else:
            target = spec.build()
            work = target.delta(sync_label(now)) if isinstance(target, DeltaFileTarget) else target
        try:
            with open_checkpoint(migration, path, dry_run=options.dry_run) as cp:
                pages = list(migration.source.pages())
                orchestrator = make_orchestrator(
                    migration,
                    work,
                    cp,
                    options,
                    stop,
                    apply_changes=not options.dry_run,
                    copy_media=not options.dry_run and source_mirror(migration) is not None,
                )
                summary = orchestrator.run(pages, sync=True)
                assert isinstance(summary, SyncSummary)
                summary.output = _written(work) if work is not target else spec.output
                if not options.dry_run and not summary.interrupted:
                    cp.record_sync(_history_entry(summary, now))
        finally:
            if work is not target:
                work.close()
            target.close()
        if work is not target:
            summary.output = _written(work)  # a WXR delta is rebuilt on close
        summary.target = spec.name
        summary.dry_run = options.dry_run
        if not isinstance(migration.source, IncrementalSource):
            made = getattr(migration.source, "created_at", None)
            summary.snapshot = made.strftime("%Y-%m-%d %H:%M UTC") if made else ""
        if options.dry_run:
            summary.output = None  # the plan's file went with the temporary copy
        return summary
    finally:
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)


def _written(target: Target) -> str | None:
    """The delta file, when this sync wrote one."""
    output = getattr(target, "output", None)
    return str(output) if output is not None and Path(output).exists() else None


def _history_entry(summary: SyncSummary, started: datetime) -> dict[str, Any]:
    return {
        "at": started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "pages": summary.pages_total,
        "pages_unchanged": summary.pages_unchanged,
        "pages_failed": len(summary.failed_pages),
        "comments_imported": summary.comments_imported,
        "comments_adopted": summary.comments_adopted,
        "changes_applied": summary.changes_applied,
        "changes_not_applied": summary.changes_not_applied,
        "output": summary.output,
        # kept for whoever applies them by hand; a page read again later retries them
        "not_applied": [c for c in summary.changes if not c["applied"]][:_KEPT_CHANGES],
    }


def describe_sync(summary: SyncSummary) -> str:
    """The lines a sync adds to the run summary (stderr)."""
    unchanged = (
        f"  sync:     {summary.pages_unchanged} of {summary.pages_total} pages "
        "unchanged since the last run or sync; "
    )
    if summary.snapshot is not None:  # nothing is posted to a snapshot: say what it is
        written = f", written {summary.snapshot}" if summary.snapshot else ""
        unchanged = (
            f"  sync:     the source is a snapshot (an archive{written}) and cannot change: "
            "to bring comments posted since, run `comment-migrate extract` again, then "
            "`comment-migrate sync`; "
        )
    if summary.dry_run:
        lines = [unchanged + f"{len(summary.changes)} edits/deletions found (none applied)"]
    else:
        lines = [
            unchanged + f"{summary.changes_applied} edits/deletions applied, "
            f"{summary.changes_not_applied} that the target cannot apply"
        ]
    listed = (
        [c for c in summary.changes if not c["applied"]] if not summary.dry_run else summary.changes
    )
    for change in listed[:20]:
        note = f" ({change['note']})" if change["note"] and not summary.dry_run else ""
        lines.append(
            f"    {change['kind']} {change['page_id']}/{change['source_id']} "
            f"(target id {change['target_id']}){note}"
        )
    if len(listed) > 20:
        lines.append(f"    ... and {len(listed) - 20} more (`--json` lists them all)")
    return "\n".join(lines)
