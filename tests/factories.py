"""Small builders for source comments in tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from migrate.model import Author, Comment, Page

BASE_TIME = datetime(2021, 3, 14, 15, 9, 26, tzinfo=UTC)


def comment(
    cid: str, parent: str | None = None, *, minute: int = 0, author: str = "alice",
    text: str | None = None, page: str = "post1", deleted: bool = False, html: str | None = None,
) -> Comment:
    return Comment(
        id=cid,
        page_id=page,
        parent_id=parent,
        author=Author(name=author, source_id=f"@{author}:localhost"),
        text=text if text is not None else f"comment {cid} by {author}",
        html=html,
        created_at=BASE_TIME + timedelta(minutes=minute),
        deleted=deleted,
    )


def page(pid: str = "post1") -> Page:
    return Page(id=pid, uri=f"/{pid}/", title=f"Title of {pid}")
