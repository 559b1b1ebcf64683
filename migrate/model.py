"""Source-neutral data model: what a comment is, wherever it came from or goes to.

This module imports nothing of the project, so sources, targets and the orchestrator can all
depend on it without depending on each other.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

DELETED_TEXT = "[deleted]"


@dataclass(frozen=True)
class Author:
    name: str
    source_id: str
    avatar_url: str | None = None


@dataclass(frozen=True)
class Page:
    """One page of the site: a Cactus section, i.e. one Matrix room."""

    id: str  # the Cactus section id
    uri: str  # the page's path on the site, e.g. "/blog/post1/"
    title: str | None = None
    room_id: str | None = None
    alias: str | None = None


@dataclass(frozen=True)
class Comment:
    id: str  # source id (a Matrix event id)
    page_id: str
    parent_id: str | None  # source id of the comment this one answers
    author: Author
    text: str  # Markdown/plain, reply fallback stripped, latest edit applied
    created_at: datetime  # timezone-aware, UTC
    html: str | None = None  # sanitized HTML (Matrix: always; formatted_body or escaped plain)
    edited_at: datetime | None = None
    deleted: bool = False  # tombstone: kept only because it has replies


@dataclass(frozen=True)
class SkippedEvent:
    """A source event that did not become a comment, and why."""

    event_id: str
    page_id: str
    reason: str


@dataclass
class PageComments:
    """Everything extracted from one page."""

    page: Page
    comments: list[Comment]  # oldest first
    skipped: list[SkippedEvent] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)  # comment ids whose parent was not found
    # comments whose content or avatar links media on the source's server (not copied by
    # [media]): they break when that server refuses anonymous downloads or is turned off
    homeserver_media: int = 0


@runtime_checkable
class Source(Protocol):
    """Where comments come from (`migrate/sources/`)."""

    system: str  # short name used in idempotency keys, e.g. "matrix"

    def pages(self) -> Iterator[Page]: ...

    def comments(self, page: Page) -> PageComments: ...

    def identity(self) -> Mapping[str, str]:
        """What identifies this source in a checkpoint's config digest."""
        ...

    def close(self) -> None: ...


Idempotency = Literal["key", "lookup", "none"]
ContentKind = Literal["markdown", "html", "both"]


@dataclass(frozen=True)
class Capabilities:
    max_depth: int | None  # None: any depth; 0: no replies; 1: replies to top level only
    keeps_timestamps: bool
    idempotency: Idempotency  # how the gap "accepted but not yet mapped" is closed
    can_delete: bool
    content: ContentKind
    min_text_length: int = 0
    page_atomic: bool = False  # file targets: a page is written whole or not at all
    # readers see a page's comments in the order they arrived (Isso's API stamps the import
    # time): one request per page at a time, in send order
    ordered_per_page: bool = False
    keeps_avatars: bool = False  # a field for the author's avatar URL that readers see
    shows_images: bool = True  # Markdown images render as images (a stock Isso drops <img>)


@dataclass(frozen=True)
class OutgoingComment:
    """A comment ready for one target: parent resolved, content chosen."""

    source: Comment
    page: Page
    parent_target_id: str | None  # target id of the parent, resolved through the mapping
    parent_source_id: str | None  # source id of the comment it attaches to (after flattening)
    text: str
    html: str | None
    idempotency_key: str


@dataclass(frozen=True)
class Created:
    target_id: str
    parent_target_id: str | None = None  # the parent the target actually stored
    already_existed: bool = False


@dataclass(frozen=True)
class TargetComment:
    """A comment as a target holds it (for reconciliation, verify and rollback backups)."""

    target_id: str
    parent_target_id: str | None
    author_name: str
    text: str  # the Markdown/plain form the target keeps
    created_at: datetime | None = None
    source_id: str | None = None  # when the target remembers where it came from
    html: str | None = None  # the HTML a reader's browser gets, when the target has one
    author_avatar_url: str | None = None
    raw: Mapping[str, object] = field(default_factory=dict)


class PageError(Exception):
    """One page cannot be read or written (room not found, forbidden, a target's refusal).

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
    """Where comments go (`migrate/targets/`)."""

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

    def finish_page(self, page: Page) -> None:
        """The page's comments are all sent; file targets commit the page here."""
        ...

    def abort_page(self, page: Page) -> None:
        """The page failed; file targets discard what they buffered for it."""
        ...

    def list_page(self, page: Page) -> list[TargetComment]:
        """The page's comments as the target holds them (verify, reconcile)."""
        ...

    def delete(self, target_id: str, page: Page) -> bool:
        """Delete one comment; False if it was already gone."""
        ...

    def close(self) -> None: ...


# -- preflight (`comment-migrate check`): optional abilities, asked of the object ------------


@dataclass(frozen=True)
class CheckItem:
    """One preflight finding: ok, or what is wrong (`detail`) and how to fix it (`fix`).
    An ok item carries no fix; `check` makes every item's text terminal-safe."""

    name: str  # "config", "homeserver", "token", "pages", "target", "checkpoint", "page <id>"
    ok: bool
    detail: str
    fix: str = ""

    def __post_init__(self) -> None:
        if self.ok:
            object.__setattr__(self, "fix", "")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix}


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


# -- optional abilities, asked of the object with isinstance (sync) ---------------------------


@runtime_checkable
class IncrementalSource(Protocol):
    """A source that can tell, cheaply, whether a page changed since a cursor.

    A cursor is an opaque string the source hands out with a full read (taken *before* the
    read, so nothing that arrives meanwhile is missed) and reads forward from later."""

    def comments_with_cursor(self, page: Page) -> tuple[PageComments, str]:
        """The page's comments (as `comments`), and the cursor of this read."""
        ...

    def comments_since(self, page: Page, cursor: str) -> tuple[PageComments | None, str]:
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
