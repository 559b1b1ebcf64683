"""What a source and a target must do, and what they may do.

`Source` and `Target` are the small required interfaces. Everything else is an optional
ability, a protocol checked with isinstance on the object: the pipeline never calls one a
target lacks. A target that closes the crash window (accepted by the target, not yet in the
checkpoint) by neither an idempotency key, nor `reconcile`, nor page-atomic writes is reported
as able to repeat comments sent just before a crash (see `crash_window`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Protocol, runtime_checkable

from migrate.model import (
    Capabilities,
    CheckItem,
    Created,
    Cursor,
    OutgoingComment,
    Page,
    PageComments,
    TargetComment,
)


@runtime_checkable
class Source(Protocol):
    """Where comments come from (`migrate/sources/`)."""

    system: str  # short name used in idempotency keys, e.g. "disqus"

    def pages(self) -> Iterator[Page]: ...

    def comments(self, page: Page) -> PageComments: ...

    def identity(self) -> Mapping[str, str]:
        """What identifies this source in a checkpoint's config digest."""
        ...

    def close(self) -> None: ...


class PageError(Exception):
    """One page cannot be read or written (not found, forbidden, a target's refusal).

    The page is marked failed with this message; the other pages go on."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


class CommentRefused(Exception):
    """The target refuses this comment by rule (not retryable): skip it, record why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BatchUnsupported(Exception):
    """The target turned out to have no batch endpoint: send these comments one by one."""


@runtime_checkable
class BatchTarget(Protocol):
    """An optional ability of a target: many comments in one request, answered per item."""

    def batch_limit(self) -> int:
        """Most comments one `create_batch` may carry now; 0 or 1: send one by one."""
        ...

    def create_batch(
        self, outgoing: Sequence[OutgoingComment]
    ) -> list[Created | CommentRefused | PageError]:
        """Create comments whose parents are all mapped already: one result per item, in
        order. An item's PageError fails its page as a single create's error would; the
        other items stand. Raises BatchUnsupported (nothing sent), or utils.http.HttpError
        for the request as a whole."""
        ...


@runtime_checkable
class Target(Protocol):
    """Where comments go (one per system, `migrate/systems/<name>/`): all a target must do."""

    name: str
    capabilities: Capabilities

    def identity(self) -> Mapping[str, str]: ...

    def check(self, outgoing: OutgoingComment) -> str | None:
        """Reason this comment would be refused by rule, or None. Sends nothing."""
        ...

    def begin_page(self, page: Page) -> None: ...

    def create(self, outgoing: OutgoingComment) -> Created:
        """Create one comment. Raises CommentRefused, or utils.http.HttpError."""
        ...

    def finish_page(self, page: Page) -> None:
        """The page's comments are all sent; file targets commit the page here."""
        ...

    def abort_page(self, page: Page) -> None:
        """The page failed; file targets discard what they buffered for it."""
        ...

    def close(self) -> None: ...


class DurableEachComment:
    """For a target that holds each comment once `create` returns (a server: HTTP, Isso,
    Waline, GitHub): a page has nothing to commit at its end, nor to discard when it fails
    (what was created is journaled, and a rerun adopts or rolls it back)."""

    def finish_page(self, page: Page) -> None:
        """Nothing to commit: every comment of the page is already held."""

    def abort_page(self, page: Page) -> None:
        """Nothing buffered to discard."""


@runtime_checkable
class ReconcilingTarget(Protocol):
    """A target that can find, on an interrupted page, the comments it already holds."""

    def reconcile(
        self,
        page: Page,
        pending: Sequence[OutgoingComment],
        known_target_ids: Collection[str] = (),
    ) -> dict[str, str]:
        """Before resending on an interrupted page: source id -> target id already there.

        `known_target_ids`: target ids already mapped (on this page), which must not be
        adopted again (Isso matches by author and text, and those can repeat)."""
        ...


@runtime_checkable
class ListingTarget(Protocol):
    """A target that can read a page back (verify, rollback's backup)."""

    def list_page(self, page: Page) -> list[TargetComment]:
        """The page's comments as the target holds them."""
        ...


@runtime_checkable
class DeletingTarget(Protocol):
    """A target that can remove a comment (rollback, sync's deletions)."""

    def delete(self, target_id: str, page: Page) -> bool:
        """Delete one comment; False if it was already gone."""
        ...


@runtime_checkable
class PageMakingTarget(Protocol):
    """A target that makes something of its own per page besides the comments (GitHub: the
    page's discussion), which rollback removes too, once nothing else is in it."""

    made_per_page: str  # what it makes, for messages ("discussion")

    def made_for(self, page: Page) -> bool:
        """This tool made the page's container and it is there now (rollback's plan)."""
        ...

    def remove_made(self, page: Page) -> bool:
        """Rollback, after the page's comments: remove what this tool made for the page if
        nothing is in it (a visitor's comment keeps it); True if it is gone now."""
        ...


@runtime_checkable
class AdvisingTarget(Protocol):
    """A target with advice of its own for the run's summary (how to keep more of the
    comments, e.g. an import file where the API cannot keep dates)."""

    def advice(self) -> list[str]: ...


CRASH_WINDOW = (
    "may repeat comments sent just before a crash: it has no idempotency key, no "
    "reconcile and no page-atomic writes"
)


