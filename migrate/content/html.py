"""Sanitized HTML for HTML targets.

The sender's formatted_body goes through nh3 (Rust's ammonia) with an allowlist close to the
one the Matrix spec suggests for clients: no script/style/iframe, no on* attributes, and links
only to http, https and mailto. A plain body becomes escaped paragraphs with its line breaks
and bare URLs as links; images and files are `<img>` / `<a>`, never Markdown source.
"""

from __future__ import annotations

import functools
import html as html_lib
import re
from collections.abc import Callable

import nh3

from migrate.content.matrix import IMAGE_MSGTYPE
from migrate.content.text import BARE_URL, clean_text, url_end

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
_MXC_ATTRIBUTE = re.compile(
    r"""(\s(?:src|href)\s*=\s*)(["']?)\s*(mxc://[^"'\s>]+)\s*\2""", re.IGNORECASE
)
MediaUrl = Callable[[str], "str | None"]  # mxc:// URI -> the URL readers use, or None
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")
_HTTP_URL = re.compile(r"https?://[^/?#]", re.IGNORECASE)


class SanitizedHtml(str):
    """What `sanitize_html` returned: the allowlist already applied to exactly this string.

    A comment passes the same allowlist up to three times on its way to a file (archive
    reader, transform, file record); this marks its output so the later passes return it as
    it is instead of parsing it again. Any change to the string (concatenation, strip,
    replace) gives a plain str, which is sanitized again."""

    __slots__ = ()


def sanitize_html(html: str, media_url: MediaUrl | None = None) -> str | None:
    """Allowlist-sanitized HTML, or None when nothing visible is left.

    `media_url` maps mxc:// links (inline images of formatted bodies) to URLs readers can
    open; without it, or when it gives None, the link is dropped with the other schemes."""
    if type(html) is SanitizedHtml and media_url is None:
        return html  # this very string is what the allowlist left (never empty)
    if media_url is None:
        return _cleaned(html)

    def mapped(match: re.Match[str]) -> str:
        url = media_url(html_lib.unescape(match.group(3)))
        return f'{match.group(1)}"{html_lib.escape(url)}"' if url else match.group(1) + '""'

    return _clean(_MXC_ATTRIBUTE.sub(mapped, html))


# a page's comments are planned twice (reconcile, then send): the second plan finds the first
# one's result under exactly the same input
@functools.lru_cache(maxsize=4096)
def _cleaned(html: str) -> SanitizedHtml | None:
    return _clean(html)


def _clean(html: str) -> SanitizedHtml | None:
    cleaned = nh3.clean(
        clean_text(html),
        tags=set(ALLOWED_TAGS),
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    ).strip()
    return SanitizedHtml(cleaned) if cleaned else None


def _linkified(line: str) -> str:
    """One line of plain text as escaped HTML, bare http(s) URLs as links."""
    out: list[str] = []
    position = 0
    for match in BARE_URL.finditer(line):
        url = url_end(match.group(0))
        if not _HTTP_URL.match(url):
            continue
        out.append(html_lib.escape(line[position : match.start()]))
        out.append(f'<a href="{html_lib.escape(url)}">{html_lib.escape(url)}</a>')
        position = match.start() + len(url)
    out.append(html_lib.escape(line[position:]))
    return "".join(out)


def plain_to_html(text: str) -> str:
    """Plain text as safe HTML: escaped paragraphs, line breaks kept, bare URLs as links."""
    if BARE_URL.search(text) is None:  # nearly always: no link, so no parser is needed
        return _escaped_paragraphs(text)
    return sanitize_html(_paragraphs(text, _linkified)) or "<p></p>"


def _paragraphs(text: str, line_html: Callable[[str], str]) -> str:
    """`text` as <p> paragraphs (a blank line between them), lines joined by <br>."""
    paragraphs = [p.strip("\n") for p in _PARAGRAPH_BREAK.split(text.strip()) if p.strip()]
    return "".join(
        "<p>" + "<br>\n".join(line_html(line) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )


def _escaped(line: str) -> str:
    """Text as the allowlist's serializer (html5ever's) writes it: quotes stay, U+00A0 is
    named (four C passes: str.translate with a mapping looks up every character)."""
    escaped = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("\xa0", "&nbsp;")


def _escaped_paragraphs(text: str) -> SanitizedHtml | str:
    """What `sanitize_html` makes of the paragraphs of a text without links, made without
    parsing: the only tags are our own <p> and <br>, which the allowlist keeps, and its
    other changes are made here the same way: the result repaired as `_clean` repairs it
    (clean_text), carriage returns read as line feeds (as every HTML parser reads them),
    the text escaped as the serializer escapes it. tests/test_sanitize_once.py compares
    the two on hostile text."""
    if "\n" not in text and "\r" not in text:  # one line: one paragraph, or none
        line = text.strip()
        return SanitizedHtml(clean_text(f"<p>{_escaped(line)}</p>")) if line else "<p></p>"
    html = clean_text(_paragraphs(text, _escaped))
    if not html:
        return "<p></p>"
    return SanitizedHtml(html.replace("\r\n", "\n").replace("\r", "\n"))


def emote_html(name: str, html: str) -> str:
    """`* Name` put before the emote's own HTML, inside its first paragraph if it has one."""
    prefix = f"* {html_lib.escape(name)} "
    if html.startswith("<p>"):
        return f"<p>{prefix}{html[3:]}"
    return prefix + html


def media_html(msgtype: str, url: str, label: str) -> str:
    """An image as `<img>`, anything else as a link; sanitized like any comment HTML."""
    text = label.strip() or msgtype
    if msgtype == IMAGE_MSGTYPE:
        raw = (
            f'<p><img src="{html_lib.escape(url)}" alt="{html_lib.escape(text)}" '
            f'title="{html_lib.escape(text)}"></p>'
        )
    else:
        raw = f'<p><a href="{html_lib.escape(url)}">{html_lib.escape(text)}</a></p>'
    return sanitize_html(raw) or f"<p>{html_lib.escape(text)}</p>"
