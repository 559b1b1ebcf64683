"""Undo a migration: delete from the target every comment this migration created.

The checkpoint's mapping says what was created, for every page it knows (also pages the
source no longer lists). Replies go before their parents (the reverse of the order they
were sent in). Before anything is deleted, a backup of what will be deleted is written as
the target holds it (after the user said yes, so a "no" leaves nothing); if that fails,
nothing is deleted, and a backup file that exists
already (an earlier, interrupted rollback's) is kept and added to, never replaced. Each
deletion removes its mapping from the journal at once, so an interrupted rollback resumes
where it stopped. While a rollback is unfinished the checkpoint says so, and `run` refuses
to start.

A run killed just after the target accepted a comment never journaled its id. Before it
plans, rollback finds those as a rerun would: for every page the checkpoint has in progress
or failed, the source's comments without a mapping are looked for in the target through its
reconciliation (HTTP: by source id in the listing, or the lookup; Isso: the page read back
and matched; files: the committed records), and what is found is backed up and deleted
with the rest (first: nothing recorded can be a reply to it).

A target that makes something of its own per page (GitHub: the page's discussion,
migrate.abilities.PageMakingTarget) is asked, for every page the checkpoint has a status
for, whether this tool made it; after the comments, each is removed if nothing is left in
it. A page is marked in progress before anything of it is sent, so a run killed between
making the discussion and journaling its first comment leaves a page rollback looks at.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from migrate.abilities import (
    DeletingTarget,
    ListingTarget,
    PageError,
    PageMakingTarget,
    ReconcilingTarget,
    Source,
    Target,
)
from migrate.errors import ExitStatus, MigrateError, UnsupportedOperation
from migrate.model import Page
from migrate.pipeline.ledger import PageLedger
from migrate.pipeline.transform import CommentTransformer, PagePlan
from migrate.session import ROLLBACK_KEY, check_identity, move_aside_locked, require_checkpoint
from utils.checkpoint_manager import CheckpointManager
from utils.fileio import atomic_writer
from utils.http import HttpError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from migrate.migration import Migration


class BackupFailed(MigrateError):
    """The backup could not be written, so nothing was deleted."""


@dataclass
class RollbackPlan:
    # per page, its (source id, target id) pairs, replies before their parents
    pages: list[tuple[Page, list[tuple[str, str]]]]
    # pages whose container (a discussion) this tool made: removed after, if left empty
    made: list[Page] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(len(items) for _, items in self.pages)


@dataclass
class RollbackSummary:
    planned: int = 0
    deleted: int = 0
    already_gone: int = 0
    removed: int = 0  # containers this tool made for a page (discussions), gone now
    backup: str | None = None
    interrupted: bool = False
    failed: list[dict[str, str]] = field(default_factory=list)


def plan_rollback(
    target: Target,
    cp: CheckpointManager,
    pages: Iterable[Page],
    page_for: Callable[[str], Page],
    unrecorded: Mapping[str, Sequence[tuple[str, str]]] | None = None,
) -> RollbackPlan:
    """Every page the checkpoint has mappings for; `page_for` stands in for a page the
    source no longer lists (its id is enough to delete by, the uri helps the backup).
    `unrecorded`: per page, (source id, target id) of comments an interrupted run sent and
    never recorded (`find_unrecorded`), in send order; they go first, being the newest."""
    unrecorded = unrecorded or {}
    if not isinstance(target, DeletingTarget) or not target.capabilities.can_delete:
        raise UnsupportedOperation(
            f"the {target.name} target cannot delete comments, so this migration cannot be "
            "rolled back through it"
        )
    known = {page.id: page for page in pages}
    page_ids = [*known]
    for page_id in (
        *cp.state.get_completed_page_ids(),
        *cp.state.get_failed_page_ids(),
        *cp.state.get_in_progress_page_ids(),
    ):
        if page_id not in known:
            log.warning("page %s is no longer in the source; its comments are deleted too", page_id)
            known[page_id] = page_for(page_id)
            page_ids.append(page_id)
    planned, made = [], []
    for page_id in page_ids:
        if cp.state.get_page_status(page_id) is not None and _made_for(target, known[page_id]):
            made.append(known[page_id])
        items = [
            *reversed(unrecorded.get(page_id, ())),
            *reversed(cp.state.get_page_mappings(page_id)),
        ]
        if items:
            planned.append((known[page_id], items))
    return RollbackPlan(planned, made)


def _made_for(target: Target, page: Page) -> bool:
    """The target holds something this tool made for a page a run touched."""
    if not isinstance(target, PageMakingTarget):
        return False
    try:
        return target.made_for(page)
    except PageError as exc:  # a page the source lost, without what the lookup needs
        what, why = target.made_per_page, exc.message
        log.warning("page %s: cannot look for the %s this tool made: %s", page.id, what, why)
        return False


class SourceUnreadable(MigrateError):
    """An interrupted page cannot be read from the source, so what its run sent without
    recording it cannot be found: nothing was deleted."""


def find_unrecorded(
    target: Target,
    cp: CheckpointManager,
    source: Source,
    pages: Iterable[Page],
    *,
    mention_parent: bool = True,
) -> dict[str, list[tuple[str, str]]]:
    """What runs sent on interrupted pages (in progress or failed) and never journaled, found
    in the target as the rerun's reconciliation would: per page id, (source id, target id)
    in send order. Writes nothing (a declined rollback leaves the checkpoint as it was; an
    interrupted one finds the rest again, the page being still interrupted)."""
    if not isinstance(target, ReconcilingTarget):
        return {}  # nothing to ask: a target without it was reported as able to repeat
    transformer = CommentTransformer(
        target.capabilities, system=source.system, mention_parent=mention_parent
    )
    found: dict[str, list[tuple[str, str]]] = {}
    for page in pages:
        if cp.state.get_page_status(page.id) not in ("in_progress", "failed"):
            continue  # a complete page has every comment mapped
        try:
            comments = source.comments(page).comments
        except (PageError, HttpError) as exc:
            raise SourceUnreadable(
                f"cannot read page {page.id} from the source to find what its interrupted "
                f"run sent without recording it: {exc.message}; nothing was deleted"
            ) from exc
        ledger = PageLedger.open(cp, page.id, buffered=False)
        plan = PagePlan(transformer, page, comments)
        pending = [c for c in plan.order if not ledger.is_done(c.id)]
        if not pending:
            continue
        outgoing = [plan.outgoing(c, ledger.target_id, ledger.skip_reason) for c in pending]
        adopted = target.reconcile(page, outgoing, known_target_ids=ledger.target_ids())
        if adopted:
            log.info("%s: %d comments sent but never recorded, deleted too", page.id, len(adopted))
            found[page.id] = [(c.id, adopted[c.id]) for c in pending if c.id in adopted]
    return found


def write_backup(path: Path, target: Target, plan: RollbackPlan) -> int:
    """JSONL of every comment about to be deleted, as the target holds it now, added to
    what an earlier backup at `path` holds. Returns how many comments it holds in all."""
    try:
        earlier = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    except OSError as exc:
        raise BackupFailed(
            f"cannot read the existing backup {path}: {exc.strerror}; nothing was deleted"
        ) from exc
    saved = {json.loads(line)["target_id"] for line in earlier if line.strip()}
    lines = list(earlier)
    for page, items in plan.pages:
        # a target that cannot be read back: the backup holds what the checkpoint knows
        try:
            held = (
                {c.target_id: c for c in target.list_page(page)}
                if isinstance(target, ListingTarget)
                else {}
            )
        except (HttpError, PageError) as exc:
            raise BackupFailed(
                f"cannot read page {page.id} back for the backup: {exc.message}; "
                "nothing was deleted"
            ) from exc
        for source_id, target_id in items:
            if target_id in saved:
                continue
            comment = held.get(target_id)
            record: dict[str, object] = {
                "page": {"id": page.id, "uri": page.key, "title": page.title},
                "source_id": source_id,
                "target_id": target_id,
                "present": comment is not None,
            }
            if comment is not None:
                record.update(
                    {
                        "parent_target_id": comment.parent_target_id,
                        "author": comment.author_name,
                        "text": comment.text,
                        "created_at": comment.created_at.isoformat()
                        if comment.created_at
                        else None,
                        "raw": dict(comment.raw),
                    }
                )
            lines.append(json.dumps(record, ensure_ascii=False, default=str))
            saved.add(target_id)
    try:
        with atomic_writer(path) as out:
            out.write("".join(line + "\n" for line in lines))
    except OSError as exc:
        raise BackupFailed(
            f"cannot write the backup {path}: {exc.strerror or exc}; nothing was deleted"
        ) from exc
    return len(lines)


def execute_rollback(
    target: DeletingTarget,
    cp: CheckpointManager,
    plan: RollbackPlan,
    *,
    stop: threading.Event | None = None,
    on_delete: Callable[[], None] | None = None,
) -> RollbackSummary:
    summary = RollbackSummary(planned=plan.total)
    cp.set_metadata(ROLLBACK_KEY, True)
    cp.save_checkpoint()
    for page, items in plan.pages:
        for source_id, target_id in items:
            if _stopped(stop, summary, cp):
                return summary
            try:
                existed = target.delete(target_id, page)
            except Exception as exc:
                summary.failed.append(
                    {"source_id": source_id, "target_id": target_id, "error": str(exc)}
                )
                continue
            cp.remove_id_mapping(source_id)
            if existed:
                summary.deleted += 1
            else:
                summary.already_gone += 1
            if on_delete is not None:
                on_delete()
    if isinstance(target, PageMakingTarget) and not _remove_made(target, cp, plan, summary, stop):
        return summary
    if not summary.failed:
        cp.set_metadata(ROLLBACK_KEY, False)
    cp.save_checkpoint()
    return summary


def _remove_made(
    target: PageMakingTarget,
    cp: CheckpointManager,
    plan: RollbackPlan,
    summary: RollbackSummary,
    stop: threading.Event | None,
) -> bool:
    """What the target made per page (discussions), once their comments are gone; False
    when asked to stop."""
    for page in plan.made:
        if _stopped(stop, summary, cp):
            return False
        try:
            summary.removed += target.remove_made(page)
        except Exception as exc:
            what = f"{page.id}'s {target.made_per_page}"
            summary.failed.append({"source_id": "", "target_id": what, "error": str(exc)})
    return True


def _stopped(stop: threading.Event | None, summary: RollbackSummary, cp: CheckpointManager) -> bool:
    """Asked to stop: what is done is saved, the next rollback resumes."""
    if stop is None or not stop.is_set():
        return False
    summary.interrupted = True
    cp.save_checkpoint()
    return True


class RollbackDeclined(MigrateError):
    """The user answered no: a usage outcome, not a failure of the tool."""

    exit_status = ExitStatus.USAGE


@dataclass
class RollbackOutcome:
    planned: int = 0
    pages: int = 0
    target: str = ""
    backup: Path | None = None
    backed_up: int = 0
    unjournaled: int = 0  # sent by an interrupted run, never recorded, found and planned
    made: int = 0  # pages whose container this tool made (a discussion), removed if empty
    made_noun: str = ""
    summary: RollbackSummary | None = None
    moved_aside: list[Path] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.summary is None or not (self.summary.failed or self.summary.interrupted)


def rollback_migration(
    migration: Migration,
    *,
    backup: Path | None = None,
    confirm: Callable[[RollbackOutcome], bool] = lambda outcome: True,
    stop: threading.Event | None = None,
) -> RollbackOutcome:
    """`rollback`: plan from the checkpoint, back up, confirm, delete; when every comment is
    gone, move the checkpoint aside (still under its lock) so a new `run` starts afresh."""

    path = migration.checkpoint
    require_checkpoint(path, "so nothing is known to roll back")
    outcome = RollbackOutcome(target=migration.target.name)
    with CheckpointManager(checkpoint_file=path) as cp:
        check_identity(cp, migration)
        target = migration.target.build()
        try:
            pages = list(migration.source.pages())
            unrecorded = find_unrecorded(
                target, cp, migration.source, pages, mention_parent=migration.mention_parent
            )
            outcome.unjournaled = sum(len(items) for items in unrecorded.values())
            plan = plan_rollback(target, cp, pages, migration.page_for, unrecorded)
            outcome.planned, outcome.pages = plan.total, len(plan.pages)
            outcome.made = len(plan.made)
            outcome.made_noun = getattr(target, "made_per_page", "")
            if plan.total == 0 and not plan.made:
                cp.set_metadata(ROLLBACK_KEY, False)
            else:
                outcome.backup = backup or path.with_name(
                    f"{path.name}.rollback-{time.strftime('%Y%m%dT%H%M%S')}.jsonl"
                )
                # ask first: a declined rollback leaves nothing behind, not even a backup
                if not confirm(outcome):
                    raise RollbackDeclined(
                        "rollback declined: nothing was deleted and nothing was written"
                    )
                outcome.backed_up = write_backup(outcome.backup, target, plan)
                assert isinstance(target, DeletingTarget)  # plan_rollback refused one without
                outcome.summary = execute_rollback(target, cp, plan, stop=stop)
        finally:
            target.close()
    if outcome.summary is not None and outcome.finished:
        outcome.moved_aside = move_aside_locked(path)
    return outcome
