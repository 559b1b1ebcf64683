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

Concurrency: pages run on a pool of `workers` threads, and so do the sends of a page, so a
page of a thousand comments is as fast as many small ones; a run between local files, where
nothing waits on a server, works one page at a time (migrate.abilities.LocalOnly), each
page's fsync going on while the next page is worked (migrate.abilities.CommitsLater): its
mappings and status reach the checkpoint once the fsync is done.
`workers` bounds the target requests in flight over the whole run (one shared set of
slots). A comment is sent once every ancestor of it is settled (mapped or skipped), so where
it hangs is final when it is placed; a target that takes batches
(migrate.abilities.BatchTarget) gets many such comments per request. Targets whose readers
see arrival order (`ordered_per_page`) and page-atomic file targets get one comment of a page
at a time, in send order. The sends are
migrate.pipeline.sender's, a sync's cursors and changes migrate.pipeline.sync's, and what a
page produced and how it adds up to the run's summary migrate.pipeline.result's.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait

from migrate.abilities import (
    CommitsLater,
    PageError,
    ReconcilingTarget,
    Source,
    Target,
    target_notes,
    works_locally,
)
from migrate.model import Comment, Cursor, Page, PageComments, SkippedEvent
from migrate.pipeline.changes import ChangeApplier, SyncSummary
from migrate.pipeline.ledger import PageLedger
from migrate.pipeline.orphans import find_removed_parents
from migrate.pipeline.result import PageResult, tally
from migrate.pipeline.selection import PageQueue, select_pages
from migrate.pipeline.sender import PageInterrupted, PageSender, SendPool
from migrate.pipeline.sync import PageSync, Prefetched, apply_page_changes, extract
from migrate.pipeline.transform import CommentTransformer, PagePlan, moderation_refusal
from migrate.reporter import Reporter, RunSummary
from utils.checkpoint_manager import CheckpointManager
from utils.errors import DiskFull
from utils.http import HttpError
from utils.redact import redact

log = logging.getLogger(__name__)


