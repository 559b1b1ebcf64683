"""A page's comments on their way to the target, and what every page's sends share.

`SendPool`: the run's `workers` slots (every target request takes one, so `workers` bounds
what is in flight over all pages), the send threads, and how many pages are sending.
`PageSender`: one page's sends, each comment once every ancestor of it is settled (mapped
or skipped), in groups where the target takes batches (migrate.abilities.BatchTarget), one at a
time where readers see arrival order or the target is page-atomic. What the target accepts
is journaled in the page's ledger as soon as it comes back.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import logging
import math
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from migrate.abilities import BatchTarget, BatchUnsupported, CommentRefused, PageError, Target
from migrate.model import Comment, Created, OutgoingComment
from migrate.pipeline.ledger import PageLedger
from migrate.pipeline.result import PageResult
from migrate.pipeline.transform import PagePlan
from migrate.reporter import Reporter
from migrate.threads import parents_first

log = logging.getLogger(__name__)


class PageInterrupted(Exception):
    """The run was stopped before every comment of the page was sent."""


class Slots:
    """`workers` slots, one taken by each target request (`with slots:`): a queue of
    tokens, whose get and put are C (threading.Semaphore is Python with a Condition, a
    cost every comment paid twice)."""

    def __init__(self, count: int) -> None:
        self._free: queue.SimpleQueue[None] = queue.SimpleQueue()
        for _ in range(count):
            self._free.put(None)

    def __enter__(self) -> None:
        self._free.get()

    def __exit__(self, *exc: object) -> None:
        self._free.put(None)


class SendPool:
    """The sends' shared parts during a run: slots, send threads, pages sending."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        # every target request takes a slot: `workers` bounds what is in flight, all pages
        self.slots = Slots(workers)
        self.executor: ThreadPoolExecutor | None = None  # the sends' threads, during run()
        self.pages_sending = 0  # pages between extraction and their last send
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def sending(self) -> Iterator[None]:
        with self._lock:
            self.pages_sending += 1
        try:
            yield
        finally:
            with self._lock:
                self.pages_sending -= 1

    def submit(self, send: Callable[[], None], *, inline: bool) -> None:
        """Run one send on the shared send threads (or here, for one-at-a-time pages)."""
        if inline or self.executor is None:
            send()
        else:
            self.executor.submit(send)


Outcome = Created | CommentRefused | PageError | None  # None: not sent (stopped, or no batch)


@dataclass
class _Sent:
    """What came back for one group of a page's comments sent in one go."""

    comments: list[Comment]
    outcomes: list[Outcome]
    error: Exception | None = None  # the request as a whole failed


