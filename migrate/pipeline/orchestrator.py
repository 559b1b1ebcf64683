"""The migration: for each page, extract, transform, import, checkpoint.

The only module that knows both a source and a target. Its core promise, kept even under
SIGKILL at any instant: no comment twice, none lost, every reply under its parent.

1. A source comment with a mapping (or a recorded skip) is never sent again.
2. The mapping is journaled right after the target accepts the comment (file targets: right
   after the page is committed, since nothing of an uncommitted page exists).
3. The gap between "accepted" and "journaled" is closed per target: an idempotency key
   (http, reconciled only on pages found in_progress or failed), or, before anything of a
   page is sent, a reconciliation that adopts what the target already holds (isso, file
   targets: every page, since a page without a status may be there already).
4. A page is complete only when every comment of it is mapped or skipped with a reason.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from migrate.errors import ExitStatus, MigrateError
from migrate.model import (
    Comment,
    CommentRefused,
    IncrementalSource,
    Page,
    PageComments,
    PageError,
    SkippedEvent,
    Source,
    Target,
)
from migrate.pipeline.changes import ChangeApplier, SyncSummary
from migrate.pipeline.ledger import PageLedger
from migrate.pipeline.transform import CommentTransformer, PagePlan
from migrate.reporter import Reporter, RunSummary
from utils.checkpoint_manager import CheckpointManager
from utils.errors import DiskFull
from utils.http import HttpError
from utils.redact import redact

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
    homeserver_media: int = 0  # comments whose media links point at the homeserver
    skipped_comments: list[dict[str, str]] = field(default_factory=list)  # refused by rule
    skipped_events: list[dict[str, str]] = field(default_factory=list)  # not comments, or bad
    adopted_ids: set[str] = field(default_factory=set)  # reconciliation's finds
    changes: list[dict[str, object]] = field(default_factory=list)  # edits, deletions (sync)


class _PageInterrupted(Exception):
    pass


class PageSelectionError(MigrateError):
    exit_status = ExitStatus.USAGE


class Orchestrator:
    def __init__(
        self,
        source: Source,
        target: Target,
        checkpoint: CheckpointManager,
        *,
        workers: int = 4,
        mention_parent: bool = True,
        reporter: Reporter | None = None,
        stop: threading.Event | None = None,
        apply_changes: bool = True,
    ) -> None:
        self.source = source
        self.target = target
        self.checkpoint = checkpoint
        self.workers = max(1, workers)
        self.transformer = CommentTransformer(
            target.capabilities, system=source.system, mention_parent=mention_parent
        )
        self.reporter = reporter or Reporter(quiet=True)
        self.stop = stop or threading.Event()
        self.changes = ChangeApplier(target, checkpoint, apply=apply_changes)
        self._work: Callable[[Page], PageResult] = self.migrate_page

    # -- one page ------------------------------------------------------------------------

    def migrate_page(
        self, page: Page, prefetched: tuple[PageComments, str | None] | None = None
    ) -> PageResult:
        """Extract, place, send and record one page; the page ends complete or failed
        (or interrupted, left in progress for the next run). `prefetched`: the page as a
        sync already read it, with its cursor."""
        cp = self.checkpoint
        prior = cp.state.get_page_status(page.id)
        cp.mark_page_in_progress(page.id)
        result = PageResult(page.id, "complete")
        ledger = PageLedger.open(cp, page.id, buffered=self.target.capabilities.page_atomic)
        mapped_before = set(ledger.mapped)
        comments: list[Comment] = []
        cursor: str | None = None
        try:
            extracted, cursor = prefetched or self._extract(page)
            comments = extracted.comments
            result.extracted = len(comments)
            result.homeserver_media = extracted.homeserver_media
            self.reporter.page_extracted(len(comments))
            self._record_source_skips(extracted.skipped, ledger, result)
            plan = PagePlan(self.transformer, page, comments)
            self.target.begin_page(page)
            pending = [c for c in plan.order if not ledger.is_done(c.id)]
            if pending and self._must_reconcile(prior):
                self._reconcile(page, plan, pending, ledger, result)
            for comment in plan.order:
                if ledger.is_done(comment.id):
                    continue
                if self.stop.is_set():
                    raise _PageInterrupted
                self._send(plan, comment, ledger, result)
            self.target.finish_page(page)
            ledger.commit()
            self._apply_changes(plan, comments, ledger, result, mapped_before)
        except _PageInterrupted:
            self._abort(page, ledger)
            result.status = "interrupted"
            return result
        except (HttpError, PageError) as exc:
            return self._fail(page, ledger, result, comments, exc.message, exc.retryable,
                              type(exc).__name__)
        except DiskFull:  # no page can be written: stop the run, the rerun resumes
            self._abort(page, ledger)
            raise
        except Exception as exc:  # a bug or a local fault must fail this page, not the run
            log.debug("page %s failed", page.id, exc_info=True)
            return self._fail(page, ledger, result, comments, f"{type(exc).__name__}: {exc}",
                              False, type(exc).__name__)
        result.skipped_comments = [r.to_dict() for r in ledger.refused]
        result.skipped = ledger.count_skipped(comments) + len(result.skipped_events)
        cp.mark_page_complete(
            page.id, extracted=len(comments), imported=ledger.count_mapped(comments),
            skipped=result.skipped,
        )
        if cursor is not None:
            cp.set_page_cursor(page.id, cursor)
        return result

    # -- sync: cursors, edits and deletions -----------------------------------------------

    def _extract(self, page: Page) -> tuple[PageComments, str | None]:
        if isinstance(self.source, IncrementalSource):
            return self.source.comments_with_cursor(page)
        return self.source.comments(page), None

    def sync_page(self, page: Page) -> PageResult:
        """A sync's page: a complete page whose source says nothing happened since its
        cursor costs one small read; anything else goes through `migrate_page`."""
        cp = self.checkpoint
        cursor = cp.state.get_page_cursor(page.id)
        if (cursor is None or not isinstance(self.source, IncrementalSource)
                or cp.state.get_page_status(page.id) != "complete"):
            return self.migrate_page(page)
        try:
            read, new_cursor = self.source.comments_since(page, cursor)
        except (HttpError, PageError) as exc:
            return self._read_failed(page, exc.message, exc.retryable, type(exc).__name__)
        except Exception as exc:  # a bug or a local fault must fail this page, not the run
            log.debug("page %s failed", page.id, exc_info=True)
            return self._read_failed(page, f"{type(exc).__name__}: {exc}", False,
                                     type(exc).__name__)
        if read is None:
            if new_cursor != cursor:
                cp.set_page_cursor(page.id, new_cursor)
            return PageResult(page.id, "unchanged")
        return self.migrate_page(page, (read, new_cursor))

    def _read_failed(
        self, page: Page, message: str, retryable: bool, error_type: str
    ) -> PageResult:
        """A sync could not read a complete page: failed until a later sync reads it (its
        counts and mappings stay as they were)."""
        old = self.checkpoint.state.get_page(page.id) or {}
        self.checkpoint.mark_page_failed(
            page.id, message, retryable=retryable, error_type=error_type,
            extracted=old.get("extracted", 0), imported=old.get("imported", 0),
            skipped=old.get("skipped", 0),
        )
        return PageResult(page.id, "failed", error=message)

    def _apply_changes(
        self, plan: PagePlan, comments: Sequence[Comment], ledger: PageLedger,
        result: PageResult, mapped_before: set[str],
    ) -> None:
        # sent in this pass (a 409 included): the target holds the current version
        fresh = set(ledger.mapped) - mapped_before - result.adopted_ids
        changes = self.changes.page(plan, comments, ledger, fresh)
        result.changes.extend(change.to_dict() for change in changes)

    def _send(
        self, plan: PagePlan, comment: Comment, ledger: PageLedger, result: PageResult
    ) -> None:
        out = plan.outgoing(comment, ledger.target_id, ledger.skip_reason)
        if out.parent_source_id is not None and out.parent_target_id is None:
            # parents are sent first and a failure stops the page, so this is a bug
            raise PageError(f"parent {out.parent_source_id} of {comment.id} was not sent")
        reason = self.target.check(out)
        if reason is None:
            try:
                created = self.target.create(out)
            except CommentRefused as refused:
                reason = refused.reason
        if reason is not None:
            ledger.skip(comment, reason)
            plan.forget_placements()  # its replies now hang elsewhere
            return
        ledger.record(comment.id, created.target_id)
        if created.already_existed:
            result.adopted += 1
        else:
            result.imported += 1
        self.reporter.comment_done()

    def _reconcile(
        self, page: Page, plan: PagePlan, pending: Sequence[Comment], ledger: PageLedger,
        result: PageResult,
    ) -> None:
        outgoing = [plan.outgoing(c, ledger.target_id, ledger.skip_reason) for c in pending]
        adopted = self.target.reconcile(page, outgoing, known_target_ids=ledger.target_ids())
        ledger.adopt(adopted)
        result.adopted += len(adopted)
        result.adopted_ids.update(adopted)
        if adopted:
            log.info("%s: %d comments were already in the target", page.id, len(adopted))
            self.reporter.comment_done(len(adopted))

    def _must_reconcile(self, prior: str | None) -> bool:
        """Look in the target before sending? Where an Idempotency-Key makes a resend
        harmless, only for pages a crash or a failure interrupted. Elsewhere, always: a page
        without a status may still be in the target (a new checkpoint after --reset, or a
        status lost with a power cut), and one read per page costs little."""
        if self.target.capabilities.idempotency == "key":
            return prior in ("in_progress", "failed")
        return True

    def _record_source_skips(
        self, skipped: Sequence[SkippedEvent], ledger: PageLedger, result: PageResult
    ) -> None:
        for event in skipped:
            if ledger.target_id(event.event_id) is not None:
                # deleted in the source after it was imported: see pipeline.changes
                log.info("%s: %s was imported, then %s in the source",
                         ledger.page_id, event.event_id, event.reason)
                continue
            ledger.skip_event(event.event_id, event.reason)
            result.skipped_events.append(
                {"page_id": ledger.page_id, "source_id": event.event_id, "reason": event.reason}
            )

    def _fail(
        self, page: Page, ledger: PageLedger, result: PageResult, comments: Sequence[Comment],
        message: str, retryable: bool, error_type: str,
    ) -> PageResult:
        self._abort(page, ledger)
        message = redact(message)  # exception texts may quote a secret (a header, a URL)
        result.skipped_comments = [r.to_dict() for r in ledger.refused]
        result.skipped = ledger.count_skipped(comments) + len(result.skipped_events)
        self.checkpoint.mark_page_failed(
            page.id, message, retryable=retryable, error_type=error_type,
            extracted=len(comments), imported=ledger.count_mapped(comments),
            skipped=result.skipped,
        )
        result.status, result.error = "failed", message
        result.unfinished = ledger.count_unfinished(comments)
        return result

    def _abort(self, page: Page, ledger: PageLedger) -> None:
        ledger.discard()
        with contextlib.suppress(Exception):
            self.target.abort_page(page)

    # -- all pages -----------------------------------------------------------------------

    def select_pages(
        self, pages: Sequence[Page], *, page_ids: Sequence[str] = (), only_failed: bool = False
    ) -> list[Page]:
        selected = list(pages)
        if page_ids:
            wanted = set(page_ids)
            selected = [p for p in selected if p.id in wanted]
            missing = wanted - {p.id for p in selected}
            if missing:
                raise PageSelectionError(
                    f"no such page in the source: {', '.join(sorted(missing))}"
                )
        if only_failed:  # failed, or interrupted by a crash or Ctrl-C
            selected = [p for p in selected
                        if self.checkpoint.state.get_page_status(p.id) in ("failed", "in_progress")]
        return selected

    def run(
        self, pages: Sequence[Page], *, page_ids: Sequence[str] = (), only_failed: bool = False,
        sync: bool = False,
    ) -> RunSummary:
        """Migrate the selected pages not yet complete; `sync`: every selected page, each
        read only as far as needed to find what is new (see `sync_page`)."""
        started = time.monotonic()
        cp = self.checkpoint
        summary = (SyncSummary if sync else RunSummary)(pages_total=len(pages),
                                                        target=self.target.name)
        self._work = self.sync_page if sync else self.migrate_page
        cp.start_migration(len(pages))
        todo = []
        for page in self.select_pages(pages, page_ids=page_ids, only_failed=only_failed):
            if not sync and cp.should_skip_page(page.id):
                summary.pages_skipped += 1
            else:
                todo.append(page)
        self.reporter.start(len(todo))
        results: list[PageResult] = []
        try:
            with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="page") as pool:
                futures: set[Future[PageResult]] = set()
                queue = iter(todo)
                self._fill(pool, futures, queue)
                while futures:
                    done, _ = wait(futures, timeout=0.2, return_when=FIRST_COMPLETED)
                    for future in done:
                        futures.remove(future)
                        results.append(future.result())
                        self.reporter.page_done()
                    if not self.stop.is_set():
                        self._fill(pool, futures, queue)
        finally:
            self.reporter.close()
            cp.save_checkpoint()

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
        known = {p.id for p in pages}
        summary.pages_complete = sum(
            1 for pid in cp.state.get_completed_page_ids() if pid in known
        )
        summary.pages_failed = sum(1 for pid in cp.state.get_failed_page_ids() if pid in known)
        summary.interrupted = self.stop.is_set()
        summary.elapsed_seconds = time.monotonic() - started
        media = sum(r.homeserver_media for r in results)
        if media:
            summary.notes.append(
                f"{media} comments link media (images, files, avatars) on the homeserver, "
                "which readers cannot open and which go when it is turned off: add [media] "
                "(dir, base_url) to copy them, then run `sync` or `run --reset`."
            )
        if not self.target.capabilities.keeps_timestamps:
            summary.notes.append(
                f"{self.target.name} cannot keep original timestamps: imported comments carry "
                "the time of the import. For full fidelity use the wxr target and import the "
                "file (e.g. `isso import -t wordpress`)."
            )
        return summary

    def _fill(
        self, pool: ThreadPoolExecutor, futures: set[Future[PageResult]],
        queue: Iterator[Page],
    ) -> None:
        # keep only `workers` pages in flight, so an interrupt leaves the rest untouched
        while len(futures) < self.workers:
            page = next(queue, None)
            if page is None:
                return
            futures.add(pool.submit(self._work, page))


