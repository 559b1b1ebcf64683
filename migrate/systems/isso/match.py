"""How Isso comments are recognised as ours: Isso keeps no source id, so a comment is known
by its author and its text (what we posted over the API) or by its author and its creation
second (what `isso import` of our WXR brought: it keeps both, while its text is the WXR's
form, HTML or Markdown). Texts compare as a reader sees them."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

from migrate.model import OutgoingComment


def same_comment(held: Mapping[str, Any], outgoing: OutgoingComment) -> bool:
    """Isso keeps no source id: author and raw text are how one of ours is recognised."""
    return held.get("text") == outgoing.text and html.unescape(held.get("author") or "") == (
        outgoing.source.author.name or ""
    )


_TAG = re.compile(r"<[^>]*>")


def visible_text(text: str) -> str:
    """What a reader sees of a text, HTML or not: tags dropped, entities decoded, whitespace
    collapsed (the WXR carries HTML, the API sends Markdown)."""
    return " ".join(html.unescape(_TAG.sub(" ", text)).split())


def same_author(held: Mapping[str, Any], outgoing: OutgoingComment) -> bool:
    return html.unescape(held.get("author") or "") == (outgoing.source.author.name or "")


def imported_as(held: Mapping[str, Any], outgoing: OutgoingComment) -> bool:
    """An import keeps the author and the creation time (to the second) of the original."""
    created = held.get("created")
    if not isinstance(created, int | float) or not same_author(held, outgoing):
        return False
    return int(created) == int(outgoing.source.created_at.timestamp())


def same_visible_text(held: Mapping[str, Any], outgoing: OutgoingComment) -> bool:
    if not same_author(held, outgoing):
        return False
    seen = visible_text(str(held.get("text") or ""))
    return seen in {visible_text(outgoing.text), visible_text(outgoing.source.html or "\0")}


def match_pending(
    candidates: Sequence[Mapping[str, Any]], pending: Sequence[OutgoingComment]
) -> dict[str, str]:
    """Source id -> Isso id of the pending comments found among `candidates` (the thread's
    comments not yet ours, in creation order), each candidate taken at most once."""
    adopted: dict[str, str] = {}
    taken: set[int] = set()
    for outgoing in pending:  # what an `isso import` of our WXR brought
        for index, held in enumerate(candidates):
            if index not in taken and imported_as(held, outgoing):
                adopted[outgoing.source.id] = str(held["id"])
                taken.add(index)
                break
    start = 0  # comments we posted reached Isso in send order: matches never go back
    for outgoing in pending:
        if outgoing.source.id in adopted:
            continue
        for index in range(start, len(candidates)):
            if index not in taken and (
                same_comment(candidates[index], outgoing)
                or same_visible_text(candidates[index], outgoing)
            ):
                adopted[outgoing.source.id] = str(candidates[index]["id"])
                taken.add(index)
                start = index + 1
                break
    return adopted
