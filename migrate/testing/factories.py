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

__all__ = [
    "BASE_TIME",
    "ListSource",
    "comment",
    "disqus_shaped_site",
    "make_archive",
    "page",
    "threaded_site",
]

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


def disqus_shaped_site(
    pages: int = 4, per_page: int = 25, seed: int = 7
) -> dict[Page, list[Comment]]:
    """A site as a Disqus export has it: threads keyed by their page's absolute URL (an
    `.html` permalink, some with a query), titles, guests with and without a profile URL,
    replies nested as deep as Disqus lets them go (any depth), "@name" in texts, blank
    lines, Markdown and a few unicode names. Made for targets that flatten deep replies."""
    import random

    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    names = ["Ann", "bob_the_builder", "Zoë Ünal", "*stars*", "@torvalds", "Ed [admin]", "Fay"]
    site: dict[Page, list[Comment]] = {}
    for p in range(pages):
        path = f"/2019/0{p % 9 + 1}/post-{p}.html" + ("?lang=en" if p % 3 == 2 else "")
        pg = Page(
            id=f"disqus-thread-{7000 + p}",
            key=path,
            title=f"Post {p}: notes on things",
            url=f"https://blog.example.org{path}",
        )
        comments: list[Comment] = []
        for i in range(per_page):
            parent = (
                comments[rng.randrange(len(comments))].id
                if comments and rng.random() < 0.7
                else None
            )
            name = names[rng.randrange(len(names))]
            text = rng.choice(
                [
                    f"Great post! ({p}.{i})",
                    f"@Ann I disagree, see **point {i}**.\n\nSecond paragraph {p}.{i}",
                    f"Thanks! {i}",
                    f"- a list {i}\n- of things\n\n> quoted {p}",
                ]
            )
            comments.append(
                Comment(
                    id=f"{400000 + p * 1000 + i}",
                    page_id=pg.id,
                    parent_id=parent,
                    author=Author(
                        name=name,
                        source_id=f"disqus:{name}",
                        url=f"https://people.example.org/{i}" if i % 4 == 0 else None,
                    ),
                    text=text,
                    created_at=BASE_TIME + timedelta(hours=p * 24 + i),
                )
            )
        site[pg] = comments
    return site
