"""The neutral data model: what a page and a comment are, wherever they come from or go to.

Data only: no I/O, no behaviour beyond construction. This module imports nothing of the
project, so every system, the pipeline and the commands can depend on it. What a source or a
target must do, and may do, is in migrate/abilities.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime
from typing import Any, Literal, TypeVar

DELETED_TEXT = "[deleted]"

_Frozen = TypeVar("_Frozen")


def stored_directly(cls: type[_Frozen]) -> type[_Frozen]:
    """A frozen dataclass made as quickly as a plain one: its `__init__` (the same
    signature) stores each field in the instance's `__dict__`, where the one `dataclass`
    writes calls `object.__setattr__` per field, three times slower. For the records made
    once or more for every comment (Author, Comment, OutgoingComment, Created); the class
    stays frozen, equal and hashable as before."""
    params: list[str] = []
    defaults: dict[str, object] = {}
    keyword_only = False
    for item in fields(cls):  # type: ignore[arg-type]
        if item.default_factory is not MISSING or not item.init:
            raise TypeError(f"{cls.__name__}.{item.name}: only plain fields and defaults")
        if item.kw_only and not keyword_only:
            params.append("*")
            keyword_only = True
        if item.default is MISSING:
            params.append(item.name)
        else:
            params.append(f"{item.name}=_default_{item.name}")
            defaults[f"_default_{item.name}"] = item.default
    stores = "".join(f"    fields[{item.name!r}] = {item.name}\n" for item in fields(cls))  # type: ignore[arg-type]
    source = f"def __init__(self, {', '.join(params)}):\n    fields = self.__dict__\n{stores}"
    made: dict[str, Any] = {}
    exec(source, defaults, made)  # noqa: S102 (made from the class's own field names)
    made["__init__"].__qualname__ = f"{cls.__qualname__}.__init__"
    setattr(cls, "__init__", made["__init__"])  # noqa: B010
    return cls


@stored_directly
@dataclass(frozen=True)
class Author:
    name: str
    source_id: str
    avatar_url: str | None = None
    # kept where the target has a field for them; never printed or logged (not in repr)
    email: str | None = field(default=None, repr=False)
    url: str | None = None
    ip: str | None = field(default=None, repr=False)  # dropped unless `keep_ip = true`


@dataclass(frozen=True)
class Page:
    """One page of the site, as every system has it."""

    id: str  # stable source id of the page (a thread id, a section id)
    key: str  # the target's thread key, usually the URL path, e.g. "/blog/post1/"
    title: str | None = None
    # the absolute URL of the page, where the source knows it
    url: str | None = field(default=None, kw_only=True)
    # the source's own address of the page (where it reads it from), opaque to the core
    ref: str | None = field(default=None, kw_only=True)


Status = Literal["approved", "pending", "spam"]


@stored_directly
@dataclass(frozen=True)
class Comment:
    id: str  # the source system's id of the comment
    page_id: str
    parent_id: str | None  # source id of the comment this one answers
    author: Author
    text: str  # Markdown/plain, reply fallback stripped, latest edit applied
    created_at: datetime  # timezone-aware, UTC
    html: str | None = None  # sanitized HTML, where the source has (or makes) an HTML form
    edited_at: datetime | None = None
    deleted: bool = False  # tombstone: kept only because it has replies
    status: Status = "approved"  # spam never migrates; pending stays pending where it can
    likes: int = 0


@dataclass(frozen=True)
class SkippedEvent:
    """A source event that did not become a comment, and why."""

    event_id: str
    page_id: str
    reason: str


@dataclass(frozen=True)
class Cursor:
    """Where a sync reads a page on from: the source's position `token`, taken in `ref`
    (the page's address when it was taken, `Page.ref`). A token means nothing anywhere
    else: a page whose address changed is read whole again."""

    token: str
    ref: str | None = None


@dataclass
class PageComments:
    """Everything extracted from one page."""

    page: Page
    comments: list[Comment]  # oldest first
    skipped: list[SkippedEvent] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)  # comment ids whose parent was not found
    # comments whose content or avatar links media on the source's server (not copied by
    # [media]): they break when that server refuses anonymous downloads or is turned off
    source_media: int = 0
    # ids of comments whose text links a media file (on the source's server or a [media]
    # copy): copying it changes their text, so a sync keeps their revision and updates them
    media_comments: list[str] = field(default_factory=list)


# how the window "accepted by the target, not yet journaled" is closed: an idempotency key, a
# reconcile that reads the page back (ReconcilingTarget), or nothing (page-atomic targets
# close it by writing a page whole: Capabilities.page_atomic)
Idempotency = Literal["key", "reconcile", "none"]

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
    # a comment waiting for moderation can be stored as waiting (Isso mode 2, WXR approved 0,
    # Waline "waiting"); elsewhere pending comments are skipped with the reason
    keeps_pending: bool = False
    # the author is the comment's own field; False: every comment is posted by one account
    # and names its author in its text (GitHub Discussions)
    keeps_authors: bool = True


@stored_directly
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


@stored_directly
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


@dataclass(frozen=True)
class CheckItem:
    """One preflight finding: ok, or what is wrong (`detail`) and how to fix it (`fix`).
    An ok item carries no fix; `check` makes every item's text terminal-safe."""

    name: str  # "config", "token", "pages", "target", "checkpoint", "page <id>", a service
    ok: bool
    detail: str
    fix: str = ""

    def __post_init__(self) -> None:
        if self.ok:
            object.__setattr__(self, "fix", "")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix}
