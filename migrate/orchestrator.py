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
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from migrate.config import Config, describe_identity_change
from migrate.errors import ConfigChanged, ExitStatus, MigrateError
from migrate.model import (
    Comment,
    CommentRefused,
    Page,
    PageError,
    SkippedEvent,
    Source,
    Target,
)
from migrate.plugins import build_source, build_target, target_capabilities
from migrate.reporter import Reporter, RunSummary
from migrate.rollback import (
    ROLLBACK_KEY,
    RollbackSummary,
    execute_rollback,
    plan_rollback,
    write_backup,
)
from migrate.transform import CommentTransformer, PagePlan
from migrate.verify import VerifyReport, verify_pages
from utils.checkpoint_manager import (
    CheckpointManager,
    checkpoint_exists,
    journal_path,
    read_checkpoint,
)
from utils.http import HttpError

log = logging.getLogger("comment_migrate.orchestrator")


@dataclass
class PageResult:
    page_id: str
    status: str  # complete | failed | interrupted | skipped
    extracted: int = 0
    imported: int = 0  # sent during this run
    adopted: int = 0
    skipped: int = 0
    error: str | None = None
    unfinished: int = 0  # comments of a failed page neither mapped nor skipped
    skipped_comments: list[dict[str, str]] = field(default_factory=list)  # refused by rule
    skipped_events: list[dict[str, str]] = field(default_factory=list)  # not comments, or bad


class _PageInterrupted(Exception):
    pass


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

    # -- one page ------------------------------------------------------------------------

    def migrate_page(self, page: Page) -> PageResult:
        cp = self.checkpoint
        prior = cp.state.get_page_status(page.id)
        cp.mark_page_in_progress(page.id)
        result = PageResult(page.id, "complete")
        comments: list[Comment] = []
        atomic = self.target.capabilities.page_atomic
        # file targets: mappings wait until the page is committed, or they would point at
        # comments that a crash before the commit throws away
        buffered: dict[str, str] = {}

        def lookup(source_id: str) -> str | None:
            return buffered.get(source_id) or cp.get_new_comment_id(source_id)

        def record(source_id: str, target_id: str) -> None:
            if atomic:
                buffered[source_id] = target_id
            else:
                cp.add_id_mapping(source_id, target_id, page.id)

        def done(comment: Comment) -> bool:
            return (lookup(comment.id) is not None
                    or cp.state.get_skipped_reason(comment.id) is not None)

        try:
            extracted = self.source.comments(page)
            comments = extracted.comments
            result.extracted = len(comments)
            self.reporter.page_extracted(len(comments))
            self._record_source_skips(page, extracted.skipped, result)
            plan = PagePlan(self.transformer, page, comments)

            def skip(comment: Comment, reason: str) -> None:
                cp.add_skipped(comment.id, page.id, reason)
                plan.forget_placements()  # its replies now hang elsewhere
                result.skipped_comments.append(
                    {"page_id": page.id, "source_id": comment.id, "reason": reason}
                )

            self.target.begin_page(page)
            pending = [c for c in plan.order if not done(c)]
            if pending and self._must_reconcile(prior):
                outgoing = [plan.outgoing(c, lookup, cp.state.get_skipped_reason) for c in pending]
                known = {tid for _, tid in cp.state.get_page_mappings(page.id)}
                adopted = self.target.reconcile(page, outgoing, known_target_ids=known)
                for source_id, target_id in adopted.items():
                    cp.add_id_mapping(source_id, target_id, page.id)
                result.adopted = len(adopted)
                if adopted:
                    log.info("%s: %d comments were already in the target", page.id, len(adopted))
                    self.reporter.comment_done(len(adopted))

            for comment in plan.order:
                if done(comment):
                    continue
                if self.stop.is_set():
                    raise _PageInterrupted
                out = plan.outgoing(comment, lookup, cp.state.get_skipped_reason)
                if out.parent_source_id is not None and out.parent_target_id is None:
                    # parents are sent first and a failure stops the page, so this is a bug
                    raise PageError(f"parent {out.parent_source_id} of {comment.id} was not sent")
                reason = self.target.check(out)
                if reason is not None:
                    skip(comment, reason)
                    continue
                try:
                    created = self.target.create(out)
                except CommentRefused as refused:
                    skip(comment, refused.reason)
                    continue
                record(comment.id, created.target_id)
                result.imported += 1
                self.reporter.comment_done()

            self.target.finish_page(page)
        except _PageInterrupted:
            self._abort(page)
            result.status = "interrupted"
            return result
        except (HttpError, PageError) as exc:
            return self._fail(page, result, comments, exc.message, exc.retryable,
                              type(exc).__name__)
        except Exception as exc:  # a bug or a local fault must fail this page, not the run
            log.debug("page %s failed", page.id, exc_info=True)
            return self._fail(page, result, comments, f"{type(exc).__name__}: {exc}", False,
                              type(exc).__name__)

        for source_id, target_id in buffered.items():
            cp.add_id_mapping(source_id, target_id, page.id)
        result.skipped = self._skipped(comments, result)
        cp.mark_page_complete(
            page.id, extracted=len(comments), imported=self._mapped(comments),
            skipped=result.skipped,
        )
        return result

    def _must_reconcile(self, prior: str | None) -> bool:
        """Look in the target before sending? Where an Idempotency-Key makes a resend
        harmless, only for pages a crash or a failure interrupted. Elsewhere, always: a page
        without a status may still be in the target (a new checkpoint after --reset, or a
        status lost with a power cut), and one read per page costs little."""
        if self.target.capabilities.idempotency == "key":
            return prior in ("in_progress", "failed")
        return True

    def _record_source_skips(
        self, page: Page, skipped: Sequence[SkippedEvent], result: PageResult
    ) -> None:
        cp = self.checkpoint
        for event in skipped:
            entry = {"page_id": page.id, "source_id": event.event_id, "reason": event.reason}
            if cp.has_id_mapping(event.event_id):
                # deleted in the source after it was imported: the target keeps it
                log.info("%s: %s was imported, then %s in the source; left in the target",
                         page.id, event.event_id, event.reason)
                continue
            if cp.state.get_skipped_reason(event.event_id) is None:
                cp.add_skipped(event.event_id, page.id, event.reason)
            result.skipped_events.append(entry)

    def _fail(
        self, page: Page, result: PageResult, comments: Sequence[Comment], message: str,
        retryable: bool, error_type: str,
    ) -> PageResult:
        self._abort(page)
        result.skipped = self._skipped(comments, result)
        self.checkpoint.mark_page_failed(
            page.id, message, retryable=retryable, error_type=error_type,
            extracted=len(comments), imported=self._mapped(comments), skipped=result.skipped,
        )
        result.status, result.error = "failed", message
        result.unfinished = self._unfinished(comments)
        return result

    def _abort(self, page: Page) -> None:
        with contextlib.suppress(Exception):
            self.target.abort_page(page)

    def _mapped(self, comments: Sequence[Comment]) -> int:
        return sum(1 for c in comments if self.checkpoint.has_id_mapping(c.id))

    def _unfinished(self, comments: Sequence[Comment]) -> int:
        cp = self.checkpoint
        return sum(
            1 for c in comments
            if not cp.has_id_mapping(c.id) and cp.state.get_skipped_reason(c.id) is None
        )

    def _skipped(self, comments: Sequence[Comment], result: PageResult) -> int:
        cp = self.checkpoint
        refused = sum(1 for c in comments if cp.state.get_skipped_reason(c.id) is not None)
        return refused + len(result.skipped_events)

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
        self, pages: Sequence[Page], *, page_ids: Sequence[str] = (), only_failed: bool = False
    ) -> RunSummary:
        started = time.monotonic()
        cp = self.checkpoint
        summary = RunSummary(pages_total=len(pages), target=self.target.name)
        cp.start_migration(len(pages))
        todo = []
        for page in self.select_pages(pages, page_ids=page_ids, only_failed=only_failed):
            if cp.should_skip_page(page.id):
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
        summary.comments_skipped = len(summary.skipped_comments)
        summary.comments_failed = sum(r.unfinished for r in results)
        known = {p.id for p in pages}
        summary.pages_complete = sum(1 for pid in cp.get_completed_page_ids() if pid in known)
        summary.pages_failed = sum(1 for pid in cp.get_failed_page_ids() if pid in known)
        summary.interrupted = self.stop.is_set()
        summary.elapsed_seconds = time.monotonic() - started
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
            futures.add(pool.submit(self.migrate_page, page))


