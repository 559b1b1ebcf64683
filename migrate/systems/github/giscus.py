"""What giscus expects of a discussion, and what a migrated comment looks like in one.

giscus (giscus.app) finds a page's discussion by a *term* derived from the page under its
`data-mapping`, and creates one, when a visitor comments first, titled with the term and
with a body ending in `<!-- sha1: <hex SHA-1 of the term> -->`; strict mode finds the
discussion by that hash alone. The rules below follow giscus's client (`client.ts`) and API
(`pages/api/discussions`), read from its source:
- pathname: the URL path without its leading "/" and without a final ".ext"; "index" for "/";
- url: the page's URL without its fragment (its query re-serialised as a browser's
  URLSearchParams does once giscus removed its own `giscus` parameter);
- title / og:title: the page's title (document.title; the og:title meta);
- specific: a term given per page: here the page's key (set it with `[pages] map`).
Its search: `repo:<owner/name lower-cased> category:"<name>" in:title "<term>"`, and in
strict mode `... in:body "<sha1>"`.

A migrated comment's body: an attribution line (author, linked where the source knows a
URL, and the original date), a blank line, the text, and a hidden marker with the source
id (an HTML comment, which GitHub does not show) by which a rerun recognises it.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime

from migrate.model import OutgoingComment

MAPPINGS = ("pathname", "url", "title", "og:title", "specific")
MAX_BODY = 65536  # characters GitHub keeps in a comment's body

_EXTENSION = re.compile(r"\.[A-Za-z0-9_]+\Z")
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # ASCII punctuation: CommonMark escapes it
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
# "@name" would notify the GitHub user of that name: a zero-width space after "@" keeps the
# text as readers see it and is no mention (bots such as Renovate do the same)
_MENTION = re.compile(r"(?<![\w.`/])@(?=[A-Za-z0-9])")
_UNMENTION = re.compile("@\u200b")
ZWSP = "\u200b"

COMMENT_MARKER = re.compile(r"\n*<!-- comment-migrate source=([A-Za-z0-9%._~]+) -->\s*\Z")
DISCUSSION_MARKER = "<!-- comment-migrate made this discussion -->"
_FAKE_MARKER = re.compile(r"<!--(\s*)comment-migrate", re.IGNORECASE)
_ATTRIBUTION = re.compile(
    r"\A\*\*(?:\[(?P<linked>.*?)\]\(<[^<>\n]*>\)|(?P<plain>.*?))\*\* wrote on "
    r"(?P<when>\d{4}-\d\d-\d\d \d\d:\d\d) UTC:\n\n"
)
_DATE_FORMAT = "%Y-%m-%d %H:%M"


def term_for(
    mapping: str, *, key: str, title: str | None, url: str | None, title_format: str = "{title}"
) -> str | None:
    """The giscus term of a page, or None when the page lacks what the mapping needs."""
    if mapping == "pathname":
        path = urllib.parse.urlsplit(key).path or "/"
        return "index" if len(path) < 2 else _EXTENSION.sub("", path[1:])
    if mapping == "url":
        return None if url is None else browser_url(url)
    if mapping in ("title", "og:title"):
        return None if not title else title_format.replace("{title}", title)
    if mapping == "specific":
        return key
    raise ValueError(f"unknown giscus mapping {mapping!r}")


def browser_url(url: str) -> str:
    """`url` as giscus's client sees it: fragment gone, the query (if any) re-serialised the
    way URLSearchParams writes it, "/" for an empty path."""
    parts = urllib.parse.urlsplit(url)
    query = ""
    if parts.query:
        pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        query = "&".join(
            f"{_form(name)}={_form(value)}" for name, value in pairs if name != "giscus"
        )
    return urllib.parse.urlunsplit(
        (parts.scheme, parts.netloc.lower(), parts.path or "/", query, "")
    )


def _form(text: str) -> str:
    """application/x-www-form-urlencoded as the URL standard writes it (keeps `*-._`)."""
    return urllib.parse.quote_plus(text, safe="*").replace("~", "%7E")


def term_hash(term: str) -> str:
    return hashlib.sha1(term.encode("utf-8")).hexdigest()  # noqa: S324 - giscus's key, not a secret


def discussion_body(term: str, backlink: str | None) -> str:
    """The body giscus gives a discussion it creates (no description: a migration has none),
    with the migration's own hidden mark after giscus's."""
    body = f"# {term}\n\n\n\n{backlink or ''}"
    return f"{body}\n\n<!-- sha1: {term_hash(term)} -->\n\n{DISCUSSION_MARKER}"


def has_term_hash(body: str, term: str) -> bool:
    return f"<!-- sha1: {term_hash(term)} -->" in body


def search_query(repo: str, category: str, term: str, *, strict: bool) -> str:
    """The search giscus runs for a page (strict: by the hash of the term)."""
    where = f"in:body {json.dumps(term_hash(term))}" if strict else f"in:title {json.dumps(term)}"
    return f"repo:{repo.lower()} category:{json.dumps(category)} {where}"


def _escape(text: str) -> str:
    return _PUNCTUATION.sub(r"\\\1", " ".join(text.split()))


def _unescape(text: str) -> str:
    return _ESCAPED.sub(r"\1", text)


def _safe_url(url: str | None) -> str | None:
    if not url or urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        return None
    return urllib.parse.quote(url.strip(), safe=":/?#[]@!$&'*+,;=%-._~")


def marker_id(source_id: str) -> str:
    """A source id as it can stand in an HTML comment ("--" and ">" cannot)."""
    return urllib.parse.quote(source_id, safe="").replace("-", "%2D")


def attribution(outgoing: OutgoingComment) -> str:
    author = outgoing.source.author
    name = _MENTION.sub("@" + ZWSP, _escape(author.name) or "Anonymous")
    url = _safe_url(author.url)
    who = f"[{name}](<{url}>)" if url else name
    when = outgoing.source.created_at.astimezone(UTC).strftime(_DATE_FORMAT)
    return f"**{who}** wrote on {when} UTC:"


def comment_body(outgoing: OutgoingComment) -> str:
    text = _FAKE_MARKER.sub(r"<!--\1comment_migrate", outgoing.text.strip())
    text = _MENTION.sub("@" + ZWSP, text)
    marker = f"<!-- comment-migrate source={marker_id(outgoing.source.id)} -->"
    return f"{attribution(outgoing)}\n\n{text}\n\n{marker}"


@dataclass(frozen=True)
class ParsedBody:
    source_id: str | None  # from the hidden marker; None: not a comment of this tool
    author: str  # the attributed author ("" when there is no attribution line)
    written: datetime | None
    text: str  # the comment's text as its source had it (mention guards removed)


def parse_body(body: str) -> ParsedBody:
    """A discussion comment's body read back: who wrote it, when, the text, the source id."""
    body = body.replace("\r\n", "\n")
    source_id = None
    marker = COMMENT_MARKER.search(body)
    if marker is not None:
        source_id = urllib.parse.unquote(marker.group(1))
        body = body[: marker.start()]
    author, written = "", None
    head = _ATTRIBUTION.match(body)
    if head is not None:
        raw = head.group("linked") if head.group("linked") is not None else head.group("plain")
        author = _unescape(_UNMENTION.sub("@", raw))
        written = datetime.strptime(head.group("when"), _DATE_FORMAT).replace(tzinfo=UTC)
        body = body[head.end() :]
    return ParsedBody(source_id, author, written, _UNMENTION.sub("@", body).strip())
