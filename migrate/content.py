"""Turning one comment's content into the forms targets render: pure functions, no I/O.

Shared by sources and targets (a neutral module: it imports nothing of the project).

- `text` is Markdown that renders, in a Markdown target (Isso: mistune with escape and
  hard_wrap), to what Matrix clients showed: an emote is `\\* Name waves` (not a bullet list),
  an image is `![label](url)`, a file is `[label](url)`.
- `html` is sanitized HTML for HTML targets: the sender's formatted_body when there is one,
  else the plain body as escaped paragraphs with its line breaks and bare URLs as links;
  images and files are `<img>` / `<a>`, never Markdown source.
- Reply fallbacks (the quoted parent) are removed: `<mx-reply>` from any formatted_body (the
  spec and MSC2781 say to strip it unconditionally) and the leading `> <@user:server> ...`
  lines of the plain body of a reply.

HTML goes through nh3 (Rust's ammonia) with an allowlist close to the one the Matrix spec
suggests for clients: no script/style/iframe, no on* attributes, and links only to http, https
and mailto.

What a reader sees of a comment (`visible_html`, `visible_markdown`, for `verify`): its text
with tags stripped, entities decoded and whitespace folded (a block or a line break is a
space), the hrefs of its links and the srcs of its images, in document order. Markdown is
rendered first, as a stock Isso renders it (mistune with escape and hard_wrap, plugins
strikethrough, subscript, superscript), so raw HTML in Markdown shows as text, as there.
"""

from __future__ import annotations

import html as html_lib
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser

import mistune
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

_MX_REPLY_TAG = re.compile(r"<(/?)mx-reply\b[^>]*>", re.IGNORECASE)
_MXC = re.compile(r"^mxc://([A-Za-z0-9.\-:\[\]]+)/([A-Za-z0-9_\-]+)$")
# the first line of a reply fallback: "> <@alice:example.org> ..." ("> * <@...>" for emotes)
_FALLBACK_FIRST_LINE = re.compile(r"^> (?:\* )?<@[^>\s]+>")
# bare URLs as Matrix clients link them; trailing punctuation belongs to the sentence
_BARE_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING_PUNCTUATION = ".,;:!?)]}'\""
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")
# what gives Markdown meaning inside a line (Isso's mistune: emphasis, code, links, HTML,
# strikethrough, superscript); line-start markers are _BLOCK_MARKER's
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<~^])")
_MXC_ATTRIBUTE = re.compile(
    r"""(\s(?:src|href)\s*=\s*)(["']?)\s*(mxc://[^"'\s>]+)\s*\2""", re.IGNORECASE
)
IMAGE_MSGTYPE = "m.image"

MediaUrl = Callable[[str], "str | None"]  # mxc:// URI -> the URL readers use, or None


def clean_text(value: str) -> str:
    """Valid Unicode only: lone surrogates (legal in JSON, not in UTF-8) become U+FFFD, and
    NUL characters, which databases and XML refuse, are dropped."""
    repaired = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return repaired.replace("\x00", "")


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


def sanitize_html(html: str, media_url: MediaUrl | None = None) -> str | None:
    """Allowlist-sanitized HTML, or None when nothing visible is left.

    `media_url` maps mxc:// links (inline images of formatted bodies) to URLs readers can
    open; without it, or when it gives None, the link is dropped with the other schemes."""
    if media_url is not None:

        def mapped(match: re.Match[str]) -> str:
            url = media_url(html_lib.unescape(match.group(3)))
            return f'{match.group(1)}"{html_lib.escape(url)}"' if url else match.group(1) + '""'

        html = _MXC_ATTRIBUTE.sub(mapped, html)
    cleaned = nh3.clean(
        clean_text(html),
        tags=set(ALLOWED_TAGS),
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    ).strip()
    return cleaned or None


def _url_end(url: str) -> str:
    """A bare URL without the sentence's trailing punctuation; a closing parenthesis stays
    when the URL opened it (https://en.wikipedia.org/wiki/Cactus_(disambiguation))."""
    while url and url[-1] in _TRAILING_PUNCTUATION:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def _linkified(line: str) -> str:
    """One line of plain text as escaped HTML, bare http(s) URLs as links."""
    out: list[str] = []
    position = 0
    for match in _BARE_URL.finditer(line):
        url = _url_end(match.group(0))
        if not re.match(r"https?://[^/?#]", url, re.IGNORECASE):
            continue
        out.append(html_lib.escape(line[position : match.start()]))
        out.append(f'<a href="{html_lib.escape(url)}">{html_lib.escape(url)}</a>')
        position = match.start() + len(url)
    out.append(html_lib.escape(line[position:]))
    return "".join(out)


