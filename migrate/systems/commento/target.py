"""The Commento JSON file (`output = "commento.json.gz"`) that Commento, Commento++ and
Comentario import: `{"version": 1, "comments": [...], "commenters": [...]}`, gzip-compressed
(Commento's importer reads only gzip; Comentario reads both).

Written page-atomically like the WXR (a sidecar `<output>.pages.jsonl` committed per page,
the file rebuilt from it atomically). What each importer needs, and so what is written:
- every comment: `commentHex` (its target id), `parentHex` ("root" for top level), `url`
  and `path` (Commento reads `url`, Comentario `path`), `domain` (the host of `site_url`),
  `markdown` (Commento renders it; never empty), `state` (approved | unapproved),
  `creationDate` in UTC, `score` (likes) and `deleted`. A tombstone is written as Commento
  writes its own: markdown "[deleted]" by the "anonymous" commenter.
- every commenter once: Commento refuses a commenter without email, name, link or photo, so
  a missing link or photo is "undefined" (Commento's own placeholder) and a missing email
  is `<hash>@comment-migrate.invalid` (the reserved .invalid domain; the tool's Commento
  source reads such an address as none). An author called "Anonymous" without an email is
  Commento's anonymous commenter. Comentario reads `websiteUrl` and `avatarUrl`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import IO, Any
from urllib.parse import urlsplit

from migrate.files.base import StoredPage
from migrate.files.derived import DerivedFileTarget
from migrate.files.formats import importer, neutral_text, rendered_content
from migrate.files.reading import empty_or_gzip
from migrate.files.records import Record, dumps, parse_rfc3339

ANONYMOUS = "anonymous"
PLACEHOLDER_DOMAIN = "comment-migrate.invalid"
UNDEFINED = "undefined"
_READER = importer("commento")


class CommentoTarget(DerivedFileTarget):
    name = "commento"
    default_importer = "commento"
    compressed = True
    detailed = True
    capabilities = replace(
        DerivedFileTarget.capabilities, content="markdown", keeps_avatars=True, keeps_pending=True
    )

    recognizes = staticmethod(empty_or_gzip)

    def write_file(self, handle: IO[str]) -> None:
        write_commento(handle, self.committed_pages(), domain=urlsplit(self.site_url).hostname)


def write_commento(handle: IO[str], pages: Iterator[StoredPage], *, domain: str | None) -> None:
    commenters: dict[str, Record] = {}
    handle.write('{"version":1,"comments":[')
    first = True
    for stored in pages:
        path = str(stored.page.get("uri") or "/")
        for comment in stored.comments:
            record = _comment(comment, path, domain or "", commenters)
            handle.write(("" if first else ",") + "\n" + dumps(record))
            first = False
    handle.write('\n],"commenters":[')
    handle.write(",".join("\n" + dumps(c) for c in commenters.values()))
    handle.write("\n]}\n")


def _comment(
    comment: Mapping[str, Any], path: str, domain: str, commenters: dict[str, Record]
) -> Record:
    deleted = bool(comment.get("deleted"))
    hex_id = ANONYMOUS if deleted else _commenter(comment, commenters)
    created = go_time(comment.get("created_at"))
    markdown = rendered_content(
        str(comment.get("text") or ""), None, _READER, allow_images=True
    ).strip()
    return {
        "commentHex": str(comment["id"]),
        "domain": domain,
        "url": path,
        "path": path,
        "commenterHex": hex_id,
        "markdown": "[deleted]" if deleted else markdown or " ",
        "html": "",
        "parentHex": str(comment.get("parent_id") or "root"),
        "score": int(comment.get("likes") or 0),
        "state": "unapproved" if comment.get("status") == "pending" else "approved",
        "creationDate": created,
        "direction": 0,
        "deleted": deleted,
    }


def go_time(value: object) -> str:
    """UTC to the second in the form Go's time.Time reads (never empty: Go refuses that)."""
    moment = parse_rfc3339(value)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "1970-01-01T00:00:00Z"


def _commenter(comment: Mapping[str, Any], commenters: dict[str, Record]) -> str:
    author = comment.get("author") or {}
    details = comment.get("author_details") or {}
    source = comment.get("source") or {}
    name = neutral_text(str(author.get("name") or "")).strip() or "Anonymous"
    if name.lower() == ANONYMOUS and not details.get("email"):
        return ANONYMOUS
    identity = f"{source.get('system') or ''}\0{author.get('source_id') or name}"
    hex_id = hashlib.sha256(identity.encode()).hexdigest()
    if hex_id not in commenters:
        link = details.get("url") or None
        photo = author.get("avatar_url") or None
        if photo and not str(photo).startswith(("http://", "https://")):
            photo = None  # an mxc:// avatar means nothing to Commento
        commenters[hex_id] = {
            "commenterHex": hex_id,
            "email": details.get("email") or f"{hex_id[:24]}@{PLACEHOLDER_DOMAIN}",
            "name": name,
            "link": link or UNDEFINED,
            "photo": photo or UNDEFINED,
            "websiteUrl": link or "",
            "avatarUrl": photo or "",
            "provider": "commento",
            "joinDate": go_time(comment.get("created_at")),
            "isModerator": False,
        }
    return hex_id
