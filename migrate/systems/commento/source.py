"""Commento's and Comentario's JSON exports as a source.

Version 1 (Commento's export, Comentario's first format, Commento++):
`{"version": 1, "comments": [...], "commenters": [...]}`. A comment has `commentHex`,
`parentHex` ("root" for top level), `markdown`, `url` (the page path; Comentario wrote
`path`), `commenterHex` ("anonymous", or 64 zeros in Comentario), `creationDate` (Go's
RFC 3339 with nanoseconds), `state` (approved | unapproved | flagged: Akismet's spam),
`score`, `deleted`. Commento's export does not select `deleted`: a comment it deleted reads
`"markdown": "[deleted]"` by the "anonymous" commenter, and is taken as deleted. Commenters
(listed once per comment in Commento's export) have `name`, `email`, `link` and `photo`
("undefined" when missing), or Comentario's `websiteUrl` and `avatarUrl`.

Version 3 (Comentario): `pages` (id, path, title), `comments` (id, parentId, pageId,
markdown, isApproved, isPending, isDeleted, createdTime, editedTime, userCreated, authorName,
score, authorIP), `commenters` (id, name, email, websiteUrl). A comment neither approved nor
pending was rejected by a moderator: it never migrates.

Both are Markdown: comments come with `text` and no `html`. Exports are gzip-compressed as
Commento and Comentario write them, or plain.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from migrate.errors import InputError
from migrate.files.export_source import (
    ExportSource,
    Record,
    Skip,
    count,
    email,
    flag,
    moment,
    optional,
    text,
    web_link,
)
from migrate.files.reading import json_items, json_value
from migrate.model import Author, Comment, Page, Status

ANONYMOUS_IDS = frozenset({"anonymous", "0" * 64, "00000000-0000-0000-0000-000000000000", ""})
STATES: dict[str, Status] = {"approved": "approved", "unapproved": "pending"}
DELETED_MARKDOWN = "[deleted]"


class CommentoSource(ExportSource):
    system = "commento"

    def __init__(self, path: Path, *, keep_ip: bool = False) -> None:
        super().__init__(path, keep_ip=keep_ip)
        self.version = 0
        self.commenters: dict[str, Author] = {}

    def index(self) -> Iterator[tuple[str | None, str | None, Record]]:
        version = json_value(self.path, "version")
        if version not in (1, 3, 1.0, 3.0):
            raise InputError(
                f"{self.path}: not a Commento/Comentario export (version {version!r}; "
                "expected 1 or 3)"
            )
        self.version = int(version)
        for commenter in json_items(self.path, "commenters.item"):
            if isinstance(commenter, dict):
                self._commenter(commenter)
        if self.version == 1:
            for record in json_items(self.path, "comments.item"):
                yield _address_v1(record), None, _object(record)
            return
        pages: dict[str, tuple[str, str | None]] = {}
        for page in json_items(self.path, "pages.item"):
            if isinstance(page, dict) and text(page.get("id")):
                pages[text(page["id"])] = (text(page.get("path")), optional(page.get("title")))
        for record in json_items(self.path, "comments.item"):
            path, title = pages.get(text(_object(record).get("pageId")), (None, None))
            yield path, title, _object(record)

    def _commenter(self, record: dict[str, Any]) -> None:
        hex_id = text(record.get("commenterHex") or record.get("id"))
        if not hex_id or hex_id in self.commenters:
            return  # Commento lists a commenter once per comment
        self.commenters[hex_id] = Author(
            name=optional(record.get("name")) or "Anonymous",
            source_id=hex_id,
            avatar_url=web_link(record.get("photo") or record.get("avatarUrl")),
            email=email(record.get("email")),
            url=web_link(record.get("link") or record.get("websiteUrl")),
        )

    def record_id(self, record: Record) -> str:
        return text(record.get("commentHex") or record.get("id")) or "?"

    def convert(self, record: Record, page: Page) -> Comment:
        if self.version == 3:
            return self._comment_v3(record, page)
        comment_id = self.record_id(record)
        state = text(record.get("state")) or "approved"
        if state == "flagged":
            raise Skip("flagged as spam")
        if state not in STATES:
            raise Skip(f"unknown state {state!r}")
        markdown = text(record.get("markdown"))
        commenter = text(record.get("commenterHex"))
        deleted = flag(record.get("deleted")) or (
            markdown.strip() == DELETED_MARKDOWN and commenter in ANONYMOUS_IDS
        )
        parent = text(record.get("parentHex"))
        return Comment(
            id=comment_id,
            page_id=page.id,
            parent_id=None if parent in ("", "root") else parent,
            author=self._author(commenter, None),
            text=markdown,
            created_at=moment(record.get("creationDate")),
            deleted=deleted,
            status=STATES[state],
            likes=count(record.get("score")),
        )

    def _comment_v3(self, record: Record, page: Page) -> Comment:
        deleted = flag(record.get("isDeleted"))
        pending = flag(record.get("isPending"))
        if not deleted and not pending and not flag(record.get("isApproved")):
            raise Skip("rejected by a moderator")
        edited = record.get("editedTime")
        author = self._author(text(record.get("userCreated")), optional(record.get("authorName")))
        if self.keep_ip and optional(record.get("authorIP")):
            author = replace(author, ip=optional(record.get("authorIP")))
        return Comment(
            id=self.record_id(record),
            page_id=page.id,
            parent_id=optional(record.get("parentId")),
            author=author,
            text=text(record.get("markdown")),
            created_at=moment(record.get("createdTime")),
            edited_at=moment(edited) if optional(edited) else None,
            deleted=deleted,
            status="pending" if pending else "approved",
            likes=count(record.get("score")),
        )

    def _author(self, commenter: str, typed_name: str | None) -> Author:
        known = self.commenters.get(commenter)
        if known is not None and commenter not in ANONYMOUS_IDS:
            return known
        return Author(name=typed_name or "Anonymous", source_id=commenter or "anonymous")


def _object(record: object) -> dict[str, Any]:
    """A record as an object; anything else is an empty one, which names no page (logged)."""
    return record if isinstance(record, dict) else {}


def _address_v1(record: object) -> str | None:
    comment = _object(record)
    path = text(comment.get("path") or comment.get("url")).strip()
    if not path and "commentHex" in comment:
        return "/"  # Commento allows an empty path: the site's front page
    return path or None