class PageSelectionError(MigrateError):
    exit_status = ExitStatus.USAGE


class RollbackUnfinished(MigrateError):
    exit_status = ExitStatus.CHECKPOINT


# -- from a configuration ------------------------------------------------------------------


@dataclass
class RunOptions:
    workers: int | None = None
    checkpoint: Path | None = None
    page_ids: Sequence[str] = ()
    only_failed: bool = False
    reset: bool = False
    dry_run: bool = False
    dry_run_output: Path | None = None
    quiet: bool = False


def checkpoint_path(config: Config, options: RunOptions) -> Path:
    return options.checkpoint or config.run.checkpoint


def move_aside(path: Path) -> list[Path]:
    """Keep the old checkpoint (and journal) under a timestamped name (--reset, rollback)."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    moved = []
    for candidate in (path, journal_path(path)):
        if candidate.exists():
            dest = candidate.with_name(f"{candidate.name}.{stamp}.bak")
            candidate.replace(dest)
            moved.append(dest)
    return moved


def check_identity(cp: CheckpointManager, config: Config) -> None:
    digest = config.digest()
    if cp.state.config_digest is None:
        cp.set_config(digest, config.identity())
    elif cp.state.config_digest != digest:
        what = describe_identity_change(cp.state.config_identity or {}, config.identity())
        raise ConfigChanged(
            f"checkpoint {cp.checkpoint_file} was made for another migration ({what}). "
            "Use the matching configuration, another --checkpoint, or --reset to start over "
            "(the old checkpoint is moved aside, not deleted)."
        )


def run_from_config(
    config: Config, options: RunOptions, stop: threading.Event | None = None
) -> RunSummary:
    source = build_source(config.source, config.run)
    target: Target | None = None
    tmpdir: str | None = None
    path = checkpoint_path(config, options)
    try:
        if options.dry_run:
            from migrate.targets.jsonl import JsonlTarget

            # plan for the real target's rules, but write JSONL and keep no state; start from
            # a copy of the real checkpoint, so the plan is what the next real run would do
            real_name, capabilities = target_capabilities(config.target, config.run)
            tmpdir = tempfile.mkdtemp(prefix="comment-migrate-dry-run-")
            output = options.dry_run_output or Path("comment-migrate-dry-run.jsonl")
            if output.exists():
                output.unlink()
            target = JsonlTarget(output, capabilities=capabilities)
            copy = Path(tmpdir) / "checkpoint.json"
            for original, duplicate in ((path, copy), (journal_path(path), journal_path(copy))):
                if original.exists():
                    shutil.copyfile(original, duplicate)
            path = copy
        else:
            target = build_target(config.target, config.run)
            if options.reset:
                for moved in move_aside(path):
                    log.warning("moved the old checkpoint aside to %s", moved)
        with CheckpointManager(checkpoint_file=path) as cp:
            check_identity(cp, config)
            if cp.state.get_metadata(ROLLBACK_KEY):
                raise RollbackUnfinished(
                    f"a rollback of {path} is unfinished; finish it with "
                    "`comment-migrate rollback` before running again"
                )
            pages = list(source.pages())
            orchestrator = Orchestrator(
                source, target, cp,
                workers=options.workers or config.run.workers,
                mention_parent=config.target.mention_parent,
                reporter=Reporter(quiet=options.quiet),
                stop=stop,
            )
            summary = orchestrator.run(
                pages, page_ids=options.page_ids, only_failed=options.only_failed
            )
            summary.dry_run = options.dry_run
            if options.dry_run:
                summary.target = real_name
                summary.output = str(output)
            elif config.target.output is not None:
                summary.output = str(config.target.output)
            return summary
    finally:
        if target is not None:
            target.close()
        source.close()
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)


def verify_from_config(config: Config, checkpoint: Path | None = None) -> VerifyReport:
    """`verify`: source and target read again, compared through the checkpoint's mapping."""
    state = read_checkpoint(checkpoint or config.run.checkpoint)
    source = build_source(config.source, config.run)
    target = build_target(config.target, config.run)
    try:
        return verify_pages(list(source.pages()), source, target, state,
                            mention_parent=config.target.mention_parent)
    finally:
        target.close()
        source.close()


