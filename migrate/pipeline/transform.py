"""From source comments to what one target receives.

The send order (parents before their replies, otherwise oldest first) is
migrate.threads.send_order, the rule sources order their comments by too. Two decisions are
made here and nowhere else:
- where a reply hangs: its nearest ancestor that the target holds, within the target's depth
  (a reply deeper than the target allows attaches to its deepest allowed ancestor and keeps
  whom it answered as "@Name: ..."); an ancestor that was refused or skipped is passed over;
- content: Markdown/plain text for Markdown targets, sanitized HTML for HTML targets, both for
  targets that take both. A comment's HTML is sanitized here, once, for every target,
  whatever the source (an archive or a plugin may carry anything): the allowlist of
  migrate.content.sanitize_html.
"""

from __future__ import annotations

import functools
import html as html_lib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import overload

from migrate.content import html_to_markdown, images_as_links, plain_to_html, sanitize_html
from migrate.model import Capabilities, Comment, OutgoingComment, Page, stored_directly
from migrate.threads import depths as depths
from migrate.threads import send_order as send_order

# source id -> target id (or None when not yet sent)
MappingLookup = Callable[[str], str | None]
# source id -> reason it was skipped (or None)
SkippedLookup = Callable[[str], str | None]


@stored_directly  # one for every comment sent
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
        if comment.id in memo:
            return
        parent = _source_parent(comment, by_id)
        if parent is None or parent in memo:  # nearly always: parents are placed first
            self._place_one(comment.id, parent, is_gone, memo)
            return
        walk: list[str] = []
        in_walk: set[str] = set()
        current: str | None = comment.id
        while current is not None and current not in memo:
            walk.append(current)
            in_walk.add(current)
            parent = _source_parent(by_id[current], by_id)
            # a cycle ends the walk: its last member is treated as top level, unless the
            # cycle closes at `comment` itself, which goes first (the sender sends a cycle's
            # first member in send order first) and so is the one at the top
            if parent == comment.id:
                memo[comment.id] = (None, 0)
                walk.pop(0)
            current = None if parent in in_walk else parent
        for cid in reversed(walk):
            self._place_one(cid, _source_parent(by_id[cid], by_id), is_gone, memo)

    def _place_one(
        self,
        cid: str,
        parent: str | None,
        is_gone: SkippedLookup,
        memo: dict[str, tuple[str | None, int]],
    ) -> None:
        """Place `cid` from its parent's placement (`parent`: its parent on the page)."""
        if parent is None or parent not in memo:  # top level, or the cycle's end
            memo[cid] = (None, 0)
            return
        depth = memo[parent][1]
        max_depth = self.capabilities.max_depth
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
        html = sanitize_html(comment.html) if comment.html is not None else None
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
        self.order = send_order(comments)
        self._placed: dict[str, tuple[str | None, int]] = {}

    @functools.cached_property
    def depth(self) -> dict[str, int]:
        """Each comment's depth in its thread (for reports and verify: a run needs none)."""
        return depths(self.order)

    def outgoing(
        self, comment: Comment, lookup: MappingLookup, is_gone: SkippedLookup
    ) -> OutgoingComment:
        placement = self.transformer.placement(comment, self.by_id, is_gone, self._placed)
        return self.transformer.outgoing(comment, self.page, placement, lookup)

    def outgoing_view(
        self, comments: Sequence[Comment], lookup: MappingLookup, is_gone: SkippedLookup
    ) -> Sequence[OutgoingComment]:
        """`outgoing` of each of `comments`, each made when first asked for (a target that
        finds nothing of the page to compare, a new file's, asks for none)."""
        return _OutgoingView(self, comments, lookup, is_gone)

    def forget_placements(self) -> None:
        """A comment was refused: where its replies hang must be worked out again."""
        self._placed.clear()

    def threads(self) -> int:
        return sum(1 for c in self.order if self.depth.get(c.id, 0) == 0)

    def max_depth(self) -> int:
        return max(self.depth.values(), default=-1)


class _OutgoingView(Sequence[OutgoingComment]):
    def __init__(
        self,
        plan: PagePlan,
        comments: Sequence[Comment],
        lookup: MappingLookup,
        is_gone: SkippedLookup,
    ) -> None:
        self._plan, self._comments, self._lookup, self._is_gone = plan, comments, lookup, is_gone
        self._made: dict[int, OutgoingComment] = {}

    def __len__(self) -> int:
        return len(self._comments)

    @overload
    def __getitem__(self, index: int) -> OutgoingComment: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[OutgoingComment]: ...

    def __getitem__(self, index: int | slice) -> OutgoingComment | Sequence[OutgoingComment]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        position = range(len(self))[index]  # IndexError as a list's, negative indexes too
        made = self._made.get(position)
        if made is None:
            comment = self._comments[position]
            made = self._made[position] = self._plan.outgoing(comment, self._lookup, self._is_gone)
        return made


def moderation_refusal(comment: Comment, capabilities: Capabilities) -> str | None:
    """Why a comment's moderation state keeps it out of the target, or None: spam never
    migrates; a comment waiting for moderation goes only where it can wait too."""
    if comment.status == "spam":
        return "spam in the source: never migrated"
    if comment.status == "pending" and not capabilities.keeps_pending:
        return "waiting for moderation in the source, and the target cannot hold it waiting"
    return None
