"""Artalk's Artrans JSON as a source: what `artalk export` and the admin's Transfer write.

One JSON array of comments; Artalk writes every value as a string (`"id": "12"`,
`"is_pending": "false"`, `"vote_up": "3"`) and its importer accepts any JSON type, so both
are read. Fields: `id`, `rid` (the parent's id; "0" or "" for top level), `content`
(Markdown), `ua`, `ip` (kept only with `keep_ip`), `nick`, `email`, `link`, `created_at`,
`updated_at` ("2006-01-02 15:04:05 -0700" as Artalk writes them; other converters write
RFC 3339 or no zone at all: a time without a zone is in `timezone`, UTC by default, as
Artalk reads it in its server's zone), `is_collapsed`, `is_pending`, `is_pinned`,
`vote_up`, `vote_down`, `page_key` (a path or a full URL), `page_title`, `site_name`,
`site_urls`. Artalk deletes comments outright and has no spam flag: what is in the file is
approved or pending. "anonymous@example.org" is the address Artalk's importer puts where
an email was missing, and reads as none.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from migrate.errors import ConfigError, InputError
from migrate.files.export_source import (
    ExportSource,
    Record,
    count,
    email,
    flag,
    moment,
    optional,
    text,
    web_link,
)
from migrate.files.reading import first_byte, json_items
from migrate.model import Author, Comment, Page

PLACEHOLDER_EMAIL = "anonymous@example.org"


def author_id(nick: str, address: str | None) -> str:
    """Artalk knows a user by name and email: an id from both that shows neither."""
    digest = hashlib.sha256(f"{nick}\n{address or ''}".encode()).hexdigest()
    return f"artalk-{digest[:20]}"


class ArtalkSource(ExportSource):
    system = "artalk"
    fields = frozenset(
        {
            "id",
            "rid",
            "content",
            "nick",
            "email",
            "link",
            "ip",
            "created_at",
            "updated_at",
            "is_pending",
            "vote_up",
        }
    )

    def __init__(self, path: Path, *, keep_ip: bool = False, timezone: str = "UTC") -> None:
        super().__init__(path, keep_ip=keep_ip)
        try:
            self.zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"source.timezone {timezone!r} is no known time zone") from exc

    def index(self) -> Iterator[tuple[str | None, str | None, Record]]:
        if first_byte(self.path) != b"[":
            raise InputError(f"{self.path}: not Artrans (Artalk's export is one JSON array)")
        for item in json_items(self.path, "item"):
            record: dict[str, Any] = item if isinstance(item, dict) else {}
            yield optional(record.get("page_key")), optional(record.get("page_title")), record

    def convert(self, record: Record, page: Page) -> Comment:
        parent = text(record.get("rid")).strip()
        address = email(record.get("email"))
        created = moment(record.get("created_at"), zone=self.zone)
        updated = record.get("updated_at")
        edited = moment(updated, zone=self.zone) if optional(updated) else None
        return Comment(
            id=self.record_id(record),
            page_id=page.id,
            parent_id=None if parent in ("", "0") else parent,
            author=Author(
                name=optional(record.get("nick")) or "Anonymous",
                source_id=author_id(text(record.get("nick")), address),
                email=None if address == PLACEHOLDER_EMAIL else address,
                url=web_link(record.get("link")),
                ip=optional(record.get("ip")) if self.keep_ip else None,
            ),
            text=text(record.get("content")),
            created_at=created,
            edited_at=edited if edited is not None and edited > created else None,
            status="pending" if flag(record.get("is_pending")) else "approved",
            likes=count(record.get("vote_up")),
        )
