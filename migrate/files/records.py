"""What a file target keeps of a page and of a comment: one record each, written for
importers that trust them (characters a file cannot hold removed, HTML sanitized again, URLs
http(s) only), and read back as the target holds them; times in RFC 3339 UTC."""

from __future__ import annotations

import html as html_lib
import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from migrate.abilities import CommentRefused
from migrate.files.formats import (
    WEB_SCHEMES,
    sanitize_html,
    strip_unwritable,
    unsafe_links,
    web_url,
    writable,
)
from migrate.model import OutgoingComment, Page, TargetComment

log = logging.getLogger("comment_migrate.targets")

Record = dict[str, Any]

AVATAR_SCHEMES = WEB_SCHEMES | {"mxc"}  # mxc: the Matrix media URI, mirrored by [media]
_TAG = re.compile(r"<[^>]*>")


def rfc3339(moment: datetime) -> str:
    """RFC 3339 in UTC with a Z, e.g. 2021-03-04T05:06:07Z (microseconds kept when present)."""
    if moment.tzinfo is not UTC:  # nearly always UTC already (sources convert)
        if moment.tzinfo is None:  # the model promises aware datetimes; naive ones are UTC
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


def parse_rfc3339(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def source_system(outgoing: OutgoingComment) -> str:
    """The source system named in the idempotency key `<system>:<source id>`."""
    key = outgoing.idempotency_key
    suffix = ":" + outgoing.source.id
    if key.endswith(suffix) and len(key) > len(suffix):
        return key[: -len(suffix)]
    return key.split(":", 1)[0] if ":" in key else "unknown"


def page_record(page: Page) -> Record:
    return {"id": page.id, "uri": page.key, "title": page.title}


def comment_record(target_id: str | None, outgoing: OutgoingComment) -> Record:
    """What a file target keeps of one comment (the JSONL record without its page).

    Files are read by importers that trust them: characters XML cannot hold are removed, the
    HTML is sanitized again, and an avatar URL other than http(s)/mxc is dropped, each logged
    with the comment's id. Raises CommentRefused when the removal leaves the comment empty."""
    record: Record = {"id": target_id, **comment_fields(outgoing)}
    removed: dict[str, list[str]] = {}
    author = record["author"]
    html, avatar = record["html"], author["avatar_url"]
    # nearly always nothing to remove: a test of each, and no field stripped one by one
    if (
        writable(record["text"])
        and (html is None or writable(html))
        and writable(author["name"])
        and writable(author["source_id"])
        and (avatar is None or writable(avatar))
    ):
        checked: tuple[tuple[Record, str, str], ...] = ()
    else:
        checked = (
            (record, "text", "text"),
            (record, "html", "html"),
            (author, "name", "author name"),
            (author, "source_id", "author id"),
            (author, "avatar_url", "avatar URL"),
        )
    for holder, key, where in checked:
        if isinstance(holder.get(key), str):
            holder[key], gone = strip_unwritable(holder[key])
            if gone:
                removed[where] = gone
    if "text" in removed or "html" in removed:
        reason = _emptied(
            record["text"], record["html"] or "", removed.get("text", []) + removed.get("html", [])
        )
        if reason is not None:
            raise CommentRefused(reason)
    if record["html"]:
        record["html"] = sanitize_html(record["html"]) or None
    avatar = author.get("avatar_url")
    if avatar and web_url(avatar, AVATAR_SCHEMES) is None:
        log.warning(
            "comment %s: avatar URL dropped (not http(s) or mxc): %r", outgoing.source.id, avatar
        )
        author["avatar_url"] = None
    for where, gone in removed.items():
        log.warning(
            "comment %s: removed from its %s characters a file cannot hold: %s",
            outgoing.source.id,
            where,
            ", ".join(gone),
        )
    for url in unsafe_links(record["text"]):
        log.warning("comment %s: link dropped (not http(s) or mailto): %r", outgoing.source.id, url)
    record["deleted"] = outgoing.source.deleted
    record["status"] = outgoing.source.status
    # what file formats hold of an author beyond the contract's fields (WXR, Disqus, ...)
    author["email"] = outgoing.source.author.email
    author["url"] = web_url(outgoing.source.author.url)
    if isinstance(author["email"], str):
        author["email"], _ = strip_unwritable(author["email"])
    return record


def emptied_by_cleaning(outgoing: OutgoingComment) -> str | None:
    """Why a comment cannot be written to a file: nothing visible is left once the characters
    XML cannot hold are removed (None when something is, or when nothing was to begin with)."""
    if writable(outgoing.text) and (outgoing.html is None or writable(outgoing.html)):
        return None  # nearly always: nothing to remove
    text, removed = strip_unwritable(outgoing.text)
    html_content, removed_html = strip_unwritable(outgoing.html or "")
    if not removed and not removed_html:
        return None
    return _emptied(text, html_content, removed + removed_html)


def _emptied(text: str, html_content: str, removed: list[str]) -> str | None:
    """Why a comment whose text and HTML lost `removed` is refused (None: something is left)."""
    if text.strip() or _visible_html(html_content):
        return None
    gone = ", ".join(sorted(set(removed)))
    return f"nothing left once the characters a file cannot hold were removed ({gone})"


def _visible_html(value: str) -> bool:
    return "<img" in value.lower() or bool(html_lib.unescape(_TAG.sub("", value)).strip())


def comment_fields(outgoing: OutgoingComment) -> Record:
    """A comment as every target describes it: the HTTP contract's body without its page."""
    source = outgoing.source
    return {
        "parent_id": outgoing.parent_target_id,
        "author": {
            "name": source.author.name,
            "source_id": source.author.source_id,
            "avatar_url": source.author.avatar_url,
        },
        "text": outgoing.text,
        "html": outgoing.html,
        "created_at": rfc3339(source.created_at),
        "source": {
            "system": source_system(outgoing),
            "id": source.id,
            "parent_id": outgoing.parent_source_id,
        },
    }


def target_comment(record: Mapping[str, Any]) -> TargetComment:
    author = record.get("author") or {}
    source = record.get("source") or {}
    return TargetComment(
        target_id=str(record["id"]),
        parent_target_id=record.get("parent_id"),
        author_name=str(author.get("name") or ""),
        text=str(record.get("text") or ""),
        created_at=parse_rfc3339(record.get("created_at")),
        source_id=source.get("id"),
        html=record["html"] if isinstance(record.get("html"), str) else None,
        author_avatar_url=author.get("avatar_url") or None,
        raw=dict(record),
    )


# one encoder for every line (json.dumps with options would make a new one each call);
# records are trees of fresh dicts and lists, never cyclic: no bookkeeping of containers
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def dumps(obj: object) -> str:
    """One compact JSON line (non-ASCII kept readable)."""
    return _ENCODER.encode(obj)
