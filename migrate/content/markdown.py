"""Markdown that renders, in a Markdown target, to what Matrix clients showed.

Isso renders with mistune (escape and hard_wrap): an emote is `\\* Name waves` (not a bullet
list), an image is `![label](url)`, a file is `[label](url)`, plain text keeps its characters
(those with a Markdown meaning escaped) and bare URLs become autolinks.
"""

from __future__ import annotations

import re
import urllib.parse

from markdownify import MarkdownConverter

from migrate.content.html import sanitize_html
from migrate.content.markdown_fast import simple_html_markdown
from migrate.content.matrix import IMAGE_MSGTYPE
from migrate.content.text import BARE_URL, url_end

# what gives Markdown meaning inside a line (Isso's mistune: emphasis, code, links, HTML,
# strikethrough, superscript); line-start markers are _BLOCK_MARKER's
_BLANK_LINES = re.compile(r"\n{3,}")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<~^])")


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
        for match in BARE_URL.finditer(line):
            url = url_end(match.group(0))
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
        url = url_end(match.group(0))
        return f"<{url}>{match.group(0)[len(url) :]}"

    parts = _CODE.split(markdown)
    return "".join(
        part if index % 2 else _BARE_URL_IN_MARKDOWN.sub(link, part)
        for index, part in enumerate(parts)
    )


def emote_markdown(name: str, text: str) -> str:
    """`* Name waves` as Markdown: the star escaped, so it is not a bullet list."""
    return f"\\* {escape_markdown(name)} {text}"


def markdown_url(url: str) -> str:
    """A URL that cannot end a Markdown link early (parentheses, spaces, angle brackets)."""
    return re.sub(r"[\s()<>]", lambda m: urllib.parse.quote(m.group(0)), url)


def markdown_link_text(label: str) -> str:
    """A label safe inside Markdown link brackets."""
    return re.sub(r"([\[\]\\])", r"\\\1", label.replace("\n", " ")).strip()


def media_markdown(msgtype: str, url: str, label: str) -> str:
    """An image as a Markdown image, anything else (file, audio, video) as a link."""
    text = markdown_link_text(label) or msgtype
    bang = "!" if msgtype == IMAGE_MSGTYPE else ""
    return f"{bang}[{text}]({markdown_url(url)})"


# ![alt](url "title"), as the sources write images (a URL may hold balanced parentheses)
_MD_IMAGE = re.compile(
    r"!\[(?P<label>(?:\\.|[^\]\\])*)\]\((?P<url>(?:[^()\s]|\([^()\s]*\))*)(?P<title>\s+\"[^\"]*\")?\)"
)


def images_as_links(markdown: str) -> str:
    """Images as links to them, for a renderer that drops <img> (a stock Isso): the reader
    still gets the picture, one click away, instead of nothing. Code is left as typed."""
    parts = _CODE.split(markdown)
    return "".join(
        part
        if index % 2
        else _MD_IMAGE.sub(lambda m: f"[{m['label'] or m['url']}]({m['url']})", part)
        for index, part in enumerate(parts)
    )


# one converter for every call: making one costs as much as converting a short comment, and
# what it keeps between calls is its options and a cache of its own methods by tag
_TO_MARKDOWN = MarkdownConverter(heading_style="ATX", bullets="-", escape_underscores=False)


def html_to_markdown(html: str) -> str:
    """Sanitized HTML as Markdown that renders the same text, links, images and line breaks
    (for sources that keep only HTML, into targets that take Markdown)."""
    clean = sanitize_html(html) or ""  # the one allowlist, before converting
    # most comments are paragraphs of text: read without BeautifulSoup, to the same string
    markdown = simple_html_markdown(clean)
    if markdown is None:
        markdown = _TO_MARKDOWN.convert(clean)
    return _BLANK_LINES.sub("\n\n", markdown).strip()