@dataclass
class RollbackOutcome:
    planned: int = 0
    pages: int = 0
    target: str = ""
    backup: Path | None = None
    backed_up: int = 0
    summary: RollbackSummary | None = None
    moved_aside: list[Path] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.summary is None or not (self.summary.failed or self.summary.interrupted)


def rollback_from_config(
    config: Config, *, checkpoint: Path | None = None, backup: Path | None = None,
    confirm: Callable[[RollbackOutcome], bool] = lambda outcome: True,
    stop: threading.Event | None = None,
) -> RollbackOutcome:
    """`rollback`: plan from the checkpoint, back up, confirm, delete; when every comment is
    gone, move the checkpoint aside so a new `run` starts from scratch."""
    path = checkpoint or config.run.checkpoint
    if not checkpoint_exists(path):  # a journal alone is a checkpoint too
        raise NothingToRollBack(f"{path}: no checkpoint, so nothing is known to roll back")
    source = build_source(config.source, config.run)
    target = build_target(config.target, config.run)
    outcome = RollbackOutcome(target=target.name)

    def page_for(page_id: str) -> Page:
        return Page(id=page_id, uri=config.source.uri_template.format(section_id=page_id))

    try:
        with CheckpointManager(checkpoint_file=path) as cp:
            check_identity(cp, config)
            plan = plan_rollback(target, cp, list(source.pages()), page_for)
            outcome.planned, outcome.pages = plan.total, len(plan.pages)
            if plan.total == 0:
                cp.set_metadata(ROLLBACK_KEY, False)
            else:
                outcome.backup = backup or path.with_name(
                    f"{path.name}.rollback-{time.strftime('%Y%m%dT%H%M%S')}.jsonl")
                outcome.backed_up = write_backup(outcome.backup, target, plan)
                if not confirm(outcome):
                    raise RollbackDeclined("nothing was deleted")
                outcome.summary = execute_rollback(target, cp, plan, stop=stop)
    finally:
        target.close()
        source.close()
    if outcome.summary is not None and outcome.finished:
        outcome.moved_aside = move_aside(path)
    return outcome


class NothingToRollBack(MigrateError):
    exit_status = ExitStatus.CHECKPOINT


class RollbackDeclined(MigrateError):
    pass
