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
page of a thousand comments is as fast as many small ones. `workers` bounds the target
requests in flight over the whole run (one shared set of slots). A comment is sent once
every ancestor of it is settled (mapped or skipped), so where it hangs is final when it is
placed; a target that takes batches (migrate.model.BatchTarget) gets many such comments per
request. Targets whose readers see arrival order (`ordered_per_page`) and page-atomic file
targets get one comment of a page at a time, in send order.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from migrate.errors import ExitStatus, MigrateError
from migrate.model import (
    BatchTarget,
    BatchUnsupported,
    Comment,
    CommentRefused,
    Created,
    IncrementalSource,
    OutgoingComment,
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
        # every target request takes a slot: `workers` bounds what is in flight, all pages
        self._slots = threading.BoundedSemaphore(self.workers)
        self._sender: ThreadPoolExecutor | None = None  # the sends' threads, during run()
        self.pages_sending = 0  # pages between extraction and their last send
        self._pages_lock = threading.Lock()
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
            with self._sending():
                _PageSender(self, plan, ledger, result).send_all()
            self.target.finish_page(page)
            ledger.commit()
            self._apply_changes(plan, comments, ledger, result, mapped_before)
        except _PageInterrupted:
            self._abort(page, ledger)
            result.status = "interrupted"
            return result
        except (HttpError, PageError) as exc:
            return self._fail(
                page, ledger, result, comments, exc.message, exc.retryable, type(exc).__name__
            )
        except DiskFull:  # no page can be written: stop the run, the rerun resumes
            self._abort(page, ledger)
            raise
        except Exception as exc:  # a bug or a local fault must fail this page, not the run
            log.debug("page %s failed", page.id, exc_info=True)
            return self._fail(
                page,
                ledger,
                result,
                comments,
                f"{type(exc).__name__}: {exc}",
                False,
                type(exc).__name__,
            )
        result.skipped_comments = [r.to_dict() for r in ledger.refused]
        result.skipped = ledger.count_skipped(comments) + len(result.skipped_events)
        cp.mark_page_complete(
            page.id,
            extracted=len(comments),
            imported=ledger.count_mapped(comments),
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
        self,
        page: Page,
        plan: PagePlan,
        pending: Sequence[Comment],
        ledger: PageLedger,
        result: PageResult,
    ) -> None:
        outgoing = [plan.outgoing(c, ledger.target_id, ledger.skip_reason) for c in pending]
        with self._slots:
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
            selected = [
                p
                for p in selected
                if self.checkpoint.state.get_page_status(p.id) in ("failed", "in_progress")
            ]
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
            with (
                ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="send") as sender,
                ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="page") as pool,
            ):
                self._sender = sender
                futures: set[Future[PageResult]] = set()
                pages_left = iter(todo)
                self._fill(pool, futures, pages_left)
                while futures:
                    done, _ = wait(futures, timeout=0.2, return_when=FIRST_COMPLETED)
                    for future in done:
                        futures.remove(future)
                        results.append(future.result())
                        self.reporter.page_done()
                    if not self.stop.is_set():
                        self._fill(pool, futures, pages_left)
        finally:
            self._sender = None
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
        summary.pages_complete = sum(1 for pid in cp.state.get_completed_page_ids() if pid in known)
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
        self,
        pool: ThreadPoolExecutor,
        futures: set[Future[PageResult]],
        queue: Iterator[Page],
    ) -> None:
        # keep only `workers` pages in flight, so an interrupt leaves the rest untouched
        while len(futures) < self.workers:
            page = next(queue, None)
            if page is None:
                return
            futures.add(pool.submit(self._work, page))

    @contextlib.contextmanager
    def _sending(self) -> Iterator[None]:
        with self._pages_lock:
            self.pages_sending += 1
        try:
            yield
        finally:
            with self._pages_lock:
                self.pages_sending -= 1

    def _submit(self, send: Callable[[], None], *, inline: bool) -> None:
        """Run one send on the shared send threads (or here, for one-at-a-time pages)."""
        if inline or self._sender is None:
            send()
        else:
            self._sender.submit(send)


Outcome = Created | CommentRefused | PageError | None  # None: not sent (stopped, or no batch)


