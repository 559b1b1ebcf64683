"""From source comments to what one target receives.

The send order (parents before their replies, otherwise oldest first) is
migrate.threads.send_order, the rule sources order their comments by too. Two decisions are
made here and nowhere else:
- where a reply hangs: its nearest ancestor that the target holds, within the target's depth
  (a reply deeper than the target allows attaches to its deepest allowed ancestor and keeps
  whom it answered as "@Name: ..."); an ancestor that was refused or skipped is passed over;
- content: Markdown/plain text for Markdown targets, sanitized HTML for HTML targets, both for
  targets that take both.
"""

from __future__ import annotations

import html as html_lib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from migrate.content import html_to_markdown, images_as_links, plain_to_html
from migrate.model import Capabilities, Comment, OutgoingComment, Page
from migrate.threads import depths as depths
from migrate.threads import send_order as send_order

# source id -> target id (or None when not yet sent)
MappingLookup = Callable[[str], str | None]
# source id -> reason it was skipped (or None)
SkippedLookup = Callable[[str], str | None]


@dataclass(frozen=True)
class Placement:
    """Where a comment goes in a target that allows `max_depth` levels."""

    parent_source_id: str | None  # the ancestor it attaches to (None: top level)
    mention: str | None  # author it answered, when it no longer hangs under them


class CommentTransformer:
    def __init__(
        self,
        capabilities: Capabilities,
        *,
        system: str,
        mention_parent: bool = True,
        keep_ip: bool = False,
    ) -> None:
        self.capabilities = capabilities
        self.system = system
        self.mention_parent = mention_parent
        self.keep_ip = keep_ip  # else a commenter's IP address never reaches a target

    def placement(
        self,
        comment: Comment,
        by_id: dict[str, Comment],
        is_gone: SkippedLookup,
        placed: dict[str, tuple[str | None, int]] | None = None,
    ) -> Placement:
        """The nearest ancestor that was not skipped and sits, *where it was placed*, above
        the target's depth limit. `placed` memoises (parent, depth) per comment, so a page
        costs time linear in its comments however deep its chains are."""
        memo = placed if placed is not None else {}
        self._place_chain(comment, by_id, is_gone, memo)
        parent, _ = memo[comment.id]
        direct = _source_parent(comment, by_id)
        mention = None
        if (
            self.mention_parent
            and direct is not None
            and parent != direct
            and is_gone(direct) is None
            and not by_id[direct].deleted
        ):
            mention = by_id[direct].author.name
        return Placement(parent, mention)

    def _place_chain(
        self,
        comment: Comment,
        by_id: dict[str, Comment],
        is_gone: SkippedLookup,
        memo: dict[str, tuple[str | None, int]],
    ) -> None:
        """Place `comment` and its unplaced ancestors, top-down, each from its parent's
        placement alone (iterative: chains can be tens of thousands deep)."""
        walk: list[str] = []
        in_walk: set[str] = set()
        current: str | None = comment.id
        while current is not None and current not in memo:
            walk.append(current)
            in_walk.add(current)
            parent = _source_parent(by_id[current], by_id)
            # a cycle ends the walk: its last member is treated as top level
            current = None if parent in in_walk else parent
        max_depth = self.capabilities.max_depth
        for cid in reversed(walk):
            parent = _source_parent(by_id[cid], by_id)
            if parent is None or parent not in memo:  # top level, or the cycle's end
                memo[cid] = (None, 0)
                continue
            depth = memo[parent][1]
            if is_gone(parent) is None and (max_depth is None or depth < max_depth):
                memo[cid] = (parent, depth + 1)
            else:
                # the parent cannot hold it: the nearest ancestor that can is where the
                # parent itself went, at the same depth
                memo[cid] = memo[parent]

    def outgoing(
        self, comment: Comment, page: Page, placement: Placement, lookup: MappingLookup
    ) -> OutgoingComment:
        parent_target = lookup(placement.parent_source_id) if placement.parent_source_id else None
        html = comment.html
        # an HTML-only comment (a source that keeps no Markdown) still reaches Markdown targets
        text = comment.text or (html_to_markdown(html) if html else "")
        if placement.mention:
            text = f"@{placement.mention}: {text}"
            if html is not None:
                html = f"<p>@{html_lib.escape(placement.mention)}:</p>{html}"
        content = self.capabilities.content
        out_html: str | None
        if content == "markdown":
            out_html = None
            if not self.capabilities.shows_images:
                text = images_as_links(text)
        elif content == "html":
            out_html = html if html is not None else plain_to_html(text)
        else:
            out_html = html
        if comment.author.ip is not None and not self.keep_ip:
            comment = replace(comment, author=replace(comment.author, ip=None))
        return OutgoingComment(
            source=comment,
            page=page,
            parent_target_id=parent_target,
            parent_source_id=placement.parent_source_id,
            text=text,
            html=out_html,
            idempotency_key=f"{self.system}:{comment.id}",
        )


def _source_parent(comment: Comment, by_id: dict[str, Comment]) -> str | None:
    """The comment's parent when it is on the page (and is not the comment itself)."""
    parent = comment.parent_id
    return parent if parent is not None and parent != comment.id and parent in by_id else None


class PagePlan:
    """One page's comments, ready to be placed and sent one by one."""

    def __init__(self, transformer: CommentTransformer, page: Page, comments: Sequence[Comment]):
        self.transformer = transformer
        self.page = page
        self.by_id = {c.id: c for c in comments}
        self.depth = depths(comments)
        self.order = send_order(comments)
        self._placed: dict[str, tuple[str | None, int]] = {}

    def outgoing(
        self, comment: Comment, lookup: MappingLookup, is_gone: SkippedLookup
    ) -> OutgoingComment:
        placement = self.transformer.placement(comment, self.by_id, is_gone, self._placed)
        return self.transformer.outgoing(comment, self.page, placement, lookup)

    def forget_placements(self) -> None:
        """A comment was refused: where its replies hang must be worked out again."""
        self._placed.clear()

    def threads(self) -> int:
        return sum(1 for c in self.order if self.depth.get(c.id, 0) == 0)

    def max_depth(self) -> int:
        return max(self.depth.values(), default=-1)


def moderation_refusal(comment: Comment, capabilities: Capabilities) -> str | None:
    """Why a comment's moderation state keeps it out of the target, or None: spam never
    migrates; a comment waiting for moderation goes only where it can wait too."""
    if comment.status == "spam":
        return "spam in the source: never migrated"
    if comment.status == "pending" and not capabilities.keeps_pending:
        return "waiting for moderation in the source, and the target cannot hold it waiting"
    return None
