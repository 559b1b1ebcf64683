"""What `verify` compares of one comment, and what a target cannot hold.

A comment is compared as a reader sees it (migrate/content/visible.py): the visible text, links and
images of each form the target keeps (its Markdown, and the HTML its readers get when it has
one; each against the same form of what was sent, rendered the same way on both sides), the
author's name, the avatar where the target keeps avatars (`Capabilities.keeps_avatars`), the
time to the second where it keeps timestamps (`keeps_timestamps`), and the parent.

What a target's capabilities say it cannot hold (original times, depth, avatars) is counted
as a limit of the target, never as a difference.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from migrate.content import Visible, fold_spaces, render_markdown, visible_html, visible_markdown
from migrate.model import Capabilities, Comment, OutgoingComment, TargetComment
from migrate.pipeline.ledger import excerpt

log = logging.getLogger(__name__)

# the aspects of one comment, in the order they are reported
ASPECTS = ("missing", "parent", "text", "links", "images", "author", "avatar", "time")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # never seen by a reader
_CONTEXT = 20  # characters of agreeing text shown before a difference


@dataclass(frozen=True)
class Difference:
    """One aspect of one comment that the target shows otherwise than the source."""

    page_id: str
    source_id: str
    target_id: str | None  # None: the comment is missing
    aspect: str  # one of ASPECTS
    expected: str
    actual: str
    author: str = ""
    created_at: str = ""
    excerpt: str = ""

    def to_dict(self) -> dict[str, str | None]:
        return {
            "page_id": self.page_id,
            "source_id": self.source_id,
            "target_id": self.target_id,
            "aspect": self.aspect,
            "expected": self.expected,
            "actual": self.actual,
            "author": self.author,
            "created_at": self.created_at,
            "excerpt": self.excerpt,
        }


def difference(
    comment: Comment, target_id: str | None, aspect: str, expected: str, actual: str
) -> Difference:
    """A difference described as people know the comment (the ledger's SkipRecord style)."""
    return Difference(
        comment.page_id,
        comment.id,
        target_id,
        aspect,
        expected,
        actual,
        author=comment.author.name,
        created_at=comment.created_at.isoformat(timespec="seconds"),
        excerpt=excerpt(comment.text),
    )


def compare(
    out: OutgoingComment, held: TargetComment, capabilities: Capabilities
) -> list[Difference]:
    """Every aspect in which `held` shows otherwise than `out`, the comment that was sent."""
    comment = out.source
    found: list[tuple[str, str, str]] = []
    if (out.parent_target_id or None) != (held.parent_target_id or None):
        found.append(
            (
                "parent",
                out.parent_target_id or "(top level)",
                held.parent_target_id or "(top level)",
            )
        )
    found += _content(out, held)
    if _name(comment.author.name) != _name(held.author_name):
        found.append(("author", comment.author.name, held.author_name))
    if capabilities.keeps_avatars and (comment.author.avatar_url or None) != (
        held.author_avatar_url or None
    ):
        found.append(
            ("avatar", comment.author.avatar_url or "(none)", held.author_avatar_url or "(none)")
        )
    if capabilities.keeps_timestamps:
        expected, actual = _second(comment.created_at), _second(held.created_at)
        if expected != actual:
            found.append(("time", expected, actual))
    return [difference(comment, held.target_id, *item) for item in found]


def shown_as(author: str, text: str) -> tuple[str, str]:
    """What a reader tells a comment by: its author's name and its visible text (a second
    copy of a migrated comment shows the same; a visitor's comment does not)."""
    return _name(author), visible_markdown(text).text


def _content(out: OutgoingComment, held: TargetComment) -> list[tuple[str, str, str]]:
    """Text, links and images of each form the target keeps, against the same form sent."""
    forms = [(visible_markdown(out.text), visible_markdown(held.text))]
    if held.html is not None:
        sent = out.html if out.html is not None else render_markdown(out.text)
        forms.append((visible_html(sent), visible_html(held.html)))
    found: list[tuple[str, str, str]] = []
    for aspect in ("text", "links", "images"):
        for expected, actual in forms:
            if _aspect(expected, aspect) != _aspect(actual, aspect):
                found.append((aspect, *_shown(expected, actual, aspect)))
                break  # one entry per aspect, from the first form that differs
    return found


def _aspect(visible: Visible, aspect: str) -> object:
    return {"text": visible.text, "links": visible.links, "images": visible.images}[aspect]


def _shown(expected: Visible, actual: Visible, aspect: str) -> tuple[str, str]:
    if aspect != "text":
        urls = (
            (expected.links, actual.links)
            if aspect == "links"
            else (expected.images, actual.images)
        )
        return tuple(" ".join(u) or "(none)" for u in urls)  # type: ignore[return-value]
    start = _first_difference(expected.text, actual.text)
    start = max(0, start - _CONTEXT)
    lead = "…" if start else ""
    return lead + excerpt(expected.text[start:]), lead + excerpt(actual.text[start:])


def _first_difference(a: str, b: str) -> int:
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return min(len(a), len(b))


def _name(name: str) -> str:
    return fold_spaces(_CONTROLS.sub("", name))


def _second(moment: datetime | None) -> str:
    """A time as readers see it: UTC, to the second."""
    if moment is None:
        return "(none)"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Limit:
    """Something the target cannot hold, from its capabilities; not a difference."""

    aspect: str  # "time", "depth", "author" or "avatar"
    comments: int  # how many comments of this migration it concerns
    detail: str

    def to_dict(self) -> dict[str, str | int]:
        return {"aspect": self.aspect, "comments": self.comments, "detail": self.detail}


def limits(
    capabilities: Capabilities, *, migrated: int, flattened: int, avatars: int
) -> list[Limit]:
    """What a target with `capabilities` cannot hold, with the number of comments concerned:
    `migrated` comments in all, `flattened` replies deeper than it allows, `avatars` comments
    whose author has an avatar."""
    found: list[Limit] = []
    if not capabilities.keeps_timestamps:
        found.append(
            Limit(
                "time",
                migrated,
                f"times are the import time ({migrated} comments "
                "show when they were imported, not written)",
            )
        )
    depth = capabilities.max_depth
    if depth is not None:
        levels = "no replies" if depth == 0 else f"{depth + 1} levels"
        found.append(
            Limit(
                "depth",
                flattened,
                f"keeps {levels}: {flattened} replies hang "
                "under an ancestor of the comment they answer",
            )
        )
    if not capabilities.keeps_authors:
        found.append(
            Limit(
                "author",
                migrated,
                f"posts every comment as one account: {migrated} comments name their author "
                "and date in a line of their text",
            )
        )
    if not capabilities.keeps_avatars:
        found.append(
            Limit(
                "avatar",
                avatars,
                f"has no avatars: {avatars} comments' authors have one that readers do not see",
            )
        )
    return found
