"""What one page's pass produced (`PageResult`), and how the pages' results add up to the
counts, lists and notes of a run's or a sync's summary (`tally`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from migrate.pipeline.changes import SyncSummary
from migrate.reporter import RunSummary

log = logging.getLogger(__name__)


@dataclass
class PageResult:
    page_id: str
    status: str  # complete | failed | interrupted | skipped | unchanged (sync)
    extracted: int = 0
    imported: int = 0  # sent and accepted during this run
    adopted: int = 0  # found already in the target (reconciliation, or a 409 "already there")
    skipped: int = 0
    error: str | None = None
    unfinished: int = 0  # comments of a failed page neither mapped nor skipped
    source_media: int = 0  # comments whose media links point at the source's server
    skipped_comments: list[dict[str, str]] = field(default_factory=list)  # refused by rule
    skipped_events: list[dict[str, str]] = field(default_factory=list)  # not comments, or bad
    adopted_ids: set[str] = field(default_factory=set)  # reconciliation's finds
    # answered "already there" (a 409): the target holds a version of unknown age
    existed_ids: set[str] = field(default_factory=set)
    changes: list[dict[str, object]] = field(default_factory=list)  # edits, deletions (sync)
    orphans: list[str] = field(default_factory=list)  # replies whose parent the source lacks


def tally(summary: RunSummary, results: Sequence[PageResult]) -> None:
    """Add the pages' results to `summary`: counts, skips, failures, changes, and the note
    on media left on the source's server."""
    for result in results:
        summary.comments_extracted += result.extracted
        summary.comments_imported += result.imported
        summary.comments_adopted += result.adopted
        summary.skipped_comments.extend(result.skipped_comments)
        summary.skipped_events.extend(result.skipped_events)
        if result.status == "failed":
            summary.failed_pages.append({"page_id": result.page_id, "error": result.error})
        elif result.status == "interrupted":
            summary.pages_interrupted += 1
        if isinstance(summary, SyncSummary):
            summary.pages_unchanged += result.status == "unchanged"
            summary.changes.extend(result.changes)
    summary.comments_skipped = len(summary.skipped_comments)
    summary.comments_failed = sum(r.unfinished for r in results)
    orphans = [f"{r.page_id}/{cid}" for r in results for cid in r.orphans]
    if orphans:
        shown = ", ".join(orphans[:10]) + (" ..." if len(orphans) > 10 else "")
        summary.notes.append(
            f"{len(orphans)} replies answer a comment the source does not hold; they are top "
            f"level now (page/comment: {shown})"
        )
    media = sum(r.source_media for r in results)
    if media:
        summary.notes.append(
            f"{media} comments link media (images, files, avatars) on the source's server, "
            "which readers may not be able to open and which go when it is turned off: add "
            "[media] (dir, base_url) to copy them, then run `sync`."
        )
    stale = [c for r in results for c in r.changes if c["kind"] == "media" and not c["applied"]]
    if stale:
        summary.notes.append(
            f"{len(stale)} comments already in the {summary.target} target still link media on "
            "the source's server: [media] copied the files, but the target cannot change a "
            "comment it holds. They are listed as `media` changes (`--json`: all of them)."
        )
