"""Small builders of source comments, pages and sites for tests, demos and benchmarks.

`comment` and `page` build model objects with predictable ids, names and times (from
BASE_TIME); `threaded_site` builds pages of threads; `make_archive` writes a site as a real
archive file (what `comment-migrate extract` writes), so a run reads it like any archive.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from migrate.model import Author, Comment, Page, PageComments

__all__ = ["BASE_TIME", "ListSource", "comment", "make_archive", "page", "threaded_site"]

BASE_TIME = datetime(2021, 3, 14, 15, 9, 26, tzinfo=UTC)


def comment(
    cid: str,
    parent: str | None = None,
    *,
    minute: int = 0,
    author: str = "alice",
    text: str | None = None,
    page: str = "post1",
    deleted: bool = False,
    html: str | None = None,
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
    return Page(id=pid, key=f"/{pid}/", title=f"Title of {pid}")


class ListSource:
    """Pages and comments held in memory: only used to write real archive files."""

    system = "matrix"

    def __init__(self, pages: dict[Page, list[Comment]]) -> None:
        self._pages = pages

    def pages(self) -> Iterator[Page]:
        return iter(self._pages)

    def comments(self, page: Page) -> PageComments:
        return PageComments(page, list(self._pages[page]))

    def identity(self) -> dict[str, str]:
        return {"homeserver": "http://127.0.0.1", "site": "test"}

    def close(self) -> None:
        pass


def make_archive(path: Path, pages: dict[Page, list[Comment]]) -> Path:
    from migrate.systems.archive import write_archive  # on use: builders stay cheap to import

    write_archive(path, ListSource(pages))
    return path


def threaded_site(pages: int = 3, per_page: int = 12, depth: int = 4) -> dict[Page, list[Comment]]:
    """Pages whose comments form threads up to `depth` levels deep, several authors,
    a repeated short text ("Thanks!") to make matching by text ambiguous."""
    site: dict[Page, list[Comment]] = {}
    for p in range(pages):
        pg = page(f"post{p}")
        comments: list[Comment] = []
        for i in range(per_page):
            cid = f"$p{p}c{i}:localhost"
            level = i % depth
            parent = comments[i - 1].id if level and comments else None
            text = "Thanks!" if i % 5 == 4 else f"page {p} comment {i} at level {level}"
            comments.append(
                comment(cid, parent, minute=i, author=f"user{i % 3}", text=text, page=pg.id)
            )
        site[pg] = comments
    return site
