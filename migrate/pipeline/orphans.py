"""Replies whose parent was removed in the new system (`[run] orphans`).

A comment migrated long ago may be deleted by a moderator in the target; a reply to it that
arrives later (a sync) names a parent the target no longer has, and the target refuses it,
on every sync. With `orphans = "root"` such a reply hangs under its nearest ancestor still
in the target (in a thread of two levels, the thread's root), or at the top level; with
`orphans = "skip"` it is skipped, with its replies, and the reason recorded. The target is
read back once per page (the `ListingTarget` ability), and only when a reply waits under a
comment migrated before; a target that cannot be read back keeps the default (`fail`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from migrate.abilities import ListingTarget, Target
from migrate.model import Comment
from migrate.pipeline.ledger import PageLedger
from migrate.pipeline.transform import PagePlan

log = logging.getLogger(__name__)


def find_removed_parents(
    target: Target, plan: PagePlan, pending: Sequence[Comment], ledger: PageLedger, *, skip: bool
) -> None:
    """Mark the page's mapped comments the target no longer holds as removed (replies then
    hang under their nearest ancestor still there), or, with `skip`, skip every pending
    comment below one, recording why."""
    if not isinstance(target, ListingTarget):
        return
    under_mapped = [c for c in pending if _mapped_ancestor(c, plan, ledger) is not None]
    if not under_mapped:
        return
    held = {c.target_id for c in target.list_page(plan.page)}
    removed = {}
    for source_id in plan.by_id:
        target_id = ledger.target_id(source_id)
        if target_id is not None and target_id not in held:
            removed[source_id] = (
                f"its comment {target_id} was removed from the {target.name} target"
            )
    if not removed:
        return
    log.info("%s: %d migrated comments were removed from the target", plan.page.id, len(removed))
    if not skip:
        ledger.removed.update(removed)
        return
    for comment in pending:
        ancestor = _removed_ancestor(comment, plan, removed)
        if ancestor is not None:
            ledger.skip(comment, f"the comment it answers ({ancestor}) was removed from the target")


def _ancestors(comment: Comment, plan: PagePlan) -> list[str]:
    chain: list[str] = []
    parent = comment.parent_id
    while parent is not None and parent in plan.by_id and parent not in chain:
        chain.append(parent)
        parent = plan.by_id[parent].parent_id
    return chain


def _mapped_ancestor(comment: Comment, plan: PagePlan, ledger: PageLedger) -> str | None:
    return next((a for a in _ancestors(comment, plan) if ledger.target_id(a)), None)


def _removed_ancestor(comment: Comment, plan: PagePlan, removed: dict[str, str]) -> str | None:
    return next((a for a in _ancestors(comment, plan) if a in removed), None)
