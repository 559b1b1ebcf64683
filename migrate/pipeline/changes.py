"""Edits and deletions in the source after a comment was migrated: found, applied where the
target can, reported where it cannot. Never silently ignored.

A comment's *revision* is a digest of what the source shows of it (text, html, tombstone).
The checkpoint keeps, per mapped comment, the revision the target last received. After a
page is sent, every mapped comment of it is compared:

- no revision recorded, never edited nor deleted in the source, and linking no media file:
  as it was first sent, nothing to do and nothing recorded (so a plain comment costs no
  checkpoint call here);
- edited, a tombstone or linking media, and sent in this very pass: its revision is
  recorded, nothing to apply;
- otherwise (no revision recorded for such a comment, e.g. one adopted from what the
  target already held, like an Isso that imported a WXR, or answered "already there" (409)
  after `run --reset`, or migrated before [media] was added; or a revision that differs)
  it is an *edit*, a *tombstone* (deleted in the source but kept for its replies) or a
  *media* change (its links now point at the [media] copies),
  applied with `update()` (migrate.abilities.UpdatableTarget), which sets the same text
  again when it is already there, so applying twice is harmless;
- a mapped comment that the source reports deleted (a SkippedEvent of it: redacted without
  replies) is a *delete*, applied with `delete()` where `capabilities.can_delete`. A mapped
  comment the read simply did not show is never taken for deleted: a room replaced, a
  read cut short or a page moved would otherwise empty the target.

A revision is recorded only after the target applied the change, so a crash in between
makes the next pass apply it again. A change the target cannot apply is reported (and kept
in the sync's history entry) but not recorded: a later pass that reads the page again (a
new event on it) tries it again, e.g. once Isso's `db_path` is configured.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from migrate.abilities import DeletingTarget, Target, UpdatableTarget
from migrate.errors import UnsupportedOperation
from migrate.model import Comment, Page, PageComments
from migrate.pipeline.ledger import PageLedger
from migrate.pipeline.revisions import revision
from migrate.pipeline.transform import PagePlan
from migrate.reporter import RunSummary
from utils.checkpoint_manager import CheckpointManager

log = logging.getLogger(__name__)

GONE = "deleted"  # the revision of a comment deleted from the target
ChangeKind = Literal["edit", "tombstone", "media", "delete"]


@dataclass
class Change:
    page_id: str
    source_id: str
    target_id: str
    kind: ChangeKind
    applied: bool
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SyncSummary(RunSummary):
    """A run over every page, with what a sync adds: pages found unchanged (one small
    request each), and the edits and deletions it applied or could only report."""

    pages_unchanged: int = 0
    changes: list[dict[str, Any]] = field(default_factory=list)
    verb: str = "Sync"
    # a source that cannot change (an archive): when it was written, or "" when it can
    snapshot: str | None = None

    @property
    def changes_applied(self) -> int:
        return sum(1 for c in self.changes if c["applied"])

    @property
    def changes_not_applied(self) -> int:
        return sum(1 for c in self.changes if not c["applied"])

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["changes_applied"] = self.changes_applied
        data["changes_not_applied"] = self.changes_not_applied
        return data


class ChangeApplier:
    """Compares a sent page with the revisions the checkpoint holds, and applies the
    differences (or, with `apply=False`, a dry run: lists them only)."""

    def __init__(self, target: Target, checkpoint: CheckpointManager, *, apply: bool = True):
        self.target = target
        self.checkpoint = checkpoint
        self.apply = apply

    def page(
        self,
        plan: PagePlan,
        extracted: PageComments,
        ledger: PageLedger,
        fresh: Collection[str],
    ) -> list[Change]:
        """`fresh`: source ids whose current version reached the target in this pass."""
        state = self.checkpoint.state
        media = set(extracted.media_comments)
        changes: list[Change] = []
        mapped = [(c, t) for c in extracted.comments if (t := ledger.target_id(c.id)) is not None]
        stored_revisions = state.get_revisions((c.id for c, _ in mapped), plan.page.id)
        for comment, target_id in mapped:
            stored = stored_revisions.get(comment.id)
            if stored is None and not (comment.edited_at or comment.deleted or comment.id in media):
                continue  # as first sent: nothing to record (a comment costs one call)
            current = revision(comment)
            if stored == current:
                continue
            if comment.id in fresh:
                self.checkpoint.set_revision(comment.id, current)
                continue
            kind = _kind(comment, comment.id in media)
            changes.append(self._update(plan, comment, kind, ledger, target_id, current))
        for event in extracted.skipped:
            gone_id = ledger.target_id(event.event_id)
            if gone_id is None or state.get_revision(event.event_id) == GONE:
                continue
            changes.append(self._delete(plan.page, event.event_id, gone_id))
        for change in changes:
            log.info(
                "%s: %s of %s (target %s) %s%s",
                change.page_id,
                change.kind,
                change.source_id,
                change.target_id,
                "applied" if change.applied else "not applied",
                f": {change.note}" if change.note else "",
            )
        return changes

    def _update(
        self,
        plan: PagePlan,
        comment: Comment,
        kind: ChangeKind,
        ledger: PageLedger,
        target_id: str,
        current: str,
    ) -> Change:
        change = Change(plan.page.id, comment.id, target_id, kind, applied=False)
        if not self.apply:
            change.note = "dry run: nothing sent"
            return change
        if not isinstance(self.target, UpdatableTarget):
            change.note = f"the {self.target.name} target cannot change a comment it holds"
            return change
        outgoing = plan.outgoing(comment, ledger.target_id, ledger.skip_reason)
        target = self.target
        if _attempt(
            change,
            lambda: target.update(target_id, outgoing),
            gone="the comment is no longer in the target",
        ):
            self.checkpoint.set_revision(comment.id, current)
        return change

    def _delete(self, page: Page, source_id: str, target_id: str) -> Change:
        change = Change(page.id, source_id, target_id, "delete", applied=False)
        if not self.apply:
            change.note = "dry run: nothing sent"
            return change
        target = self.target
        if not isinstance(target, DeletingTarget) or not target.capabilities.can_delete:
            change.note = f"the {self.target.name} target, as configured, cannot delete comments"
            return change
        if _attempt(
            change,
            lambda: target.delete(target_id, page),
            gone="the comment was already gone from the target",
        ):
            self.checkpoint.set_revision(source_id, GONE)
        return change


def _kind(comment: Comment, links_media: bool) -> ChangeKind:
    if comment.deleted:
        return "tombstone"
    if links_media and comment.edited_at is None:
        return "media"  # nobody edited it: its links changed (copied by [media])
    return "edit"


def _attempt(change: Change, action: Callable[[], bool], *, gone: str) -> bool:
    """Apply one change to the target: True when the target took it (`gone` notes that
    the comment was not there any more), False with the target's reason when it cannot."""
    try:
        found = action()
    except UnsupportedOperation as exc:
        change.note = str(exc)
        return False
    change.applied = True
    if not found:
        change.note = gone
    return True
