"""The archive's lines: the format's name and version, one schema check per record kind,
and a comment to a record and back (times in RFC 3339 UTC with a Z)."""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from migrate.errors import ExitStatus, SourceError
from migrate.model import Author, Comment
from utils.schema_check import Check, SchemaCompiler

FORMAT = "comment-migrate-archive"
VERSION = 1


class ArchiveError(SourceError):
    """The archive cannot be read: missing, not JSON, schema violation, truncated, too new.
    The archive is the user's own file: exit 2, like a configuration error."""

    exit_status = ExitStatus.USAGE


@functools.cache
def archive_schema() -> dict[str, Any]:
    text = (importlib.resources.files("migrate") / "schemas" / "archive.schema.json").read_text(
        encoding="utf-8"
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


RECORD_KINDS = ("header", "page", "comment", "skipped", "end")


@functools.cache
def _checks() -> dict[str, Check]:
    """One compiled check per record kind: the schema's allOf/if chain picks exactly the
    definition the `record` field names, so checking that one alone is the same test."""
    compiler = SchemaCompiler(archive_schema())
    return {kind: compiler.definition(kind) for kind in RECORD_KINDS}


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with a Z; microseconds only when there are some."""
    value = value.astimezone(UTC)
    # four digits of year whatever the C library's %Y writes (glibc: "999" for 999)
    text = f"{value.year:04d}-{value:%m-%dT%H:%M:%S}"
    return f"{text}.{value.microsecond:06d}Z" if value.microsecond else f"{text}Z"


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def comment_record(comment: Comment) -> dict[str, Any]:
    return {
        "record": "comment",
        "id": comment.id,
        "page_id": comment.page_id,
        "parent_id": comment.parent_id,
        # an IP address never goes into an archive; email and URL do (the owner's own data)
        "author": {
            "name": comment.author.name,
            "source_id": comment.author.source_id,
            "avatar_url": comment.author.avatar_url,
            "email": comment.author.email,
            "url": comment.author.url,
        },
        "text": comment.text,
        "html": comment.html,
        "created_at": format_time(comment.created_at),
        "edited_at": format_time(comment.edited_at) if comment.edited_at else None,
        "deleted": comment.deleted,
        "status": comment.status,
        "likes": comment.likes,
    }


def record_comment(record: Mapping[str, Any]) -> Comment:
    author = record["author"]
    return Comment(
        id=record["id"],
        page_id=record["page_id"],
        parent_id=record["parent_id"],
        author=Author(
            author["name"],
            author["source_id"],
            author["avatar_url"],
            email=author.get("email"),
            url=author.get("url"),
        ),
        text=record["text"],
        html=record["html"],
        created_at=parse_time(record["created_at"]),
        edited_at=parse_time(record["edited_at"]) if record["edited_at"] else None,
        deleted=record["deleted"],
        status=record.get("status", "approved"),
        likes=record.get("likes", 0),
    )