@dataclass
class _Sent:
    """What came back for one group of a page's comments sent in one go."""

    comments: list[Comment]
    outcomes: list[Outcome]
    error: Exception | None = None  # the request as a whole failed


class _PageSender:
    """One page's comments on their way to the target.

    A comment is placed (its parent in the target worked out) and sent only once every
    ancestor of it is settled, mapped or skipped: a refusal moves where replies hang, and a
    reply placed before its ancestors settle could hang under one that was then refused.
    Up to `limit` requests of the page are in flight; each takes one of the run's slots.
    Only the page's own thread touches the plan and this object's sets; the send threads
    touch the target and the (thread-safe) ledger, and report back through a queue.
    A failure stops new sends and waits for those in flight, whose successes are recorded.
    """

    def __init__(
        self, owner: Orchestrator, plan: PagePlan, ledger: PageLedger, result: PageResult
    ) -> None:
        self.owner = owner
        self.target = owner.target
        self.plan, self.ledger, self.result = plan, ledger, result
        caps = self.target.capabilities
        one_at_a_time = caps.ordered_per_page or caps.page_atomic
        self.limit = 1 if one_at_a_time else owner.workers
        self.batches = (
            self.target if isinstance(self.target, BatchTarget) and not one_at_a_time else None
        )
        self.position = {c.id: i for i, c in enumerate(plan.order)}
        self.children: dict[str, list[str]] = {}
        for comment in plan.order:
            parent = comment.parent_id
            if parent is not None and parent in plan.by_id and parent != comment.id:
                self.children.setdefault(parent, []).append(comment.id)
        self.settled = {cid for cid in plan.by_id if ledger.is_done(cid)}
        self.waiting = {cid for cid in plan.by_id if cid not in self.settled}  # not yet sent
        self.ready: list[int] = []  # send-order positions of waiting comments, as a heap
        self.queued: set[str] = set()
        self.halt = threading.Event()
        self.done: queue.SimpleQueue[_Sent] = queue.SimpleQueue()
        self.in_flight = 0
        self.failure: Exception | None = None

    def send_all(self) -> None:
        for cid in self.waiting:
            self._consider(cid)
        while True:
            self._dispatch()
            if self.in_flight == 0:
                break
            self._receive(self.done.get())
        if self.failure is not None:
            raise self.failure
        if self.waiting:
            raise _PageInterrupted

    # -- what may go out (the page's thread) -------------------------------------------------

    def _ancestors_settled(self, cid: str) -> bool:
        by_id = self.plan.by_id
        seen = {cid}
        parent = by_id[cid].parent_id
        while parent is not None and parent in by_id and parent not in seen:
            if parent not in self.settled:
                return False
            seen.add(parent)
            parent = by_id[parent].parent_id
        return True

    def _consider(self, cid: str) -> None:
        if cid in self.waiting and cid not in self.queued and self._ancestors_settled(cid):
            self.queued.add(cid)
            heapq.heappush(self.ready, self.position[cid])

    def _settle(self, cid: str) -> None:
        self.settled.add(cid)
        # replies may now be ready; a reply mapped earlier may have waiting replies of its own
        stack, seen = list(self.children.get(cid, ())), {cid}
        while stack:
            child = stack.pop()
            if child in seen:
                continue
            seen.add(child)
            if child in self.settled:
                stack.extend(self.children.get(child, ()))
            else:
                self._consider(child)

    def _group_size(self) -> int:
        if self.batches is None:
            return 1
        # spread what is ready over this page's share of the slots rather than fill one
        # request: more requests side by side, fewer when other pages are sending too
        share = math.ceil(self.limit / max(1, self.owner.pages_sending))
        free = max(1, share - self.in_flight)
        return max(1, min(self.batches.batch_limit(), math.ceil(len(self.ready) / free)))

    def _next_group(self) -> list[Comment]:
        size = self._group_size()
        group: list[Comment] = []
        while self.ready and len(group) < size:
            comment = self.plan.order[heapq.heappop(self.ready)]
            self.queued.discard(comment.id)
            group.append(comment)
        if not group and self.in_flight == 0 and self.waiting:
            # nothing is ready, only a cycle in the source's reply chains: send order decides
            first = min(self.waiting, key=self.position.__getitem__)
            group.append(self.plan.by_id[first])
        return group

    def _dispatch(self) -> None:
        while self.failure is None and not self.owner.stop.is_set() and self.in_flight < self.limit:
            group = self._next_group()
            if not group:
                return
            try:
                outgoing = [self._outgoing(comment) for comment in group]
            except PageError as exc:
                self._fail(exc)
                return
            self.waiting.difference_update(c.id for c in group)
            self.in_flight += 1
            self.owner._submit(
                functools.partial(self._send, group, outgoing), inline=self.limit == 1
            )

    def _outgoing(self, comment: Comment) -> OutgoingComment:
        out = self.plan.outgoing(comment, self.ledger.target_id, self.ledger.skip_reason)
        if out.parent_source_id is not None and out.parent_target_id is None:
            # parents are sent first and a failure stops the page, so this is a bug
            raise PageError(f"parent {out.parent_source_id} of {comment.id} was not sent")
        return out

    def _receive(self, sent: _Sent) -> None:
        self.in_flight -= 1
        for comment, outcome in zip(sent.comments, sent.outcomes, strict=True):
            if outcome is None:  # back to the queue
                self.waiting.add(comment.id)
                self._consider(comment.id)
            elif isinstance(outcome, Created):
                if outcome.already_existed:
                    self.result.adopted += 1
                else:
                    self.result.imported += 1
                self.owner.reporter.comment_done()
                self._settle(comment.id)
            elif isinstance(outcome, CommentRefused):
                self.plan.forget_placements()  # its replies now hang elsewhere
                self._settle(comment.id)
            else:
                self._fail(outcome)
        if sent.error is not None:
            self._fail(sent.error)

    def _fail(self, error: Exception) -> None:
        if self.failure is None:
            self.failure = error
        self.halt.set()

    # -- sending (a send thread, or the page's own) ------------------------------------------

    def _send(self, group: list[Comment], outgoing: list[OutgoingComment]) -> None:
        sent = _Sent(group, [None] * len(group))
        try:
            if self.halt.is_set() or self.owner.stop.is_set():
                return  # queued before the page failed or the run was stopped: not sent
            to_create: list[int] = []
            for index, out in enumerate(outgoing):
                reason = self.target.check(out)  # rules first: a refusal costs no request
                if reason is None:
                    to_create.append(index)
                else:
                    sent.outcomes[index] = CommentRefused(reason)
            if len(to_create) > 1 and self.batches is not None:
                # without a batch endpoint these go back to the queue, to go out one by one
                self._create_batch(self.batches, [outgoing[i] for i in to_create], to_create, sent)
            else:
                for index in to_create:
                    sent.outcomes[index] = self._create_one(outgoing[index])
        except Exception as exc:  # reported to the page's thread, which fails the page
            sent.error = exc
        finally:
            self._record(sent)
            self.done.put(sent)

    def _create_one(self, outgoing: OutgoingComment) -> Outcome:
        if self.halt.is_set():
            return None
        try:
            with self.owner._slots:
                return self.target.create(outgoing)
        except CommentRefused as refused:
            return refused

    def _create_batch(
        self,
        batches: BatchTarget,
        outgoing: list[OutgoingComment],
        indexes: list[int],
        sent: _Sent,
    ) -> None:
        try:
            with self.owner._slots:
                results = batches.create_batch(outgoing)
        except BatchUnsupported:
            return  # sent one by one instead
        if len(results) != len(outgoing):
            raise PageError(
                f"{len(outgoing)} comments sent in one batch, {len(results)} results received"
            )
        for index, outcome in zip(indexes, results, strict=True):
            sent.outcomes[index] = outcome

    def _record(self, sent: _Sent) -> None:
        """Journal what the target accepted at once, before anything else can go wrong."""
        accepted = [
            (c.id, o.target_id)
            for c, o in zip(sent.comments, sent.outcomes, strict=True)
            if isinstance(o, Created)
        ]
        try:
            if len(accepted) == 1:
                self.ledger.record(*accepted[0])
            elif accepted:
                self.ledger.record_many(accepted)
            for comment, outcome in zip(sent.comments, sent.outcomes, strict=True):
                if isinstance(outcome, CommentRefused):
                    self.ledger.skip(comment, outcome.reason)
        except Exception as exc:
            sent.error = sent.error or exc
