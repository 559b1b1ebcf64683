"""Turning one Matrix message's content into comment text: fallback stripping, HTML, media.

Pure functions, no I/O. HTML goes through nh3 (Rust's ammonia) with an allowlist close to the
one the Matrix spec suggests for clients: no script/style/iframe, no on* attributes, and links
only to http, https and mailto.
"""

from __future__ import annotations

import re
import urllib.parse

import nh3

# Tags the Matrix client-server spec lists for org.matrix.custom.html, minus what a comment
# system cannot show (mx-reply is stripped before, font/span colours are not kept).
ALLOWED_TAGS = frozenset(
    {
        "a",
        "b",
        "blockquote",
        "br",
        "caption",
        "code",
        "del",
        "details",
        "div",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "li",
        "ol",
        "p",
        "pre",
        "s",
        "strike",
        "strong",
        "sub",
        "summary",
        "sup",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "u",
        "ul",
    }
)
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start"},
    "code": {"class"},  # language-xxx for syntax highlighting
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
HTML_FORMAT = "org.matrix.custom.html"

_MX_REPLY = re.compile(r"<mx-reply>.*?</mx-reply>", re.IGNORECASE | re.DOTALL)
_MXC = re.compile(r"^mxc://([A-Za-z0-9.\-:\[\]]+)/([A-Za-z0-9_\-]+)$")


def clean_text(value: str) -> str:
    """Valid Unicode only: lone surrogates (legal in JSON, not in UTF-8) become U+FFFD, and
    NUL characters, which databases and XML refuse, are dropped."""
    repaired = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return repaired.replace("\x00", "")


def strip_reply_fallback(body: str) -> str:
    """Drop the quoted parent (leading `> ` lines) and the blank line after it."""
    lines = body.split("\n")
    i = 0
    while i < len(lines) and (lines[i].startswith("> ") or lines[i] == ">"):
        i += 1
    if i == 0:
        return body
    if i < len(lines) and lines[i].strip() == "":
        i += 1
    return "\n".join(lines[i:])


def strip_html_reply_fallback(html: str) -> str:
    return _MX_REPLY.sub("", html)


def sanitize_html(html: str) -> str | None:
    """Allowlist-sanitized HTML, or None when nothing visible is left."""
    cleaned = nh3.clean(
        clean_text(html),
        tags=set(ALLOWED_TAGS),
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    ).strip()
    return cleaned or None


def mxc_to_http(mxc: str, homeserver: str) -> str | None:
    """The homeserver's public download URL for an mxc:// URI, or None if it is not one.

    The legacy unauthenticated endpoint is used on purpose: comment systems show the link to
    anonymous readers, who have no Matrix token for /_matrix/client/v1/media."""
    match = _MXC.match(mxc.strip()) if isinstance(mxc, str) else None
    if match is None:
        return None
    server, media_id = match.groups()
    return (
        f"{homeserver.rstrip('/')}/_matrix/media/v3/download/"
        f"{urllib.parse.quote(server, safe='')}/{urllib.parse.quote(media_id, safe='')}"
    )


def markdown_link_text(label: str) -> str:
    """A label safe inside Markdown link brackets."""
    return re.sub(r"([\[\]\\])", r"\\\1", label.replace("\n", " ")).strip()
