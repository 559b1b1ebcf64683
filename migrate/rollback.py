"""Undo a migration: delete from the target every comment this migration created.

The checkpoint's mapping says what was created. Replies go before their parents (the reverse
of the order they were sent in). Before anything is deleted, a backup of what will be deleted
is written as the target holds it; if that fails, nothing is deleted. Each deletion removes
its mapping from the journal at once, so an interrupted rollback resumes where it stopped.
While a rollback is unfinished the checkpoint says so, and `run` refuses to start.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from migrate.errors import UnsupportedOperation
from migrate.model import Page, Target
from utils.checkpoint_manager import CheckpointManager
from utils.fileio import atomic_writer

ROLLBACK_KEY = "rollback_in_progress"


@dataclass
class RollbackPlan:
    # per page, its (source id, target id) pairs, replies before their parents
    pages: list[tuple[Page, list[tuple[str, str]]]]

    @property
    def total(self) -> int:
        return sum(len(items) for _, items in self.pages)


@dataclass
class RollbackSummary:
    planned: int = 0
    deleted: int = 0
    already_gone: int = 0
    backup: str | None = None
    interrupted: bool = False
    failed: list[dict[str, str]] = field(default_factory=list)


def plan_rollback(target: Target, cp: CheckpointManager, pages: Iterable[Page]) -> RollbackPlan:
    if not target.capabilities.can_delete:
        raise UnsupportedOperation(
            f"the {target.name} target cannot delete comments, so this migration cannot be "
            "rolled back through it"
        )
    planned = []
    for page in pages:
        items = list(reversed(cp.get_page_mappings(page.id)))
        if items:
            planned.append((page, items))
    return RollbackPlan(planned)


def write_backup(path: Path, target: Target, plan: RollbackPlan) -> int:
    """JSONL of every comment about to be deleted, as the target holds it now."""
    written = 0
    with atomic_writer(path) as out:
        for page, items in plan.pages:
            held = {c.target_id: c for c in target.list_page(page)}
            for source_id, target_id in items:
                comment = held.get(target_id)
                record = {
                    "page": {"id": page.id, "uri": page.uri, "title": page.title},
                    "source_id": source_id,
                    "target_id": target_id,
                    "present": comment is not None,
                }
                if comment is not None:
                    record.update({
                        "parent_target_id": comment.parent_target_id,
                        "author": comment.author_name,
                        "text": comment.text,
                        "created_at": comment.created_at.isoformat()
                        if comment.created_at else None,
                        "raw": dict(comment.raw),
                    })
                out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
                written += 1
    return written


def execute_rollback(
    target: Target, cp: CheckpointManager, plan: RollbackPlan, *,
    stop: threading.Event | None = None, on_delete: Callable[[], None] | None = None,
) -> RollbackSummary:
    summary = RollbackSummary(planned=plan.total)
    cp.set_metadata(ROLLBACK_KEY, True)
    cp.save_checkpoint()
    for page, items in plan.pages:
        for source_id, target_id in items:
            if stop is not None and stop.is_set():
                summary.interrupted = True
                cp.save_checkpoint()
                return summary
            try:
                existed = target.delete(target_id, page)
            except Exception as exc:
                summary.failed.append({"source_id": source_id, "target_id": target_id,
                                       "error": str(exc)})
                continue
            cp.remove_id_mapping(source_id)
            if existed:
                summary.deleted += 1
            else:
                summary.already_gone += 1
            if on_delete is not None:
                on_delete()
    if not summary.failed:
        cp.set_metadata(ROLLBACK_KEY, False)
    cp.save_checkpoint()
    return summary
