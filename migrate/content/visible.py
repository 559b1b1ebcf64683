"""What a reader sees of a comment (for `verify`): text, link targets, image sources.

Its text with tags stripped, entities decoded and whitespace folded (a block or a line break is
a space), the hrefs of its links and the srcs of its images, in document order. Markdown is
rendered first, as a stock Isso renders it (mistune with escape and hard_wrap, plugins
strikethrough, subscript, superscript), so raw HTML in Markdown shows as text, as there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

import mistune

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
