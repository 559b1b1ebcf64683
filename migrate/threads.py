"""The shape of a page's threads: the one reply-ordering rule, and each comment's depth.

Neutral ground (it imports only the model and the abilities' errors): sources order what they
read with it and assemble their pages with it, and the pipeline orders what it sends with it,
so all agree on what "parents first", an orphan, a cycle and a tombstone mean.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Mapping, Sequence

from migrate.abilities import PageError
from migrate.model import Comment, Page, PageComments, SkippedEvent


def send_order(comments: Sequence[Comment]) -> list[Comment]:
    """Parents before replies; among what is ready, oldest first (stable for equal times).

    A parent that is not on the page counts as absent (the reply goes out as top level),
    and a cycle cannot hold anything back: what is left is sent oldest first."""
    by_id = {c.id: c for c in comments}
    if _in_send_order(comments, by_id):  # nearly always: the sources order what they read
        return list(comments)
    return _by_heap(comments, by_id)


def _by_heap(comments: Sequence[Comment], by_id: dict[str, Comment]) -> list[Comment]:
    """`send_order` the long way: what is ready, oldest first, as each parent goes out."""
    position = {c.id: i for i, c in enumerate(comments)}
    children: dict[str, list[Comment]] = {}
    roots: list[Comment] = []
    for comment in comments:
        parent = comment.parent_id
        if parent is not None and parent in by_id and parent != comment.id:
            children.setdefault(parent, []).append(comment)
        else:
            roots.append(comment)

    def entry(c: Comment) -> tuple[object, int, str]:
        # oldest first; the position keeps equal times stable and makes entries unique
        return (c.created_at, position[c.id], c.id)

    ready = [entry(c) for c in roots]
    heapq.heapify(ready)
    ordered: list[Comment] = []
    emitted: set[str] = set()
    while len(ordered) < len(comments):
        if not ready:  # only cycles are left: break them oldest first
            heapq.heappush(ready, min(entry(c) for c in comments if c.id not in emitted))
        _, _, cid = heapq.heappop(ready)
        if cid in emitted:
            continue
        emitted.add(cid)
        ordered.append(by_id[cid])
        for child in children.get(cid, ()):
            if child.id not in emitted:
                heapq.heappush(ready, entry(child))
    return ordered


def _in_send_order(comments: Sequence[Comment], by_id: dict[str, Comment]) -> bool:
    """Are `comments` in send order already? Oldest first (equal times in their order) with
    every parent before its replies: then the oldest comment not yet sent is always ready,
    and the order is the list's own."""
    if len(by_id) != len(comments):
        return False
    oldest_first = all(a.created_at <= b.created_at for a, b in itertools.pairwise(comments))
    return oldest_first and parents_first(comments, by_id)


def parents_first(comments: Sequence[Comment], by_id: Mapping[str, Comment]) -> bool:
    """Does every reply come after its parent (a parent on the page, not itself)? A send
    order does, but for a parent cycle in the source."""
    seen: set[str] = set()
    for comment in comments:
        parent = comment.parent_id
        if parent is not None and parent not in seen and parent != comment.id and parent in by_id:
            return False
        seen.add(comment.id)
    return True


def depths(comments: Iterable[Comment]) -> dict[str, int]:
    """Depth of each comment in its page's thread (top level = 0); cycles count as top level."""
    by_id = {c.id: c for c in comments}
    result: dict[str, int] = {}

    def depth_of(cid: str) -> int:
        chain: list[str] = []
        seen: set[str] = set()
        current: str | None = cid
        while current is not None and current in by_id and current not in result:
            if current in seen:  # a cycle: its members are treated as top level
                break
            seen.add(current)
            chain.append(current)
            parent = by_id[current].parent_id
            current = parent if parent in by_id else None
        base = result[current] + 1 if current is not None and current in result else 0
        for offset, member in enumerate(reversed(chain)):
            result[member] = base + offset
        return result[cid]

    for cid, comment in by_id.items():
        if cid in result:
            continue
        parent = comment.parent_id
        if parent is None or parent not in by_id:
            result[cid] = 0
        elif parent in result:  # nearly always: parents come first
            result[cid] = result[parent] + 1
        else:
            depth_of(cid)
    return result


def assemble_page(
    page: Page, comments: Sequence[Comment], skipped: Sequence[SkippedEvent] = ()
) -> PageComments:
    """One page's comments as every source hands them on, from what it read in any order:
    - a reply whose parent is not in the export becomes top level, and is named in `orphans`
      (its parent id stays: a twin page merged later (migrate/pages.py) may hold the parent,
      and the pipeline places a reply whose parent is not on its page at the top level); a
      reply to a comment in `skipped` (spam, trash...) is no orphan;
    - a parent cycle is refused (PageError naming the ids): no order could send it;
    - a deleted comment stays only as the tombstone of a comment with replies (a deleted
      comment without replies is skipped with its reason);
    - parents before replies, otherwise oldest first (`send_order`)."""
    by_id = {c.id: c for c in comments}
    for comment in comments:
        seen = [comment.id]
        current = comment.parent_id
        while current is not None and current in by_id:
            if current in seen:
                cycle = " -> ".join([*seen[seen.index(current) :], current])
                raise PageError(f"page {page.id}: reply parents form a cycle: {cycle}")
            seen.append(current)
            current = by_id[current].parent_id
    has_replies = {c.parent_id for c in comments if c.parent_id in by_id}
    kept: list[Comment] = []
    dropped = list(skipped)
    orphans: list[str] = []
    known = by_id.keys() | {s.event_id for s in skipped}
    for comment in comments:
        if comment.deleted and comment.id not in has_replies:
            dropped.append(SkippedEvent(comment.id, page.id, "deleted, and no replies"))
            continue
        if comment.parent_id is not None and comment.parent_id not in known:
            orphans.append(comment.id)
        kept.append(comment)
    return PageComments(page, send_order(kept), skipped=dropped, orphans=orphans)
