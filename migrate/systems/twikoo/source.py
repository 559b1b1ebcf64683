"""Twikoo's comment export as a source (the admin panel's Export; source only).

A JSON array of comment documents, or JSON Lines, one document per line, as Twikoo's
database exports (CloudBase, MongoDB) write them. A document: `_id` (a string, or
`{"$oid": ...}`), `nick`, `mail`, `mailMd5`, `link`, `avatar`, `url` (the page path),
`href` (the page's full URL), `comment` (HTML), `pid` (the comment answered), `rid` (the
thread's first comment), `isSpam`, `created` and `updated` (epoch milliseconds, or
`{"$date": ...}` / `{"$numberLong": ...}` in MongoDB's extended JSON), `ua`, `ip` (kept
only with `keep_ip`), `like` (the ids of who liked it), `top`, `master`.

Spam never migrates. Twikoo deletes comments outright and has no moderation queue, and it
changes `updated` on every like: no edit time is taken from it. Content is HTML: `html` is
the sanitized HTML and `text` its Markdown.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from migrate.content import html_to_markdown, sanitize_html
from migrate.errors import InputError
from migrate.files.export_source import (
    ExportSource,
    Record,
    Skip,
    email,
    flag,
    moment,
    optional,
    text,
    web_link,
)
from migrate.files.reading import first_byte, json_items, json_lines
from migrate.model import Author, Comment, Page

log = logging.getLogger("comment_migrate.sources")


class TwikooSource(ExportSource):
    system = "twikoo"
    fields = frozenset(
        {
            "_id",
            "nick",
            "mail",
            "mailMd5",
            "link",
            "avatar",
            "comment",
            "pid",
            "rid",
            "isSpam",
            "created",
            "ip",
            "like",
        }
    )

    def index(self) -> Iterator[tuple[str | None, str | None, Record]]:
        start = first_byte(self.path)
        if start == b"[":
            documents: Iterator[Any] = json_items(self.path, "item")
        elif start == b"{":
            documents = self._lines()
        else:
            raise InputError(
                f"{self.path}: not a Twikoo export (a JSON array or JSON Lines of comments)"
            )
        for document in documents:
            record: dict[str, Any] = document if isinstance(document, dict) else {}
            yield optional(record.get("url")) or optional(record.get("href")), None, record

    def _lines(self) -> Iterator[Any]:
        for number, line in json_lines(self.path):
            try:
                yield json.loads(line)
            except (ValueError, UnicodeDecodeError):
                log.warning("%s:%d: not a JSON document; left out", self.path, number)
                yield None

    def record_id(self, record: Record) -> str:
        return object_id(record.get("_id")) or "?"

    def convert(self, record: Record, page: Page) -> Comment:
        if flag(record.get("isSpam")):
            raise Skip("marked as spam")
        comment_id = self.record_id(record)
        if comment_id == "?":
            raise Skip("no _id")
        content = sanitize_html(text(record.get("comment"))) or ""
        nick = optional(record.get("nick")) or "Anonymous"
        address = email(record.get("mail"))
        likes = record.get("like")
        return Comment(
            id=comment_id,
            page_id=page.id,
            parent_id=object_id(record.get("pid")) or object_id(record.get("rid")) or None,
            author=Author(
                name=nick,
                source_id=optional(record.get("mailMd5")) or _digest(nick, address),
                avatar_url=web_link(record.get("avatar")),
                email=address,
                url=web_link(record.get("link")),
                ip=optional(record.get("ip")) if self.keep_ip else None,
            ),
            text=html_to_markdown(content),
            html=content or None,
            created_at=moment(record.get("created")),
            likes=len(likes) if isinstance(likes, list) else 0,
        )


def object_id(value: object) -> str:
    """A document id: a string, or MongoDB's `{"$oid": ...}`."""
    if isinstance(value, Mapping) and "$oid" in value:
        return text(value["$oid"]).strip()
    return text(value).strip()


def _digest(nick: str, address: str | None) -> str:
    return "twikoo-" + hashlib.sha256(f"{nick}\n{address or ''}".encode()).hexdigest()[:20]
