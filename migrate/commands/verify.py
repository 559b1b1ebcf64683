"""Read the source and the target again and say, per page and per comment, whether a reader
sees on the target what the source holds.

What the target should hold is predicted by the same rules the migration used
(migrate/pipeline/transform.py): where each reply hangs under the target's depth limit, which
text it carries. Each comment is compared as a reader sees it (migrate/commands/verify_compare):
visible text, links, images, author, avatar and time where the target keeps them, and parent.
Differences are listed per comment and aspect; comments missing from the target and target
comments this migration did not make are listed per page. What the target cannot hold, by its
capabilities (original times, depth, avatars), is reported once and counted as no difference.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from migrate.abilities import ListingTarget, PageError, Source, Target
from migrate.commands.verify_compare import (
    ASPECTS,
    Difference,
    Limit,
    compare,
    difference,
    limits,
    shown_as,
)
from migrate.model import Page, TargetComment
from migrate.pipeline.ledger import PageLedger
from migrate.pipeline.transform import CommentTransformer, PagePlan
from migrate.session import check_identity, require_checkpoint, source_mirror
from utils.checkpoint_manager import CheckpointManager
from utils.http import HttpError

if TYPE_CHECKING:
    from migrate.migration import Migration

log = logging.getLogger(__name__)

SHOWN_PER_PAGE = 10  # comments listed per differing page in the text report (--json: all)


@dataclass
class PageVerification:
    page_id: str
    comments: int = 0
    differences: list[Difference] = field(default_factory=list)  # "missing" ones included
    extra: list[str] = field(default_factory=list)  # target ids this migration did not make
    # of the extra: what this migration made for a comment the source no longer shows (a
    # deletion sync could not carry), and what shows a migrated comment again (target id ->
    # its source id); both are faults. The rest (a visitor's comment on the live site,
    # another tool's) are listed and left alone.
    stale: list[str] = field(default_factory=list)
    duplicates: dict[str, str] = field(default_factory=dict)
    skipped: int = 0  # deliberately not migrated (reason recorded in the checkpoint)
    error: str | None = None
    flattened: int = 0  # replies deeper than the target allows (a limit, not a difference)
    avatars: int = 0  # comments whose author has an avatar

    @property
    def ok(self) -> bool:
        return not (self.differences or self.stale or self.duplicates or self.error)

    @property
    def foreign(self) -> list[str]:
        """Target ids of comments neither made by this migration nor copies of its own."""
        return [t for t in self.extra if t not in self.duplicates and t not in self.stale]

    @property
    def missing(self) -> list[str]:
        return [d.source_id for d in self.differences if d.aspect == "missing"]

    def differing_comments(self) -> int:
        return len({d.source_id for d in self.differences if d.aspect != "missing"})

    def to_dict(self) -> dict[str, Any]:
        return {
            "page_id": self.page_id,
            "ok": self.ok,
            "comments": self.comments,
            "skipped": self.skipped,
            "error": self.error,
            "missing": self.missing,
            "extra": self.extra,
            "stale": self.stale,
            "duplicates": [
                {"target_id": tid, "source_id": sid} for tid, sid in self.duplicates.items()
            ],
            "foreign": self.foreign,
            "differences": [d.to_dict() for d in self.differences],
            # the first two aspects as earlier versions reported them
            "wrong_parent": [
                {
                    "source_id": d.source_id,
                    "target_id": d.target_id,
                    "expected_parent": d.expected,
                    "actual_parent": d.actual,
                }
                for d in self.differences
                if d.aspect == "parent"
            ],
            "changed_text": [
                {
                    "source_id": d.source_id,
                    "target_id": d.target_id or "",
                    "expected": d.expected,
                    "actual": d.actual,
                }
                for d in self.differences
                if d.aspect == "text"
            ],
        }


@dataclass
class VerifyReport:
    pages: list[PageVerification]
    target: str = ""
    limits: list[Limit] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.pages)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "target": self.target,
            "pages_checked": len(self.pages),
            "pages_differing": sum(1 for p in self.pages if not p.ok),
            "comments_differing": sum(p.differing_comments() for p in self.pages),
            "limits": [limit.to_dict() for limit in self.limits],
            "pages": [p.to_dict() for p in self.pages],
        }


def verify_page(
    page: Page,
    source: Source,
    target: Target,
    mapping: PageLedger,
    transformer: CommentTransformer,
) -> PageVerification:
    result = PageVerification(page.id)
    if not isinstance(target, ListingTarget):
        result.error = f"the {target.name} target cannot be read back, so nothing was compared"
        return result
    try:
        extracted = source.comments(page)
        held: dict[str, TargetComment] = {c.target_id: c for c in target.list_page(page)}
    except (PageError, HttpError) as exc:
        result.error = exc.message
        return result
    result.comments = len(extracted.comments)
    plan = PagePlan(transformer, page, extracted.comments)
    max_depth = transformer.capabilities.max_depth
    expected: set[str] = set()
    made: dict[tuple[str, str], str] = {}  # what each migrated comment shows -> its source id
    for comment in plan.order:
        if mapping.skip_reason(comment.id) is not None:
            result.skipped += 1
            continue
        if max_depth is not None and plan.depth.get(comment.id, 0) > max_depth:
            result.flattened += 1
        if comment.author.avatar_url:
            result.avatars += 1
        out = plan.outgoing(comment, mapping.target_id, mapping.skip_reason)
        made.setdefault(shown_as(comment.author.name, out.text), comment.id)
        target_id = mapping.target_id(comment.id)
        if target_id is None or target_id not in held:
            result.differences.append(
                difference(comment, target_id, "missing", "in the target", "not found")
            )
            continue
        expected.add(target_id)
        result.differences += compare(out, held[target_id], transformer.capabilities)
    result.extra = sorted(tid for tid in held if tid not in expected)
    ours = mapping.target_ids()
    for tid in result.extra:
        copy_of = made.get(shown_as(held[tid].author_name, held[tid].text))
        if tid in ours:
            result.stale.append(tid)
        elif copy_of is not None:
            result.duplicates[tid] = copy_of
    return result


def verify_pages(
    pages: Iterable[Page],
    source: Source,
    target: Target,
    checkpoint: CheckpointManager,
    *,
    mention_parent: bool = True,
) -> VerifyReport:
    transformer = CommentTransformer(
        target.capabilities, system=source.system, mention_parent=mention_parent
    )
    checked = [
        verify_page(
            p, source, target, PageLedger.open(checkpoint, p.id, buffered=False), transformer
        )
        for p in pages
    ]
    cannot_hold = limits(
        target.capabilities,
        migrated=sum(p.comments - p.skipped for p in checked if p.error is None),
        flattened=sum(p.flattened for p in checked),
        avatars=sum(p.avatars for p in checked),
    )
    return VerifyReport(checked, target=target.name, limits=cannot_hold)


def verify_migration(migration: Migration) -> VerifyReport:
    """`verify`: source and target read again, compared through the checkpoint's mapping.

    It holds the checkpoint's lock while it reads, and opens the target read-only: a file
    target's incomplete tail (another process may be appending) is left as it is, and a
    derived file is not rebuilt. It writes nothing, media included: comments link the copies
    [media] made, never a new download."""

    require_checkpoint(migration.checkpoint, "to verify against")
    cp = CheckpointManager(checkpoint_file=migration.checkpoint)
    try:
        check_identity(cp, migration, record=False)
        mirror = source_mirror(migration)
        if mirror is not None:
            mirror.ledger = cp  # links the copies the run made; never started: no download
        target = migration.target.open_read_only()
        try:
            return verify_pages(
                list(migration.source.pages()),
                migration.source,
                target,
                cp,
                mention_parent=migration.mention_parent,
            )
        finally:
            target.close()
    finally:
        cp.close(compact=False)  # a reader leaves the files as it found them


def describe(report: VerifyReport) -> str:
    lines = []
    for page in report.pages:
        if page.ok:
            lines.append(
                f"ok       {page.page_id}: {page.comments} comments"
                + (f" ({page.skipped} skipped by rule)" if page.skipped else "")
                + _foreign(page)
            )
        elif page.error:
            lines.append(f"ERROR    {page.page_id}: {page.error}")
        else:
            lines += _describe_page(page)
    if report.limits:
        lines.append(
            f"What {report.target or 'the target'} cannot hold (not counted as differences):"
        )
        lines += [f"    {limit.aspect:<8} {limit.detail}" for limit in report.limits]
    differing = sum(1 for p in report.pages if not p.ok)
    lines.append(
        f"{len(report.pages)} pages checked: "
        + ("source and target agree." if report.ok else f"{differing} differ.")
    )
    return "\n".join(lines)


def _describe_page(page: PageVerification) -> list[str]:
    by_comment: dict[str, list[Difference]] = {}
    for item in page.differences:
        by_comment.setdefault(item.source_id, []).append(item)
    counts = {aspect: sum(1 for d in page.differences if d.aspect == aspect) for aspect in ASPECTS}
    aspects = ", ".join(f"{counts[a]} {a}" for a in ASPECTS if counts[a] and a != "missing")
    parts = []
    if page.differing_comments():
        parts.append(f"{page.differing_comments()} comments differ ({aspects})")
    if counts["missing"]:
        parts.append(f"{counts['missing']} missing")
    if page.stale:
        parts.append(f"{len(page.stale)} the source no longer has")
    if page.duplicates:
        parts.append(f"{len(page.duplicates)} duplicated")
    lines = [f"DIFFERS  {page.page_id}: " + ", ".join(parts)]
    for items in list(by_comment.values())[:SHOWN_PER_PAGE]:
        first = items[0]
        where = "missing" if first.aspect == "missing" else f"-> {first.target_id}"
        lines.append(
            f"    {first.source_id} {where} ({first.author}, {first.created_at}): {first.excerpt!r}"
        )
        lines += [
            f"        {d.aspect:<7} expected {d.expected!r}, found {d.actual!r}"
            for d in items
            if d.aspect != "missing"
        ]
    if len(by_comment) > SHOWN_PER_PAGE:
        lines.append(f"    ... and {len(by_comment) - SHOWN_PER_PAGE} more (--json lists all)")
    lines += [
        f"    stale   target id {tid}: migrated, and gone from the source since"
        for tid in page.stale[:SHOWN_PER_PAGE]
    ]
    lines += [
        f"    duplicate target id {tid}: a second copy of {source_id}"
        for tid, source_id in list(page.duplicates.items())[:SHOWN_PER_PAGE]
    ]
    if page.foreign:
        lines.append("   " + _foreign(page).removeprefix(";"))
    return lines


def _foreign(page: PageVerification) -> str:
    """The page's comments this migration did not make, which it leaves as they are."""
    if not page.foreign:
        return ""
    shown = ", ".join(page.foreign[:SHOWN_PER_PAGE])
    more = (
        f" and {len(page.foreign) - SHOWN_PER_PAGE} more"
        if len(page.foreign) > SHOWN_PER_PAGE
        else ""
    )
    return (
        f"; {len(page.foreign)} on the target not made by this migration, left as they are "
        f"(target ids {shown}{more})"
    )
