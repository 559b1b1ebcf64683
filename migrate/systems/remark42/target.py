"""The Remark42 native backup (`output = "remark42-backup.gz"`): what `remark42 restore`
and the admin import with `provider=native` read. Gzip JSON Lines: the meta record, then
one comment per line. Remark42 is a Go program that cannot run here; the file follows its
documented backup format and this tool's Remark42 source reads it back (a round trip).

Remark42's importer wipes the site before it restores (`DeleteAll`), and keeps each
comment's `id`, `pid` and `time` as given; it reads the file as gzip only when its name ends
in `.gz`, so the output must. Each comment: `id` (its target id), `pid`, `text` (sanitized
HTML), `orig` (the Markdown, for editing), `user` (`name` as plain text, `id` =
"<source system>_<sha1 of the author's id>" as Remark42's own importers build them,
`picture`), `locator` (`site`: the `site` key, "remark" by default; `url`: `site_url` + the
page key, Remark42 keys a page by its full URL), `score` (likes), `time` (UTC),
`edit`, `delete` (a tombstone keeps its place with an empty text), `imported`, `title`.
Remark42 holds no pending comment, email or website: pending comments are refused (skipped
with the reason), emails and websites are not written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from migrate.content import render_markdown
from migrate.errors import ConfigError
from migrate.files.base import StoredPage
from migrate.files.derived import DerivedFileTarget
from migrate.files.formats import (
    importer,
    neutral_text,
    page_link,
    rendered_content,
    sanitize_html,
)
from migrate.files.reading import empty_or_gzip
from migrate.files.records import Record, dumps, parse_rfc3339

DEFAULT_SITE = "remark"
_READER = importer("remark42")
_MARKDOWN = importer("commento")  # Markdown read by a Markdown renderer


class Remark42Target(DerivedFileTarget):
    name = "remark42"
    default_importer = "remark42"
    compressed = True
    capabilities = replace(DerivedFileTarget.capabilities, content="both", keeps_avatars=True)

    def __init__(self, output: Path, **options: Any) -> None:
        if not Path(output).name.endswith(".gz"):
            raise ConfigError(
                f"target.output {str(output)!r}: Remark42 reads a backup as gzip only when "
                "its name ends in .gz"
            )
        super().__init__(output, **options)

    recognizes = staticmethod(empty_or_gzip)

    def write_file(self, handle: IO[str]) -> None:
        write_backup(
            handle,
            self.committed_pages(),
            site=self.settings.get("site") or DEFAULT_SITE,
            site_url=self.site_url,
        )


def write_backup(handle: IO[str], pages: Iterator[StoredPage], *, site: str, site_url: str) -> None:
    stored = list(pages)
    posts = []
    for page in stored:
        link, _ = page_link(site_url, str(page.page.get("uri") or "/"))
        if link:
            posts.append({"url": link, "read_only": False})
    handle.write(dumps({"version": 1, "users": [], "posts": posts}) + "\n")
    for page in stored:
        uri = str(page.page.get("uri") or "/")
        link, _ = page_link(site_url, uri)
        if link is None:
            continue  # check() refused its comments
        title = neutral_text(str(page.page.get("title") or "")).strip()
        for comment in page.comments:
            handle.write(dumps(_comment(comment, site, link, title)) + "\n")


def _comment(comment: Mapping[str, Any], site: str, url: str, title: str) -> Record:
    author = comment.get("author") or {}
    source = comment.get("source") or {}
    deleted = bool(comment.get("deleted"))
    origin = str(author.get("source_id") or author.get("name") or "")
    picture = str(author.get("avatar_url") or "")
    record: Record = {
        "id": str(comment["id"]),
        "pid": str(comment.get("parent_id") or ""),
        "text": "" if deleted else _html(comment),
        "user": {
            "name": neutral_text(str(author.get("name") or "")).strip() or "Anonymous",
            "id": f"{source.get('system') or 'import'}_"
            + hashlib.sha1(origin.encode(), usedforsecurity=False).hexdigest(),
            "picture": picture if picture.startswith(("http://", "https://")) else "",
            "admin": False,
        },
        "locator": {"site": site, "url": url},
        "score": int(comment.get("likes") or 0),
        "vote": 0,
        "time": remark_time(comment.get("created_at")),
        "imported": True,
    }
    if not deleted:
        # what the author edits: the Markdown, with links and tags made safe as for any reader
        record["orig"] = rendered_content(
            str(comment.get("text") or ""), None, _MARKDOWN, allow_images=True
        ).strip()
    if comment.get("edited_at") and not deleted:
        record["edit"] = {"time": remark_time(comment["edited_at"]), "summary": ""}
    if deleted:
        record["delete"] = True
    if title:
        record["title"] = title
    return record


def _html(comment: Mapping[str, Any]) -> str:
    """The comment's sanitized HTML; a Markdown-only comment rendered as Remark42 would."""
    text = str(comment.get("text") or "")
    source_html = comment.get("html") or sanitize_html(render_markdown(text))
    return rendered_content(text, source_html, _READER)


def remark_time(value: object) -> str:
    moment = parse_rfc3339(value)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "1970-01-01T00:00:00Z"