class Orchestrator:
    def __init__(
        self,
        source: Source,
        target: Target,
        checkpoint: CheckpointManager,
        *,
        workers: int = 4,
        mention_parent: bool = True,
        keep_ip: bool = False,
        orphans: str = "fail",
        reporter: Reporter | None = None,
        stop: threading.Event | None = None,
        apply_changes: bool = True,
        copy_media: bool = False,
    ) -> None:
        self.source = source
        self.target = target
        self.checkpoint = checkpoint
        self.workers = max(1, workers)
        # pages side by side overlap the waits on servers; between local files there are none
        self.page_threads = 1 if works_locally(source, target) else self.workers
        # asked once: isinstance with a runtime protocol looks up each of its members
        self._reconciler = target if isinstance(target, ReconcilingTarget) else None
        self.transformer = CommentTransformer(
            target.capabilities,
            system=source.system,
            mention_parent=mention_parent,
            keep_ip=keep_ip,
        )
        self.orphans = orphans
        self.reporter = reporter or Reporter(quiet=True)
        self.stop = stop or threading.Event()
        self.sends = SendPool(self.workers)  # slots and send threads shared by all pages
        self.changes = ChangeApplier(target, checkpoint, apply=apply_changes)
        # copy_media: the source copies media now ([media] started), so a sync reads again
        # the pages that linked the source's server
        self._sync = PageSync(source, checkpoint, self.migrate_page, copy_media=copy_media)
        self._work: Callable[[Page], PageResult] = self.migrate_page
        # during a run with one page thread into a target that commits later: that target,
        # and the end of the page written last, to run once the next page is worked
        self._later: CommitsLater | None = None
        self._held: Callable[[], PageResult] | None = None

    # -- one page ------------------------------------------------------------------------

    def migrate_page(self, page: Page, prefetched: Prefetched | None = None) -> PageResult:
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
        cursor: Cursor | None = None
        extracted: PageComments | None = None
        try:
            extracted, cursor = prefetched or extract(self.source, page)
            comments = extracted.comments
            ledger.note_revisions(comments)
            result.extracted = len(comments)
            result.source_media = extracted.source_media
            result.orphans = list(extracted.orphans)
            self.reporter.page_extracted(len(comments))
            self._record_source_skips(extracted.skipped, ledger, result)
            plan = PagePlan(self.transformer, page, comments)
            for comment in comments:
                reason = moderation_refusal(comment, self.target.capabilities)
                if reason is not None and not ledger.is_done(comment.id):
                    ledger.skip(comment, reason)  # replies hang under the nearest one kept
            self.target.begin_page(page)
            pending = [c for c in plan.order if not ledger.is_done(c.id)]
            if pending and self._must_reconcile(prior):
                self._reconcile(page, plan, pending, ledger, result)
            if pending and self.orphans != "fail":
                find_removed_parents(
                    self.target, plan, pending, ledger, skip=self.orphans == "skip"
                )
            with self.sends.sending():
                PageSender(
                    self.target,
                    self.sends,
                    plan,
                    ledger,
                    result,
                    reporter=self.reporter,
                    stop=self.stop,
                    pending=pending,
                ).send_all()
            if self._later is not None:  # its fsync goes on while the next page is worked
                durable = self._later.commit_later(page)
                self._held = functools.partial(
                    self._commit, page, durable, ledger, plan, extracted, result, mapped_before,
                    cursor,
                )  # fmt: skip
                return result
            self.target.finish_page(page)
        except Exception as exc:
            return self._failed(exc, page, ledger, result, comments)
        assert extracted is not None  # set, or the page ended above
        return self._commit(page, None, ledger, plan, extracted, result, mapped_before, cursor)

    def _commit(
        self,
        page: Page,
        durable: Callable[[], None] | None,
        ledger: PageLedger,
        plan: PagePlan,
        extracted: PageComments,
        result: PageResult,
        mapped_before: set[str],
        cursor: Cursor | None = None,
    ) -> PageResult:
        """The page is in the target (`durable`: waits until it is, for a commit made
        later): its mappings, changes and status go to the checkpoint."""
        comments = extracted.comments
        try:
            if durable is not None:
                durable()
            ledger.commit()
            apply_page_changes(self.changes, plan, extracted, ledger, result, mapped_before)
        except Exception as exc:
            return self._failed(exc, page, ledger, result, comments)
        result.skipped_comments = [r.to_dict() for r in ledger.refused]
        result.skipped = ledger.count_skipped(comments) + len(result.skipped_events)
        self.checkpoint.mark_page_complete(
            page.id,
            extracted=len(comments),
            imported=ledger.count_mapped(comments),
            skipped=result.skipped,
            source_media=result.source_media,
            # a page-atomic target's commit is the durable point: a record lost with the
            # power means only that the page is read back and adopted (no second fsync)
            durable=not self.target.capabilities.page_atomic,
        )
        if cursor is not None:
            self.checkpoint.set_page_cursor(page.id, cursor.token, ref=cursor.ref)
        return result

    def _failed(
        self,
        exc: Exception,
        page: Page,
        ledger: PageLedger,
        result: PageResult,
        comments: Sequence[Comment],
    ) -> PageResult:
        """What became of a page that raised `exc`: interrupted, or failed (a DiskFull stops
        the run: no page can be written, the rerun resumes)."""
        if isinstance(exc, PageInterrupted):
            self._abort(page, ledger)
            result.status = "interrupted"
            return result
        if isinstance(exc, HttpError | PageError):
            return self._fail(
                page, ledger, result, comments, exc.message, exc.retryable, type(exc).__name__
            )
        if isinstance(exc, DiskFull):
            self._abort(page, ledger)
            raise exc
        # a bug or a local fault must fail this page, not the run
        log.debug("page %s failed", page.id, exc_info=exc)
        message = f"{type(exc).__name__}: {exc}"
        return self._fail(page, ledger, result, comments, message, False, type(exc).__name__)

    def sync_page(self, page: Page) -> PageResult:
        """A sync's page, read only as far as needed (migrate.pipeline.sync)."""
        return self._sync.page(page)

    def _reconcile(
        self,
        page: Page,
        plan: PagePlan,
        pending: Sequence[Comment],
        ledger: PageLedger,
        result: PageResult,
    ) -> None:
        target = self._reconciler
        if target is None:
            return
        outgoing = plan.outgoing_view(pending, ledger.target_id, ledger.skip_reason)
        with self.sends.slots:
            adopted = target.reconcile(page, outgoing, known_target_ids=ledger.target_ids())
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
        if self._reconciler is None:
            return False  # nothing to ask: its summary says it may repeat (crash_window)
        if self.target.capabilities.idempotency == "key":
            return prior in ("in_progress", "failed")
        return True

    def _record_source_skips(
        self, skipped: Sequence[SkippedEvent], ledger: PageLedger, result: PageResult
    ) -> None:
        for event in skipped:
            if ledger.target_id(event.event_id) is not None:
                # deleted in the source after it was imported: see pipeline.changes
                log.info(
                    "%s: %s was imported, then %s in the source",
                    ledger.page_id,
                    event.event_id,
                    event.reason,
                )
                continue
            ledger.skip_event(event.event_id, event.reason)
            result.skipped_events.append(
                {"page_id": ledger.page_id, "source_id": event.event_id, "reason": event.reason}
            )

    def _fail(
        self,
        page: Page,
        ledger: PageLedger,
        result: PageResult,
        comments: Sequence[Comment],
        message: str,
        retryable: bool,
        error_type: str,
    ) -> PageResult:
        self._abort(page, ledger)
        message = redact(message)  # exception texts may quote a secret (a header, a URL)
        result.skipped_comments = [r.to_dict() for r in ledger.refused]
        result.skipped = ledger.count_skipped(comments) + len(result.skipped_events)
        self.checkpoint.mark_page_failed(
            page.id,
            message,
            retryable=retryable,
            error_type=error_type,
            extracted=len(comments),
            imported=ledger.count_mapped(comments),
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

    def run(
        self,
        pages: Sequence[Page],
        *,
        page_ids: Sequence[str] = (),
        only_failed: bool = False,
        sync: bool = False,
    ) -> RunSummary:
        """Migrate the selected pages not yet complete; `sync`: every selected page, each
        read only as far as needed to find what is new (see `sync_page`)."""
        started = time.monotonic()
        cp = self.checkpoint
        summary = (SyncSummary if sync else RunSummary)(
            pages_total=len(pages), target=self.target.name
        )
        self._work = self.sync_page if sync else self.migrate_page
        one_thread = self.page_threads == 1 and not sync
        self._later = self.target if one_thread and isinstance(self.target, CommitsLater) else None
        cp.start_migration(len(pages))
        todo = []
        for page in select_pages(pages, cp.state, page_ids=page_ids, only_failed=only_failed):
            if not sync and cp.should_skip_page(page.id):
                summary.pages_skipped += 1
            else:
                todo.append(page)
        self.reporter.start(len(todo))
        results: list[PageResult] = []
        try:
            with (
                ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="send") as sender,
                ThreadPoolExecutor(self.page_threads, thread_name_prefix="page") as pool,
            ):
                self.sends.executor = sender
                take = PageQueue(todo)
                futures = [
                    pool.submit(self._take_pages, take, results)
                    for _ in range(min(self.page_threads, len(todo)))
                ]
                try:
                    while wait(futures, timeout=1.0).not_done:
                        pass
                except BaseException:  # this thread interrupted: the pages in hand finish
                    take.halted.set()
                    raise
                for future in futures:
                    future.result()  # a page's error that is the run's (DiskFull, a bug)
        finally:
            self.sends.executor = None
            self._later = None
            self.reporter.close()
            cp.save_checkpoint()

        tally(summary, results)
        known = {p.id for p in pages}
        summary.pages_complete = sum(1 for pid in cp.state.get_completed_page_ids() if pid in known)
        summary.pages_failed = sum(1 for pid in cp.state.get_failed_page_ids() if pid in known)
        summary.interrupted = self.stop.is_set()
        summary.elapsed_seconds = time.monotonic() - started
        summary.notes.extend(target_notes(self.target))
        return summary

    def _take_pages(self, take: PageQueue, results: list[PageResult]) -> None:
        """One page thread: the next page, until none is left or the run stops. Each thread
        takes its own (the run's thread waking once a page cost more than a page's commit);
        `workers` threads hold one page each, so an interrupt leaves the rest untouched."""
        try:
            while not (self.stop.is_set() or take.halted.is_set()):
                page = take.next()
                if page is None:
                    return
                held, self._held = self._held, None
                try:
                    result = self._work(page)  # its commit waits for the page before's fsync
                except BaseException:
                    take.halted.set()  # the other threads finish their pages and take no more
                    raise
                finally:
                    if held is not None:
                        held()  # the page before is durable: into the checkpoint
                results.append(result)
                self.reporter.page_done()
        finally:
            held, self._held = self._held, None
            if held is not None:
                held()
