"""One page's account of its comments: which are mapped to a target id, which were skipped
and why, and which are still to send.

The ledger stands between the checkpoint and the pipeline. It reads the page's mappings and
skips once, when the page starts, and afterwards answers from memory; each comment then costs
one checkpoint call, the one that records it. For page-atomic targets (files) a mapping is
held back until the target has committed the page (`commit`), since nothing of an
uncommitted page exists after a crash.

A page's comments may be in flight on several threads at once: every method is safe to call
from any of them (one lock per ledger for changes; the checkpoint manager has its own). The
look-ups asked for every comment take no lock: each reads dicts that are only added to (a
mapping moves from held to mapped by adding it before removing it), and a dict's look-up is
atomic.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from migrate.model import Comment
from migrate.pipeline.revisions import revision
from utils.checkpoint_manager import CheckpointManager


@dataclass
class SkipRecord:
    """A comment the target refused by rule, described as people know it."""

    page_id: str
    source_id: str
    reason: str
    author: str = ""
    created_at: str = ""
    excerpt: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "page_id": self.page_id,
            "source_id": self.source_id,
            "reason": self.reason,
            "author": self.author,
            "created_at": self.created_at,
            "excerpt": self.excerpt,
        }


def excerpt(text: str, limit: int = 60) -> str:
    """The start of a comment's text on one line, for reports."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass
class PageLedger:
    checkpoint: CheckpointManager
    page_id: str
    buffered: bool = False  # page-atomic targets: record mappings only on commit
    mapped: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    _held: dict[str, str] = field(default_factory=dict)
    # revisions of edited or deleted comments, recorded with their mapping: a rerun after an
    # interruption must not take them for edits made since (they are in the target as sent)
    _revisions: dict[str, str] = field(default_factory=dict)
    refused: list[SkipRecord] = field(default_factory=list)
    # mapped comments no longer in the target (removed there), for this pass only
    removed: dict[str, str] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @classmethod
    def open(cls, checkpoint: CheckpointManager, page_id: str, *, buffered: bool) -> PageLedger:
        state = checkpoint.state
        return cls(
            checkpoint,
            page_id,
            buffered=buffered,
            mapped=dict(state.get_page_mappings(page_id)),
            skipped=dict(state.get_page_skipped(page_id)),
        )

    # -- queries (memory only) ----------------------------------------------------------

    def target_id(self, source_id: str) -> str | None:
        found = self._held.get(source_id) or self.mapped.get(source_id)
        if found is None:  # recorded under another page (a comment that moved)
            found = self.checkpoint.state.get_new_comment_id(source_id)
        return found

    def known(self, source_id: str) -> bool:
        """Mapped or skipped on this page, from memory alone (held first: a commit adds a
        held mapping to `mapped` before it leaves `_held`)."""
        return source_id in self._held or source_id in self.mapped or source_id in self.skipped

    def skip_reason(self, source_id: str) -> str | None:
        return self.skipped.get(source_id)

    def gone_reason(self, source_id: str) -> str | None:
        """Why the comment cannot hold replies in the target: skipped, or removed there."""
        return self.skipped.get(source_id) or self.removed.get(source_id)

    def is_done(self, source_id: str) -> bool:
        if self.known(source_id):
            return True
        # mapped under another page (a comment that moved)?
        return self.checkpoint.state.get_new_comment_id(source_id) is not None

    def target_ids(self) -> set[str]:
        with self._lock:
            return {*self.mapped.values(), *self._held.values()}

    def count_mapped(self, comments: Iterable[Comment]) -> int:
        with self._lock:
            return sum(1 for c in comments if c.id in self.mapped)

    def count_skipped(self, comments: Iterable[Comment]) -> int:
        with self._lock:
            return sum(1 for c in comments if c.id in self.skipped)

    def count_unfinished(self, comments: Iterable[Comment]) -> int:
        with self._lock:
            return sum(1 for c in comments if not self.is_done(c.id))

    # -- changes (one checkpoint call each) ------------------------------------------------

    def note_revisions(self, comments: Iterable[Comment]) -> None:
        """The revisions to record with these comments' mappings (edited or deleted ones
        only: a plain comment as first sent needs none, and costs no more)."""
        with self._lock:
            for comment in comments:
                if comment.edited_at is not None or comment.deleted:
                    self._revisions[comment.id] = revision(comment)

    def record(self, source_id: str, target_id: str) -> None:
        """The target accepted `source_id` as `target_id`."""
        with self._lock:
            if self.buffered:
                self._held[source_id] = target_id
            else:
                self.checkpoint.add_id_mapping(
                    source_id, target_id, self.page_id, self._revisions.get(source_id)
                )
                self.mapped[source_id] = target_id

    def record_many(self, accepted: Sequence[tuple[str, str]]) -> None:
        """The target accepted a batch: (source id, target id) pairs, in one checkpoint call
        where the checkpoint can take many at once."""
        with self._lock:
            if self.buffered:
                self._held.update(accepted)
                return
            self._write_mappings(accepted)
            self.mapped.update(accepted)

    def _write_mappings(self, pairs: Sequence[tuple[str, str]]) -> None:
        self.checkpoint.add_id_mappings(
            [
                (source_id, target_id, self.page_id, self._revisions.get(source_id))
                for source_id, target_id in pairs
            ]
        )

    def adopt(self, found: Mapping[str, str]) -> None:
        """Comments the target already held (reconciliation): recorded at once, since they
        are there whatever happens to this run."""
        with self._lock:
            for source_id, target_id in found.items():
                self.checkpoint.add_id_mapping(source_id, target_id, self.page_id)
                self.mapped[source_id] = target_id

    def skip(self, comment: Comment, reason: str) -> SkipRecord:
        with self._lock:
            self.checkpoint.add_skipped(comment.id, self.page_id, reason)
            self.skipped[comment.id] = reason
        record = SkipRecord(
            self.page_id,
            comment.id,
            reason,
            author=comment.author.name,
            created_at=comment.created_at.isoformat(timespec="seconds"),
            excerpt=excerpt(comment.text),
        )
        with self._lock:
            self.refused.append(record)
        return record

    def skip_event(self, source_id: str, reason: str) -> bool:
        """A source event that is no comment; False when it was recorded before."""
        with self._lock:
            if source_id in self.skipped:
                return False
            self.checkpoint.add_skipped(source_id, self.page_id, reason)
            self.skipped[source_id] = reason
            return True

    def commit(self) -> None:
        """The page-atomic target committed the page: its held mappings become durable."""
        with self._lock:
            if self._held:  # one journal record (map_page) for the whole page
                self._write_mappings(list(self._held.items()))
                self.mapped.update(self._held)
            self._held.clear()

    def discard(self) -> None:
        """The page failed before its commit: what was held never happened."""
        with self._lock:
            self._held.clear()