def crash_window(capabilities: Capabilities) -> str | None:
    """How a target may repeat a comment after a crash, or None when it cannot.

    The window is between "the target accepted a comment" and "its mapping is journaled"; an
    idempotency key, page-atomic writes or a `reconcile` that reads the page back closes it.
    A target declaring `idempotency = "reconcile"` is a ReconcilingTarget (the target contract
    kit checks it; the pipeline asks the object before calling it)."""
    if capabilities.idempotency in ("key", "reconcile") or capabilities.page_atomic:
        return None
    return CRASH_WINDOW


def target_notes(target: Target) -> list[str]:
    """What a run's summary says of the target: what it cannot hold, and its own advice."""
    notes = []
    if not target.capabilities.keeps_timestamps:
        notes.append(
            f"{target.name} cannot keep original timestamps: imported comments carry the "
            "time of the import."
        )
    window = crash_window(target.capabilities)
    if window:
        notes.append(f"the {target.name} target {window}.")
    if isinstance(target, AdvisingTarget):
        notes.extend(target.advice())
    return notes


@runtime_checkable
class CommitsLater(Protocol):
    """A page-atomic target whose commit can go on while the next page is worked:
    `commit_later(page)` writes the page now and makes it durable (its fsync) on a thread of
    its own; the call it returns waits for that, raising what `finish_page` would have. Until
    then nothing of the page goes into the checkpoint, and the target's next write waits for
    it first (a failed fsync cuts the page off the end of the file)."""

    def commit_later(self, page: Page) -> Callable[[], None]: ...


@runtime_checkable
class LocalOnly(Protocol):
    """A source or a target that waits on no server: it reads or writes files on this
    machine (an export, an archive, a database file, the file targets). A run between two of
    them works its pages one after another: when nothing waits, pages side by side gain
    nothing, and threads taking turns on the interpreter cost a tenth more CPU
    (benchmarks/scale_bench.py). A source or target that fetches anything says False."""

    local_only: bool


def works_locally(source: object, target: object) -> bool:
    """Does neither side of a run wait on a server (see `LocalOnly`)?"""
    return all(isinstance(side, LocalOnly) and side.local_only for side in (source, target))


class CheckFailed(Exception):
    """A preflight ability (a target's `probe()`) found a fault it can explain itself."""

    def __init__(self, detail: str, fix: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.fix = fix


class SourcePreflight(Protocol):
    """What a source knows about checking itself; see `Preflightable`."""

    @property
    def origin(self) -> str:
        """Where the pages come from, e.g. "from pages.csv"."""
        ...

    @property
    def note(self) -> str:
        """Said of a listing that worked ("" for nothing)."""
        ...

    @property
    def fix(self) -> str:
        """How to mend a listing that failed or found no page."""
        ...

    def service(self) -> list[CheckItem]:
        """The source's service and credentials, checked without writing; the pages are
        listed only when every item is ok."""
        ...

    def page(self, page: Page) -> CheckItem | None:
        """Whether this page can be read (None: nothing to check per page)."""
        ...


@runtime_checkable
class Preflightable(Protocol):
    """A source that can check itself before a run (optional ability)."""

    def preflight(self, timeout: float) -> SourcePreflight: ...


@runtime_checkable
class Probeable(Protocol):
    """A target that can prove it answers and accepts its credentials without writing
    (optional ability). Says what answered; raises CheckFailed, or the error it met."""

    def probe(self) -> str: ...


@runtime_checkable
class EmbedCheckable(Protocol):
    """A target whose comments a page shows through an embed (optional ability): does the
    page at `url`, whose HTML is `html`, show the thread this target writes for `page`?"""

    def check_embed(self, page: Page, html: str, url: str) -> CheckItem: ...


@runtime_checkable
class IncrementalSource(Protocol):
    """A source that can tell, cheaply, whether a page changed since a cursor.

    A Cursor is the source's opaque position, taken *before* a full read (so nothing that
    arrives meanwhile is missed), in the page's address of that time (`Cursor.ref`): a cursor
    taken elsewhere (a replaced page address) is never applied, the page is read whole instead."""

    def comments_with_cursor(self, page: Page) -> tuple[PageComments, Cursor]:
        """The page's comments (as `comments`), and the cursor of this read."""
        ...

    def comments_since(self, page: Page, cursor: Cursor) -> tuple[PageComments | None, Cursor]:
        """None and the same cursor when nothing happened on the page after `cursor`;
        otherwise the whole page read again and a new cursor. A new event may refer to old
        ones (a reply's parent, an edit's or a redaction's target), so what changed is worked
        out against the whole page, never from the new events alone."""
        ...


@runtime_checkable
class UpdatableTarget(Protocol):
    """A target that can change a comment it holds (sync applies edits and tombstones)."""

    def update(self, target_id: str, outgoing: OutgoingComment) -> bool:
        """Replace the comment's text (and html); False when it is gone from the target.
        Raises UnsupportedOperation when the target cannot, after all."""
        ...


@runtime_checkable
class DeltaFileTarget(Protocol):
    """A file target: a sync writes what is new to a new file beside the output, never
    rewriting what was imported."""

    def delta(self, label: str) -> Target:
        """The same kind of target writing to `<stem>.<label><suffix>` beside the output."""
        ...
