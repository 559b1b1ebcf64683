"""How Waline comments are recognised as ours. Waline keeps no source id, so a comment the
migration sent is known by what it was sent with and Waline keeps unchanged: the author's
nick, the creation time to the second (the target sends `insertedAt`; the widget API's
`time` is read back) and the Markdown text (`orig`, shown to the administrator). A comment
matching all three that is not mapped yet is adopted, each at most once, in send order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from migrate.model import OutgoingComment
from migrate.systems.waline.api import shown_time


def same_comment(held: Mapping[str, Any], outgoing: OutgoingComment) -> bool:
    moment = shown_time(held)
    source = outgoing.source
    return (
        moment is not None
        and int(moment.timestamp()) == int(source.created_at.timestamp())
        and (held.get("nick") or "") == (source.author.name or "")
        and held.get("orig") == outgoing.text
    )


def match_pending(
    candidates: Sequence[Mapping[str, Any]], pending: Sequence[OutgoingComment]
) -> dict[str, str]:
    """Source id -> Waline id of the pending comments found among `candidates` (the page's
    comments not yet mapped), each candidate taken at most once."""
    adopted: dict[str, str] = {}
    taken: set[int] = set()
    for outgoing in pending:
        for index, held in enumerate(candidates):
            if index not in taken and same_comment(held, outgoing):
                adopted[outgoing.source.id] = str(held["objectId"])
                taken.add(index)
                break
    return adopted
