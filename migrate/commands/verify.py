"""Read the source and the target again and say, per page, whether they agree.

What the target should hold is predicted by the same rules the migration used
(migrate/pipeline/transform.py): where each reply hangs under the target's depth limit, which
text it carries. Differences are reported as missing, extra, wrong parent and changed text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from migrate.model import Page, PageError, Source, Target, TargetComment
from migrate.pipeline.ledger import PageLedger
from migrate.pipeline.transform import CommentTransformer, PagePlan
from utils.checkpoint_manager import CheckpointManager
from utils.http import HttpError

if TYPE_CHECKING:
    from migrate.migration import Migration

_SPACE = re.compile(r"\s+")


@dataclass
class PageVerification:
    page_id: str
    comments: int = 0
    missing: list[str] = field(default_factory=list)  # source ids not in the target
    extra: list[str] = field(default_factory=list)  # target ids this migration did not make
    wrong_parent: list[dict[str, str | None]] = field(default_factory=list)
    changed_text: list[dict[str, str]] = field(default_factory=list)
    skipped: int = 0  # deliberately not migrated (reason recorded in the checkpoint)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.wrong_parent or self.changed_text
                    or self.error)


@dataclass
class VerifyReport:
    pages: list[PageVerification]

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.pages)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "pages_checked": len(self.pages),
            "pages_differing": sum(1 for p in self.pages if not p.ok),
            "pages": [asdict(p) | {"ok": p.ok} for p in self.pages],
        }


def _norm(text: str | None) -> str:
    return _SPACE.sub(" ", text or "").strip()


def _shorten(text: str | None, limit: int = 80) -> str:
    text = _norm(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def verify_page(
    page: Page, source: Source, target: Target, mapping: PageLedger,
    transformer: CommentTransformer,
) -> PageVerification:
    result = PageVerification(page.id)
    try:
        extracted = source.comments(page)
        held: dict[str, TargetComment] = {c.target_id: c for c in target.list_page(page)}
    except (PageError, HttpError) as exc:
        result.error = exc.message
        return result
    result.comments = len(extracted.comments)
    plan = PagePlan(transformer, page, extracted.comments)
    expected: set[str] = set()
    for comment in plan.order:
        if mapping.skip_reason(comment.id) is not None:
            result.skipped += 1
            continue
        target_id = mapping.target_id(comment.id)
        if target_id is None or target_id not in held:
            result.missing.append(comment.id)
            continue
        expected.add(target_id)
        out = plan.outgoing(comment, mapping.target_id, mapping.skip_reason)
        actual = held[target_id]
        if (out.parent_target_id or None) != (actual.parent_target_id or None):
            result.wrong_parent.append({
                "source_id": comment.id, "target_id": target_id,
                "expected_parent": out.parent_target_id, "actual_parent": actual.parent_target_id,
            })
        # a target keeps either the text or the HTML it was given; either one matching is a match
        if _norm(actual.text) not in {_norm(out.text), _norm(out.html)}:
            result.changed_text.append({
                "source_id": comment.id, "target_id": target_id,
                "expected": _shorten(out.text), "actual": _shorten(actual.text),
            })
    result.extra = sorted(tid for tid in held if tid not in expected)
    return result


def verify_pages(
    pages: Iterable[Page], source: Source, target: Target, checkpoint: CheckpointManager,
    *, mention_parent: bool = True,
) -> VerifyReport:
    transformer = CommentTransformer(
        target.capabilities, system=source.system, mention_parent=mention_parent
    )
    return VerifyReport([
        verify_page(p, source, target, PageLedger.open(checkpoint, p.id, buffered=False),
                    transformer)
        for p in pages
    ])


def verify_migration(migration: Migration) -> VerifyReport:
    """`verify`: source and target read again, compared through the checkpoint's mapping.

    It holds the checkpoint's lock while it reads, so it never reads a file target halfway
    through a run's append (and could not mistake that for a torn tail); it writes nothing."""
    from migrate.commands.run import check_identity, require_checkpoint

    require_checkpoint(migration.checkpoint, "to verify against")
    cp = CheckpointManager(checkpoint_file=migration.checkpoint)
    try:
        check_identity(cp, migration, record=False)
        target = migration.target.build()
        try:
            return verify_pages(
                list(migration.source.pages()), migration.source, target, cp,
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
            lines.append(f"ok       {page.page_id}: {page.comments} comments"
                         + (f" ({page.skipped} skipped by rule)" if page.skipped else ""))
            continue
        if page.error:
            lines.append(f"ERROR    {page.page_id}: {page.error}")
            continue
        parts = []
        if page.missing:
            parts.append(f"{len(page.missing)} missing")
        if page.extra:
            parts.append(f"{len(page.extra)} extra")
        if page.wrong_parent:
            parts.append(f"{len(page.wrong_parent)} under the wrong parent")
        if page.changed_text:
            parts.append(f"{len(page.changed_text)} with other text")
        lines.append(f"DIFFERS  {page.page_id}: " + ", ".join(parts))
        for sid in page.missing[:5]:
            lines.append(f"    missing {sid}")
        for tid in page.extra[:5]:
            lines.append(f"    extra   target id {tid}")
        for wrong in page.wrong_parent[:5]:
            lines.append(f"    parent  {wrong['source_id']}: expected "
                         f"{wrong['expected_parent']}, found {wrong['actual_parent']}")
        for item in page.changed_text[:5]:
            lines.append(f"    text    {item['source_id']}: expected {item['expected']!r}, "
                         f"found {item['actual']!r}")
    differing = sum(1 for p in report.pages if not p.ok)
    lines.append(
        f"{len(report.pages)} pages checked: "
        + ("source and target agree." if report.ok else f"{differing} differ.")
    )
    return "\n".join(lines)
