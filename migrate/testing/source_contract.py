"""The contract every source passes: run it on a built-in source or on your own plugin's.

    from migrate.testing.source_contract import check_source
    report = check_source(lambda: MySource("export.json"))
    assert report.statuses == {"approved": 12, "pending": 1, "spam": 2}

`check_source` opens the source twice (a function that builds a fresh one each time) and
raises AssertionError naming the page and comment when a rule is broken:
- pages have a non-empty id and a key that is a path ("/..."); no two pages share an id or a
  key (a key collision must be reported by the source, never left to the target);
- ids are stable across reads: a second source object reads the same pages, comments, parents
  and texts, also when the pages are read in another order (no hidden state between pages,
  which is also what keeps memory bounded by a page);
- every comment belongs to its page, has a unique id, a time in UTC, a known moderation state
  and non-negative likes; its author's email and IP are never in its repr;
- parents are resolvable or reported: a parent id is a comment of the same page, or one the
  page skipped with its reason (spam), or the reply is listed in the page's `orphans`; no
  parent cycle; parents come before replies;
- a deleted comment is kept only as the tombstone of a comment with replies.
The report counts what the source read (statuses, tombstones, edits, orphans, skipped
events), so a test asserts what its fixture holds: moderation states and edits applied.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from migrate.abilities import Source
from migrate.model import Comment, Page, PageComments

STATUSES = ("approved", "pending", "spam")


@dataclass
class SourceReport:
    pages: int = 0
    comments: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    tombstones: int = 0
    edited: int = 0
    orphans: int = 0
    skipped: int = 0
    with_email: int = 0
    with_url: int = 0
    replies: int = 0


def _fingerprint(result: PageComments) -> list[tuple[object, ...]]:
    return [
        (c.id, c.parent_id, c.text, c.html, c.created_at, c.status, c.deleted, c.author.name)
        for c in result.comments
    ]


def _check_page(page: Page, seen_keys: dict[str, str]) -> None:
    assert isinstance(page, Page), f"pages() yielded {type(page).__name__}, not a Page"
    assert page.id, "a page without an id"
    assert page.key.startswith("/"), f"page {page.id}: key {page.key!r} is not a path"
    other = seen_keys.setdefault(page.key, page.id)
    assert other == page.id, f"pages {other} and {page.id} share the key {page.key!r}"


def _check_comment(page: Page, comment: Comment, result: PageComments) -> None:
    where = f"page {page.id}, comment {comment.id}"
    assert comment.page_id == page.id, f"{where}: belongs to page {comment.page_id}"
    assert comment.status in STATUSES, f"{where}: unknown state {comment.status!r}"
    assert comment.likes >= 0, f"{where}: negative likes"
    assert comment.created_at.utcoffset() == timedelta(0), f"{where}: time not in UTC"
    if comment.edited_at is not None:
        assert comment.edited_at.utcoffset() == timedelta(0), f"{where}: edit time not in UTC"
    for private in (comment.author.email, comment.author.ip):
        if private:
            assert private not in repr(comment), f"{where}: email or IP in the repr"
    assert isinstance(comment.text, str), f"{where}: text is not a string"


def _check_threads(page: Page, result: PageComments) -> tuple[int, int]:
    """Parents resolvable or reported, no cycle, parents first, tombstones with replies.
    Returns (replies, tombstones)."""
    position = {c.id: i for i, c in enumerate(result.comments)}
    assert len(position) == len(result.comments), f"page {page.id}: a comment id repeats"
    by_id = {c.id: c for c in result.comments}
    skipped = {event.event_id for event in result.skipped}  # reported: spam, trash, ...
    parents = {c.parent_id for c in result.comments if c.parent_id is not None}
    replies = 0
    for comment in result.comments:
        where = f"page {page.id}, comment {comment.id}"
        parent = comment.parent_id
        if parent is not None:
            replies += 1
            if parent not in by_id:
                assert comment.id in result.orphans or parent in skipped, (
                    f"{where}: parent {parent} is not on the page, not skipped with a reason, "
                    "and the reply is not reported in orphans"
                )
            else:
                assert position[parent] < position[comment.id], f"{where}: before its parent"
        seen = {comment.id}
        current = parent
        while current is not None and current in by_id:
            assert current not in seen, f"{where}: a parent cycle through {current}"
            seen.add(current)
            current = by_id[current].parent_id
        if comment.deleted:
            assert comment.id in parents, f"{where}: deleted, yet kept without replies"
    return replies, sum(c.deleted for c in result.comments)


def check_source(open_source: Callable[[], Source]) -> SourceReport:
    """Read the source twice and check the contract; see the module docstring."""
    report = SourceReport()
    first = open_source()
    try:
        assert first.system, "a source needs a `system` name (the idempotency keys' prefix)"
        identity = dict(first.identity())
        pages = list(first.pages())
        seen_keys: dict[str, str] = {}
        reads: dict[str, list[tuple[object, ...]]] = {}
        all_ids: set[str] = set()
        for page in pages:
            _check_page(page, seen_keys)
            assert page.id not in reads, f"page {page.id} listed twice"
            result = first.comments(page)
            assert result.page.id == page.id, f"comments({page.id}) answered {result.page.id}"
            for comment in result.comments:
                _check_comment(page, comment, result)
                assert comment.id not in all_ids, f"comment id {comment.id} on two pages"
                all_ids.add(comment.id)
                report.statuses[comment.status] += 1
                report.edited += comment.edited_at is not None
                report.with_email += bool(comment.author.email)
                report.with_url += bool(comment.author.url)
            replies, tombstones = _check_threads(page, result)
            report.replies += replies
            report.tombstones += tombstones
            report.orphans += len(result.orphans)
            report.skipped += len(result.skipped)
            report.comments += len(result.comments)
            reads[page.id] = _fingerprint(result)
        report.pages = len(pages)
    finally:
        first.close()
    second = open_source()
    try:
        assert dict(second.identity()) == identity, "the identity changed between reads"
        again = list(second.pages())
        assert [(p.id, p.key) for p in again] == [(p.id, p.key) for p in pages], (
            "a second read lists other pages or keys"
        )
        for page in reversed(again):  # another order: no state carried between pages
            assert _fingerprint(second.comments(page)) == reads[page.id], (
                f"page {page.id}: a second read gives other comments, ids or parents"
            )
    finally:
        second.close()
    return report
