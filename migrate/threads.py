"""The shape of a page's threads: the one reply-ordering rule, and each comment's depth.

Neutral ground (it imports only migrate.model): sources order what they read with it and the
pipeline orders what it sends with it, so both agree on what "parents first" means.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

from migrate.model import Comment


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
