"""What Matrix content carries that no target shows: reply fallbacks and mxc:// URIs.

Reply fallbacks (the quoted parent) are removed: `<mx-reply>` from any formatted_body (the
spec and MSC2781 say to strip it unconditionally) and the leading `> <@user:server> ...`
lines of the plain body of a reply.
"""

from __future__ import annotations

import re
import urllib.parse

HTML_FORMAT = "org.matrix.custom.html"
IMAGE_MSGTYPE = "m.image"
_MX_REPLY_TAG = re.compile(r"<(/?)mx-reply\b[^>]*>", re.IGNORECASE)
# the first line of a reply fallback: "> <@alice:example.org> ..." ("> * <@...>" for emotes)
_FALLBACK_FIRST_LINE = re.compile(r"^> (?:\* )?<@[^>\s]+>")
_MXC = re.compile(r"^mxc://([A-Za-z0-9.\-:\[\]]+)/([A-Za-z0-9_\-]+)$")


def has_reply_fallback(body: str) -> bool:
    """Whether a body starts with the quoted parent a client puts before a reply."""
    return _FALLBACK_FIRST_LINE.match(body) is not None


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


def has_html_reply_fallback(html: str) -> bool:
    return _MX_REPLY_TAG.search(html) is not None


def strip_html_reply_fallback(html: str) -> str:
    """Remove every `<mx-reply>` element with all it holds (nested ones too); an unclosed one
    runs to the end, since everything after its start tag is the quoted parent."""
    out: list[str] = []
    depth = 0
    position = 0
    for tag in _MX_REPLY_TAG.finditer(html):
        closing = tag.group(1) == "/"
        if depth == 0:
            out.append(html[position : tag.start()])
            position = tag.end()  # a stray closing tag is dropped too
            depth = 0 if closing else 1
            continue
        depth += -1 if closing else 1
        if depth == 0:
            position = tag.end()
    if depth == 0:
        out.append(html[position:])
    return "".join(out)


def parse_mxc(mxc: str) -> tuple[str, str] | None:
    """(server name, media id) of a well-formed mxc:// URI, or None."""
    match = _MXC.match(mxc.strip()) if isinstance(mxc, str) else None
    if match is None:
        return None
    return match.group(1), match.group(2)


def mxc_to_http(mxc: str, homeserver: str) -> str | None:
    """The homeserver's download URL for an mxc:// URI, or None if it is not one.

    The authenticated endpoint (Matrix 1.11): the legacy unauthenticated one is refused by
    current homeservers for new media. Neither serves anonymous readers reliably, which is
    why `[media]` copies the files; a source counts the comments that keep such links."""
    parsed = parse_mxc(mxc)
    if parsed is None:
        return None
    server, media_id = parsed
    return (
        f"{homeserver.rstrip('/')}/_matrix/client/v1/media/download/"
        f"{urllib.parse.quote(server, safe='')}/{urllib.parse.quote(media_id, safe='')}"
    )
