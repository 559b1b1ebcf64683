"""Artrans (`output = "artrans.json"`): the JSON array `artalk import` reads. Artalk is a Go
program that cannot run here; the file follows Artalk's documented Artrans format and this
tool's Artalk source reads it back (a round trip).

Every value is a string, as Artalk writes them: `id` (the target id), `rid` (the parent's id,
"0" for top level; Artalk maps both to its own ids on import), `content` (Markdown; Artalk
renders and sanitizes it), `nick` (plain text), `email` (empty when unknown: Artalk puts its
placeholder there), `link` (http(s) only), `ip` and `ua` (empty unless the source kept them),
`created_at` / `updated_at` ("2006-01-02 15:04:05 +0000", UTC), `is_pending`,
`is_collapsed`, `is_pinned`, `vote_up` (likes), `vote_down`, `page_key` (the page key: a
path, which Artalk keeps as it is), `page_title`, `page_admin_only`, `site_name` (the
`site_name` key, or the host of `site_url`) and `site_urls` (`site_url`). A comment without
a site name is skipped by Artalk, so one of the two keys is required. Artalk deletes
comments outright: a tombstone is written as a comment reading "[deleted]".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from migrate.errors import ConfigError
from migrate.files.base import StoredPage
from migrate.files.derived import DerivedFileTarget
from migrate.files.formats import importer, neutral_text, rendered_content
from migrate.files.records import Record, dumps, parse_rfc3339
from migrate.model import DELETED_TEXT

_READER = importer("artalk")


class ArtalkTarget(DerivedFileTarget):
    name = "artalk"
    default_importer = "artalk"
    detailed = True
    capabilities = replace(DerivedFileTarget.capabilities, content="markdown", keeps_pending=True)

    def __init__(self, output: Path, **options: Any) -> None:
        # known before the base class opens the file: it may rebuild the file at once
        settings = options.get("settings") or {}
        host = urlsplit(str(options.get("site_url") or "")).hostname
        self.site_name = str(settings.get("site_name") or host or "")
        if not self.site_name:
            raise ConfigError(
                "the artalk target needs target.site_name (or target.site_url): Artalk skips "
                "every comment without a site name"
            )
        super().__init__(output, **options)

    @staticmethod
    def recognizes(path: Path) -> bool:
        with path.open("rb") as handle:
            head = handle.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
        return not head or head.startswith(b"[")

    def write_file(self, handle: IO[str]) -> None:
        write_artrans(
            handle, self.committed_pages(), site_name=self.site_name, site_url=self.site_url
        )


def write_artrans(
    handle: IO[str], pages: Iterator[StoredPage], *, site_name: str, site_url: str
) -> None:
    handle.write("[")
    first = True
    for stored in pages:
        for comment in stored.comments:
            record = _artran(comment, stored.page, site_name, site_url)
            handle.write(("" if first else ",") + "\n" + dumps(record))
            first = False
    handle.write("\n]\n")


def _artran(
    comment: Mapping[str, Any], page: Mapping[str, Any], site_name: str, site_url: str
) -> Record:
    author = comment.get("author") or {}
    details = comment.get("author_details") or {}
    deleted = bool(comment.get("deleted"))
    content = rendered_content(str(comment.get("text") or ""), None, _READER, allow_images=True)
    created = artalk_time(comment.get("created_at"))
    edited = comment.get("edited_at")
    return {
        "id": str(comment["id"]),
        "rid": str(comment.get("parent_id") or "0"),
        "content": DELETED_TEXT if deleted else content.strip() or " ",
        "ua": "",
        "ip": str(details.get("ip") or ""),
        "is_collapsed": "false",
        "is_pending": "true" if comment.get("status") == "pending" else "false",
        "is_pinned": "false",
        "vote_up": str(int(comment.get("likes") or 0)),
        "vote_down": "0",
        "created_at": created,
        "updated_at": artalk_time(edited) if edited else created,
        "nick": neutral_text(str(author.get("name") or "")).strip() or "Anonymous",
        "email": str(details.get("email") or ""),
        "link": str(details.get("url") or ""),
        "badge_name": "",
        "badge_color": "",
        "page_key": str(page.get("uri") or "/"),
        "page_title": neutral_text(str(page.get("title") or "")).strip(),
        "page_admin_only": "false",
        "site_name": neutral_text(site_name),
        "site_urls": site_url,
    }


def artalk_time(value: object) -> str:
    """UTC to the second, in the form Artalk's exporter writes."""
    moment = parse_rfc3339(value)
    return (moment.strftime("%Y-%m-%d %H:%M:%S +0000")) if moment else "1970-01-01 00:00:00 +0000"