class PageSender:
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
        self,
        target: Target,
        sends: SendPool,
        plan: PagePlan,
        ledger: PageLedger,
        result: PageResult,
        *,
        reporter: Reporter,
        stop: threading.Event,
        pending: Sequence[Comment] | None = None,
    ) -> None:
        self.target, self.sends, self.reporter, self.stop = target, sends, reporter, stop
        self.plan, self.ledger, self.result = plan, ledger, result
        # the page's comments not done when it started, in send order (None: all of them)
        self.pending = pending
        caps = self.target.capabilities
        one_at_a_time = caps.ordered_per_page or caps.page_atomic
        self.limit = 1 if one_at_a_time else sends.workers
        self.batches = (
            self.target if not one_at_a_time and isinstance(self.target, BatchTarget) else None
        )
        self.halt = threading.Event()
        self.failure: Exception | None = None

    def send_all(self) -> None:
        # one at a time in send order: a comment's ancestors are all settled at its turn
        if (
            self.limit == 1
            and self.batches is None
            and parents_first(self.plan.order, self.plan.by_id)
        ):
            self._send_in_order()
        else:
            self._send_as_ready()

    # -- one at a time, in send order (the page's thread) ------------------------------------

    def _send_in_order(self) -> None:
        """One request at a time (page-atomic or arrival-ordered targets): each comment in
        send order, each outcome recorded as it comes back. The general schedule below
        would reach the same order through its heap, queue and sets, at a cost per comment."""
        ledger, target, slots = self.ledger, self.target, self.sends.slots
        if self.pending is None:
            todo = [c for c in self.plan.order if not ledger.is_done(c.id)]
        else:  # done since it started: adopted by reconcile, or skipped (both in memory)
            todo = [c for c in self.pending if not ledger.known(c.id)]
        for comment in todo:
            if self.stop.is_set():
                raise PageInterrupted
            outgoing = self._outgoing(comment)
            reason = target.check(outgoing)  # rules first: a refusal costs no request
            if reason is None:
                try:
                    with slots:
                        created = target.create(outgoing)
                except CommentRefused as refused:
                    reason = refused.reason
                else:
                    ledger.record(comment.id, created.target_id)
                    self._count(comment, created)
                    continue
            ledger.skip(comment, reason)
            self.plan.forget_placements()  # its replies now hang elsewhere

    def _count(self, comment: Comment, created: Created) -> None:
        if created.already_existed:
            self.result.adopted += 1
            self.result.existed_ids.add(comment.id)
        else:
            self.result.imported += 1
        self.reporter.comment_done()

    # -- as each becomes ready, several in flight (the page's thread) ------------------------

    def _send_as_ready(self) -> None:
        plan, ledger = self.plan, self.ledger
        self.position = {c.id: i for i, c in enumerate(plan.order)}
        self.children: dict[str, list[str]] = {}
        for comment in plan.order:
            parent = comment.parent_id
            if parent is not None and parent in plan.by_id and parent != comment.id:
                self.children.setdefault(parent, []).append(comment.id)
        self.settled = {cid for cid in plan.by_id if ledger.is_done(cid)}
        self.waiting = {cid for cid in plan.by_id if cid not in self.settled}  # not yet sent
        # settled with every ancestor settled: what a reply needs of its parent to go out,
        # kept as it grows so that no comment's ancestors are walked again (deep chains)
        self.clear: set[str] = set()
        self.ready: list[int] = []  # send-order positions of waiting comments, as a heap
        self.queued: set[str] = set()
        self.done: queue.SimpleQueue[_Sent] = queue.SimpleQueue()
        self.in_flight = 0
        for cid in self.settled:
            if self._parent_clear(cid):
                self._clear(cid)
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
            raise PageInterrupted

    # -- the schedule of `_send_as_ready`: what may go out -----------------------------------

    def _parent_clear(self, cid: str) -> bool:
        """Is every ancestor of `cid` settled? (Its parent is clear, or it has none here.)"""
        parent = self.plan.by_id[cid].parent_id
        return (
            parent is None or parent == cid or parent not in self.plan.by_id or parent in self.clear
        )

    def _consider(self, cid: str) -> None:
        if cid in self.waiting and cid not in self.queued and self._parent_clear(cid):
            self.queued.add(cid)
            heapq.heappush(self.ready, self.position[cid])

    def _settle(self, cid: str) -> None:
        self.settled.add(cid)
        if self._parent_clear(cid) or self._cycle_settled(cid):
            self._clear(cid)

    def _cycle_settled(self, cid: str) -> bool:
        """Every ancestor settled though none is clear: a parent cycle in the source, whose
        members went out one by one (`_next_group`)."""
        by_id = self.plan.by_id
        seen = {cid}
        parent = by_id[cid].parent_id
        while parent is not None and parent in by_id and parent not in seen:
            if parent not in self.settled:
                return False
            seen.add(parent)
            parent = by_id[parent].parent_id
        return parent in seen

    def _clear(self, cid: str) -> None:
        """`cid` and its ancestors are settled: its waiting replies may go, and its settled
        ones (mapped earlier) are clear too. Each comment is cleared once: linear in all."""
        stack = [cid]
        while stack:
            current = stack.pop()
            if current in self.clear:
                continue
            self.clear.add(current)
            for child in self.children.get(current, ()):
                if child in self.settled:
                    stack.append(child)
                else:
                    self._consider(child)

    def _group_size(self) -> int:
        if self.batches is None:
            return 1
        # spread what is ready over this page's share of the slots rather than fill one
        # request: more requests side by side, fewer when other pages are sending too
        share = math.ceil(self.limit / max(1, self.sends.pages_sending))
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
        while self.failure is None and not self.stop.is_set() and self.in_flight < self.limit:
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
            self.sends.submit(
                functools.partial(self._send, group, outgoing), inline=self.limit == 1
            )

    def _outgoing(self, comment: Comment) -> OutgoingComment:
        out = self.plan.outgoing(comment, self.ledger.target_id, self.ledger.gone_reason)
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
                self._count(comment, outcome)
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
            if self.halt.is_set() or self.stop.is_set():
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
            with self.sends.slots:
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
            with self.sends.slots:
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
