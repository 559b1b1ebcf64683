"""What one Matrix message event says: its content checked, its relation read.

Pure functions over raw event dicts; migrate/systems/matrix/normalize.py puts a room's
messages together into comments.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

TEXT_MSGTYPES = frozenset({"m.text", "m.notice", "m.emote"})
MEDIA_MSGTYPES = frozenset({"m.image", "m.file", "m.audio", "m.video"})


@dataclasses.dataclass
class Message:
    """A message event of the room, as the normalizer keeps it until the room is read."""

    event_id: str
    position: int  # timeline order: a reply can only point to an earlier event
    sender: str
    ts: int
    name: str | None  # display name in effect when it was sent
    avatar: str | None
    content: dict[str, Any]
    redacted: bool = False
    parent_ref: str | None = None
    relation_problem: str | None = None
    is_reply: bool = False  # has m.in_reply_to (in any shape): may carry a quoted fallback
    edit: tuple[int, str, dict[str, Any]] | None = None  # (ts, edit id, m.new_content)


def localpart(user_id: str) -> str:
    return user_id[1:].split(":", 1)[0] if user_id.startswith("@") else user_id


def utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts / 1000, tz=UTC)


def content_problem(content: Mapping[str, Any]) -> str | None:
    """Why this content cannot be shown as a comment, or None."""
    msgtype = content.get("msgtype")
    if not isinstance(msgtype, str):
        return "msgtype missing or not a string"
    if not isinstance(content.get("body"), str):
        return "body missing or not a string"
    if msgtype in MEDIA_MSGTYPES:
        url = content.get("url")
        if not isinstance(url, str) or not url.startswith("mxc://"):
            return f"{msgtype} without an mxc:// url"
        return None
    if msgtype not in TEXT_MSGTYPES:
        return f"unsupported msgtype {msgtype[:100]!r}"
    return None


def relation(relates_to: Mapping[str, Any]) -> tuple[str | None, str | None, bool]:
    """(parent event id, problem, is a reply) of a message's relation.

    Every shape the spec allows: a rich reply (m.in_reply_to); a thread event (m.thread)
    falling back (its m.in_reply_to only points older clients at the thread's latest event:
    it hangs under the root) or a real reply inside the thread (is_falling_back false: it
    hangs under the event it answers). Any m.in_reply_to may come with a quoted fallback."""
    in_reply_to = relates_to.get("m.in_reply_to")
    reply_id = in_reply_to.get("event_id") if isinstance(in_reply_to, Mapping) else None
    reply_id = reply_id if isinstance(reply_id, str) and reply_id else None
    if relates_to.get("rel_type") == "m.thread":
        root = relates_to.get("event_id")
        falling_back = relates_to.get("is_falling_back") is True
        if reply_id is not None and not falling_back:
            return reply_id, None, True  # a real reply inside the thread
        if isinstance(root, str) and root:
            return root, None, reply_id is not None
        return None, "thread relation without a root event", reply_id is not None
    if in_reply_to is not None and reply_id is None:
        return None, "m.in_reply_to without an event id", False
    return reply_id, None, reply_id is not None
