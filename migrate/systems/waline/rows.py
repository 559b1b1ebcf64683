"""Waline's export (`{"type": "waline", "version": 1, "data": {"Comment": [...], ...}}`, what
its admin Export writes, its Import reads and `GET /api/db` answers) read into comments.

A row: `objectId`, `url` (the page path), `pid` (parent), `rid` (thread root), `nick`,
`mail`, `link`, `comment` (Markdown), `status` (approved | waiting | spam; Valine's old rows
have none: approved), `like`, `insertedAt`/`createdAt`/`updatedAt`, `ip`, `user_id`.
`updatedAt` changes with any change (a like, a status), so it is not read as an edit time.

Times: SQL storages export the server's local wall clock without a zone
("2024-05-01 20:00:00"); LeanCloud and rows this tool wrote carry an ISO instant with `Z`,
and LeanCloud may wrap it as `{"__type": "Date", "iso": ...}`. A time without a zone is read
in `zone` (the Waline server's zone; the server source learns each comment's instant from the
widget API instead).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from migrate.content import clean_text
from migrate.errors import SourceError
from migrate.model import Author, Comment, SkippedEvent

FORMAT_TYPE = "waline"


def export_comments(document: object, where: str) -> list[dict[str, Any]]:
    """The Comment rows of an export document; a clear error naming `where` otherwise."""
    if isinstance(document, Mapping) and "data" in document and "type" not in document:
        document = document["data"]  # GET /api/db wraps the export in Waline's answer
    if not isinstance(document, Mapping) or document.get("type") != FORMAT_TYPE:
        raise SourceError(f'{where}: not a Waline export (no "type": "waline" at the top)')
    data = document.get("data")
    rows = data.get("Comment") if isinstance(data, Mapping) else None
    if not isinstance(rows, list):
        raise SourceError(f'{where}: a Waline export without a "data"."Comment" list')
    return [row for row in rows if isinstance(row, dict)]


def load_export(raw: bytes, where: str) -> list[dict[str, Any]]:
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SourceError(f"{where}: not JSON ({exc})") from exc
    return export_comments(document, where)


def row_id(value: object) -> str | None:
    if value is None or value == "" or value == 0:
        return None
    return str(value)


def parse_time(value: object, zone: tzinfo) -> datetime | None:
    """A row's time as an aware UTC datetime; None when it is not a time."""
    if isinstance(value, Mapping):
        value = value.get("iso")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def page_keys(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The pages (`url`) in first-seen order."""
    seen: dict[str, None] = {}
    for row in rows:
        url = row.get("url")
        if isinstance(url, str) and url:
            seen.setdefault(url, None)
    return list(seen)


def read_rows(
    rows: list[dict[str, Any]],
    page_id: str,
    zone: tzinfo,
    instants: Mapping[str, datetime] | None = None,
) -> tuple[list[Comment], list[SkippedEvent], list[str]]:
    """The page's comments oldest first, the rows skipped (spam, malformed) with why, and
    the ids whose parent is not in the export (they become top-level comments).

    `instants`: objectId -> the comment's instant as the server reports it (wins over the
    row's own wall-clock time)."""
    skipped: list[SkippedEvent] = []
    kept: list[tuple[datetime, int, Comment]] = []
    present = {row_id(r.get("objectId")) for r in rows}
    orphans: list[str] = []
    for index, row in enumerate(rows):
        cid = row_id(row.get("objectId"))
        if cid is None:
            skipped.append(SkippedEvent(f"row {index + 1}", page_id, "no objectId"))
            continue
        status = row.get("status") or "approved"
        if status == "spam":
            skipped.append(SkippedEvent(cid, page_id, "marked as spam in Waline"))
            continue
        if status not in ("approved", "waiting"):
            skipped.append(SkippedEvent(cid, page_id, f"unknown status {status!r}"))
            continue
        created = (instants or {}).get(cid) or parse_time(
            row.get("insertedAt") or row.get("createdAt"), zone
        )
        text = row.get("comment")
        if created is None or not isinstance(text, str):
            what = "no readable insertedAt" if created is None else "no comment text"
            skipped.append(SkippedEvent(cid, page_id, f"malformed row: {what}"))
            continue
        parent = row_id(row.get("pid")) or row_id(row.get("rid"))
        if parent is not None and parent not in present:
            orphans.append(cid)
            parent = None
        user = row_id(row.get("user_id"))
        comment = Comment(
            id=cid,
            page_id=page_id,
            parent_id=parent,
            author=Author(
                name=clean_text(str(row.get("nick") or "")),
                source_id=f"user:{user}" if user else "",
                email=_text(row.get("mail")),
                url=_text(row.get("link")),
                ip=_text(row.get("ip")),
            ),
            text=clean_text(text),
            created_at=created,
            status="pending" if status == "waiting" else "approved",
            likes=_likes(row.get("like")),
        )
        kept.append((created, int(cid) if cid.isdigit() else 0, comment))
    kept.sort(key=lambda item: (item[0], item[1]))
    return [c for _, _, c in kept], skipped, orphans


def _text(value: object) -> str | None:
    return clean_text(value) if isinstance(value, str) and value.strip() else None


def _likes(value: object) -> int:
    try:
        return max(int(str(value)), 0) if value not in (None, "") else 0
    except ValueError:
        return 0
