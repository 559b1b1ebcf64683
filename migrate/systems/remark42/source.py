"""Remark42's native backup as a source: what `remark42 backup` and the admin export write.

JSON Lines, usually gzip-compressed: the first line is the meta record
`{"version": 1, "users": [{"id", "blocked": {"status", "until"}, "verified"}],
"posts": [{"url", "read_only"}]}`, then one comment per line: `id`, `pid` ("" for top
level), `text` (sanitized HTML), `orig` (what was typed; never trusted as HTML), `user`
(`name` (stored HTML-escaped), `id` ("provider_<sha1>"), `picture`, `ip` (an HMAC, kept only
with `keep_ip`), `admin`, `block`), `locator` (`site`, `url`: the page's full URL), `score`,
`votes` (user id -> up?), `time` (RFC 3339 with nanoseconds, any zone), `edit` (`time`,
`summary`), `delete`, `imported`, `title` (the page's title).

Remark42 has no moderation queue and no spam flag: a comment of a blocked user (blocked in
the meta record, or `user.block`) is left out, as Remark42 hides it. Content is HTML: `html`
is the sanitized HTML and `text` its Markdown.
"""

from __future__ import annotations

import html
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
    count,
    flag,
    moment,
    optional,
    text,
    web_link,
)
from migrate.files.reading import json_lines
from migrate.model import Author, Comment, Page

log = logging.getLogger("comment_migrate.sources")

VERSIONS = (0, 1)  # Remark42 restores version 1, and 0 for old backups


class Remark42Source(ExportSource):
    system = "remark42"

    def __init__(self, path: Any, *, keep_ip: bool = False) -> None:
        super().__init__(path, keep_ip=keep_ip)
        self.blocked: set[str] = set()

    def index(self) -> Iterator[tuple[str | None, str | None, Record]]:
        meta = False
        for number, line in json_lines(self.path):
            record = _decode(line)
            if not meta:  # the first line that is not blank
                self._meta(record)
                meta = True
                continue
            if record is None or not isinstance(record.get("locator"), dict):
                log.warning("%s:%d: not a Remark42 comment; left out", self.path, number)
                self.unplaced += 1
                continue
            locator: Mapping[str, Any] = record["locator"]
            yield text(locator.get("url")) or None, optional(record.get("title")), record
        if not meta:
            raise InputError(f"{self.path}: empty, not a Remark42 backup")

    def _meta(self, record: Mapping[str, Any] | None) -> None:
        if record is None or "locator" in record or record.get("version", 0) not in VERSIONS:
            version = None if record is None else record.get("version")
            raise InputError(
                f"{self.path}: not a Remark42 backup (its first line is no meta record of "
                f"version 0 or 1; found {version!r})"
            )
        for user in record.get("users") or ():
            if isinstance(user, dict) and flag((user.get("blocked") or {}).get("status")):
                self.blocked.add(text(user.get("id")))

    def convert(self, record: Record, page: Page) -> Comment:
        user: Mapping[str, Any] = _mapping(record.get("user"))
        user_id = text(user.get("id"))
        if flag(user.get("block")) or user_id in self.blocked:
            raise Skip("its author is blocked on Remark42")
        content = sanitize_html(text(record.get("text"))) or ""
        votes = record.get("votes")
        ups = sum(1 for up in votes.values() if up is True) if isinstance(votes, dict) else 0
        edit = _mapping(record.get("edit"))
        return Comment(
            id=self.record_id(record),
            page_id=page.id,
            parent_id=optional(record.get("pid")),
            author=Author(
                name=html.unescape(text(user.get("name"))).strip() or "Anonymous",
                source_id=user_id or "anonymous",
                avatar_url=web_link(user.get("picture")),
                ip=optional(user.get("ip")) if self.keep_ip else None,
            ),
            text=html_to_markdown(content),
            html=content or None,
            created_at=moment(record.get("time")),
            edited_at=moment(edit["time"]) if optional(edit.get("time")) else None,
            deleted=flag(record.get("delete")),
            likes=ups or count(record.get("score")),
        )


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _decode(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    return record if isinstance(record, dict) else None
