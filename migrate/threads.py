"""The shape of a page's threads: the one reply-ordering rule, and each comment's depth.

Neutral ground (it imports only migrate.model): sources order what they read with it and the
pipeline orders what it sends with it, so both agree on what "parents first" means; file
sources settle a page's deleted comments, orphans and cycles with `settle_page`.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence

from migrate.model import Comment, Page, PageComments, SkippedEvent


def send_order(comments: Sequence[Comment]) -> list[Comment]:
    """Parents before replies; among what is ready, oldest first (stable for equal times).

    A parent that is not on the page counts as absent (the reply goes out as top level),
    and a cycle cannot hold anything back: what is left is sent oldest first."""
    by_id = {c.id: c for c in comments}
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

    for cid in by_id:
        if cid not in result:
            depth_of(cid)
    return result


class ParentCycle(ValueError):
    """Comments of a page are each other's ancestors: no thread can hold them."""

    def __init__(self, page_id: str, cycle: Sequence[str]) -> None:
        chain = " -> ".join([*cycle, cycle[0]])
        super().__init__(f"page {page_id}: a parent cycle among comments {chain}")
        self.cycle = list(cycle)


def settle_page(
    page: Page, comments: Sequence[Comment], dropped: Mapping[str, str]
) -> PageComments:
    """The rule an export's page follows, for every file source (Disqus, WordPress, ...).

    `comments`: every comment of the page as the export has it, deleted ones included;
    `dropped`: ids that never migrate (spam, trash, pingbacks...) and why. A deleted comment
    stays as a tombstone while a reply to it is kept, else is skipped; a reply whose parent is
    not on the page becomes top level and is listed in `orphans`; a parent cycle raises
    ParentCycle naming the ids. The result is oldest first (parents before replies)."""
    known = {c.id for c in comments} | set(dropped)
    by_id = {c.id: c for c in comments}
    orphans = [c.id for c in comments if c.parent_id is not None and c.parent_id not in known]
    lifted = set(orphans)
    parent = {
        c.id: (None if c.id in lifted else c.parent_id) for c in comments if c.id not in dropped
    }
    _refuse_cycles(page.id, parent)
    # a deleted comment is kept when a kept comment hangs below it: walk up from each kept one
    kept = {cid for cid in parent if not by_id[cid].deleted}
    for cid in list(kept):
        up = parent[cid]
        while up is not None and up in parent and up not in kept:
            kept.add(up)
            up = parent[up]
    skipped = [SkippedEvent(cid, page.id, reason) for cid, reason in dropped.items()]
    skipped += [
        SkippedEvent(cid, page.id, "deleted, and no reply to it is kept")
        for cid in parent
        if cid not in kept
    ]
    # an orphan keeps its parent id (a twin page merged later may hold the parent); the
    # pipeline places a reply whose parent is not on its page at the top level
    chosen = [by_id[cid] for cid in parent if cid in kept]
    return PageComments(page=page, comments=send_order(chosen), skipped=skipped, orphans=orphans)


def _refuse_cycles(page_id: str, parent: Mapping[str, str | None]) -> None:
    state: dict[str, int] = {}  # 1: on the walk now, 2: known to reach the top
    for start in parent:
        walk: list[str] = []
        current: str | None = start
        while current is not None and current in parent and state.get(current) != 2:
            if state.get(current) == 1:
                raise ParentCycle(page_id, walk[walk.index(current) :])
            state[current] = 1
            walk.append(current)
            current = parent[current]
        for member in walk:
            state[member] = 2
