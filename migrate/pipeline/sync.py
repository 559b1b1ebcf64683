"""A sync's hooks into the page flow: the page's cursor read with its comments, the cheap
read of a complete page that nothing happened on since its cursor, and the edits and
deletions applied after a page is sent (migrate.pipeline.changes).

`PageSync.page` is what a sync runs per page: a complete page whose source says nothing
happened since its cursor costs one small read and ends "unchanged"; anything else goes
through the orchestrator's `migrate_page` with what was read. A page that cannot be read
is failed until a later sync reads it, its counts and mappings kept as they were. A cursor is
the source's to judge: one taken in another room (Cursor.ref) makes it read the page whole.
With [media] copying now, a page that linked the source's server is read whole, so its
comments can be pointed at the copies (migrate.pipeline.changes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from migrate.abilities import IncrementalSource, PageError, Source
from migrate.model import Cursor, Page, PageComments
from migrate.pipeline.changes import ChangeApplier
from migrate.pipeline.ledger import PageLedger
from migrate.pipeline.result import PageResult
from migrate.pipeline.transform import PagePlan
from utils.checkpoint_manager import CheckpointManager
from utils.http import HttpError

log = logging.getLogger(__name__)

Prefetched = tuple[PageComments, Cursor | None]  # a page's comments as read, and its cursor


def extract(source: Source, page: Page) -> Prefetched:
    """The page's comments, with the cursor a later sync starts from (None: no cursors)."""
    if isinstance(source, IncrementalSource):
        return source.comments_with_cursor(page)
    return source.comments(page), None


def apply_page_changes(
    changes: ChangeApplier,
    plan: PagePlan,
    extracted: PageComments,
    ledger: PageLedger,
    result: PageResult,
    mapped_before: set[str],
) -> None:
    """Apply (or report) the page's edits and deletions once its comments are sent."""
    # sent in this pass: the target holds the current version. Not so for what the target
    # already held (reconciliation, or a 409): after `run --reset` it may be older (an edit,
    # or media copied since), so it is compared like any mapped comment (an update of a
    # comment already as it is costs one harmless request)
    fresh = set(ledger.mapped) - mapped_before - result.adopted_ids - result.existed_ids
    found = changes.page(plan, extracted, ledger, fresh)
    result.changes.extend(change.to_dict() for change in found)


class PageSync:
    """Reads a page for a sync only as far as needed to find what is new."""

    def __init__(
        self,
        source: Source,
        checkpoint: CheckpointManager,
        migrate_page: Callable[[Page, Prefetched | None], PageResult],
        *,
        copy_media: bool = False,
    ) -> None:
        self.source = source
        self.checkpoint = checkpoint
        self.migrate_page = migrate_page
        self.copy_media = copy_media

    def _media_to_copy(self, page: Page) -> bool:
        """[media] copies files now, and the page linked the source's server when it was
        last read (or nobody knows: recorded by an older version): read it whole again."""
        if not self.copy_media:
            return False
        linked = self.checkpoint.state.get_page_source_media(page.id)
        return linked is None or linked > 0

    def page(self, page: Page) -> PageResult:
        """A sync's page: a complete page whose source says nothing happened since its
        cursor costs one small read; anything else goes through `migrate_page`."""
        cp = self.checkpoint
        token = cp.state.get_page_cursor(page.id)
        if (
            token is None
            or not isinstance(self.source, IncrementalSource)
            or cp.state.get_page_status(page.id) != "complete"
            or self._media_to_copy(page)
        ):
            return self.migrate_page(page, None)
        cursor = Cursor(token, cp.state.get_page_cursor_ref(page.id))
        try:
            read, new_cursor = self.source.comments_since(page, cursor)
        except (HttpError, PageError) as exc:
            return self._read_failed(page, exc.message, exc.retryable, type(exc).__name__)
        except Exception as exc:  # a bug or a local fault must fail this page, not the run
            log.debug("page %s failed", page.id, exc_info=True)
            return self._read_failed(
                page, f"{type(exc).__name__}: {exc}", False, type(exc).__name__
            )
        if read is None:
            if new_cursor != cursor:
                cp.set_page_cursor(page.id, new_cursor.token, ref=new_cursor.ref)
            return PageResult(page.id, "unchanged")
        return self.migrate_page(page, (read, new_cursor))

    def _read_failed(
        self, page: Page, message: str, retryable: bool, error_type: str
    ) -> PageResult:
        """A sync could not read a complete page: failed until a later sync reads it (its
        counts and mappings stay as they were)."""
        old = self.checkpoint.state.get_page(page.id) or {}
        self.checkpoint.mark_page_failed(
            page.id,
            message,
            retryable=retryable,
            error_type=error_type,
            extracted=old.get("extracted", 0),
            imported=old.get("imported", 0),
            skipped=old.get("skipped", 0),
        )
        return PageResult(page.id, "failed", error=message)