def plain_to_html(text: str) -> str:
    """Plain text as safe HTML: escaped paragraphs, line breaks kept, bare URLs as links."""
    paragraphs = [p.strip("\n") for p in _PARAGRAPH_BREAK.split(text.strip()) if p.strip()]
    html = "".join(
        "<p>" + "<br>\n".join(_linkified(line) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )
    return sanitize_html(html) or "<p></p>"


def escape_markdown(text: str) -> str:
    """Inline text that Markdown shows literally (a name inside an emote, a link label)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text.replace("\n", " ")).strip()


_BLOCK_MARKER = re.compile(r"^(\s*)(\d+)?([#>+\-=.)])")


def plain_to_markdown(text: str) -> str:
    """Plain text as Markdown that shows it as it is: characters with a Markdown meaning
    escaped, bare URLs as autolinks (`<url>`), line breaks kept (Isso renders hard_wrap)."""
    lines: list[str] = []
    for line in text.split("\n"):
        out: list[str] = []
        position = 0
        for match in _BARE_URL.finditer(line):
            url = _url_end(match.group(0))
            out.append(_MARKDOWN_SPECIAL.sub(r"\\\1", line[position : match.start()]))
            out.append(f"<{url}>")
            position = match.start() + len(url)
        out.append(_MARKDOWN_SPECIAL.sub(r"\\\1", line[position:]))
        lines.append(_BLOCK_MARKER.sub(r"\1\2\\\3", "".join(out), count=1))
    return "\n".join(lines)


_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.DOTALL)
_BARE_URL_IN_MARKDOWN = re.compile(r"(?<![(<\[\]=\"'/\w])https?://[^\s<>\"'\]]+", re.IGNORECASE)


def autolink_markdown(markdown: str) -> str:
    """Bare URLs of Markdown typed by a visitor as autolinks (`<url>`): the Cactus and
    Matrix clients linkify them, Isso's renderer does not. Code and links stay as they are."""

    def link(match: re.Match[str]) -> str:
        url = _url_end(match.group(0))
        return f"<{url}>{match.group(0)[len(url) :]}"

    parts = _CODE.split(markdown)
    return "".join(
        part if index % 2 else _BARE_URL_IN_MARKDOWN.sub(link, part)
        for index, part in enumerate(parts)
    )


def emote_markdown(name: str, text: str) -> str:
    """`* Name waves` as Markdown: the star escaped, so it is not a bullet list."""
    return f"\\* {escape_markdown(name)} {text}"


def emote_html(name: str, html: str) -> str:
    """`* Name` put before the emote's own HTML, inside its first paragraph if it has one."""
    prefix = f"* {html_lib.escape(name)} "
    if html.startswith("<p>"):
        return f"<p>{prefix}{html[3:]}"
    return prefix + html


def markdown_url(url: str) -> str:
    """A URL that cannot end a Markdown link early (parentheses, spaces, angle brackets)."""
    return re.sub(r"[\s()<>]", lambda m: urllib.parse.quote(m.group(0)), url)


def media_markdown(msgtype: str, url: str, label: str) -> str:
    """An image as a Markdown image, anything else (file, audio, video) as a link."""
    text = markdown_link_text(label) or msgtype
    bang = "!" if msgtype == IMAGE_MSGTYPE else ""
    return f"{bang}[{text}]({markdown_url(url)})"


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


def markdown_link_text(label: str) -> str:
    """A label safe inside Markdown link brackets."""
    return re.sub(r"([\[\]\\])", r"\\\1", label.replace("\n", " ")).strip()


# -- what a reader sees -----------------------------------------------------------------------

# tags a browser shows as a break between words; every other tag joins its neighbours
_BLOCK_TAGS = frozenset(
    {"blockquote", "br", "caption", "details", "div", "hr", "li", "ol", "p", "pre", "summary"}
    | {"table", "tbody", "td", "th", "thead", "tr", "ul", "h1", "h2", "h3", "h4", "h5", "h6"}
)
_HIDDEN_TAGS = frozenset({"script", "style", "template"})  # a browser shows none of their text
_SPACES = re.compile(r"\s+")

# the renderer and settings of a stock Isso (isso/html/mistune.py and isso.cfg's defaults)
_ISSO_MARKDOWN = mistune.create_markdown(
    escape=True, hard_wrap=True, plugins=["strikethrough", "subscript", "superscript"]
)


@dataclass(frozen=True)
class Visible:
    """What a reader sees of one comment."""

    text: str  # tags stripped, entities decoded, whitespace folded
    links: tuple[str, ...]  # href of every link, in order
    images: tuple[str, ...]  # src of every image, in order


class _VisibleParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self.images: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.links.append(str(values["href"]).strip())
        elif tag == "img" and values.get("src"):
            self.images.append(str(values["src"]).strip())
        elif tag in _HIDDEN_TAGS:
            self._hidden += 1
        if tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS and self._hidden:
            self._hidden -= 1
        if tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def fold_spaces(text: str) -> str:
    """Runs of whitespace as one space, none at the ends: how a browser shows text."""
    return _SPACES.sub(" ", text).strip()


def visible_html(html: str) -> Visible:
    """What a browser shows of `html`: its text, link targets and image sources."""
    parser = _VisibleParser()
    parser.feed(html)
    parser.close()
    return Visible(fold_spaces("".join(parser.parts)), tuple(parser.links), tuple(parser.images))


def render_markdown(text: str) -> str:
    """Markdown as a stock Isso renders it, before its sanitizer (raw HTML escaped)."""
    return str(_ISSO_MARKDOWN(text))


def visible_markdown(text: str) -> Visible:
    """What a reader sees of Markdown `text` once rendered."""
    return visible_html(render_markdown(text))
