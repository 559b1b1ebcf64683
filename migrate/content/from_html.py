"""HTML comments (Disqus messages, WordPress comment content) as Markdown that a Markdown
target renders to what readers saw: the same text, the same links, the same images.

Whitespace is a browser's (runs fold to one space, `<br>` is a line break, which Isso's
hard_wrap renders as one); characters with a Markdown meaning are escaped; tags that carry no
Markdown form (span, font, u, ...) keep their text. Pass the HTML sanitized first: what this
writes is no safer than what it reads.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from migrate.content.markdown import markdown_link_text, markdown_url

_SPECIAL = re.compile(r"([\\`*_\[\]<>~^|])")
_LINE_START = re.compile(r"^(\s*)(\d+)?([#>+\-=.)])", re.MULTILINE)
_SPACES = re.compile(r"[ \t\r\n\f]+")
_BLOCKS = frozenset({"p", "div", "blockquote", "ul", "ol", "pre", "table", "tr", "hr"})
_BLOCKS |= frozenset({"h1", "h2", "h3", "h4", "h5", "h6", "details", "summary"})
_EMPHASIS = {"strong": "**", "b": "**", "em": "*", "i": "*", "del": "~~", "s": "~~"}
_EMPHASIS |= {"strike": "~~"}


class _MarkdownWriter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []  # finished blocks
        self.line: list[str] = []  # the block being written
        self.quote = 0  # blockquote depth
        self.pre = 0
        self.code = 0  # inline code shows its characters as they are: nothing escaped
        self.lists: list[list[int]] = []  # per open list: [next number] or [] (bullets)
        self.links: list[tuple[str, int]] = []  # (href, index in `line` where the label starts)

    # -- blocks -------------------------------------------------------------------------

    def flush(self) -> None:
        text = "".join(self.line)
        self.line = []
        text = "\n".join(part.strip() for part in text.split("\n")).strip("\n")
        if not text.strip():
            return
        if self.pre:
            text = f"```\n{text}\n```"
        prefix = "> " * self.quote
        self.blocks.append("\n".join(prefix + part for part in text.split("\n")))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag in _BLOCKS or tag == "li":
            self.flush()
        if tag == "blockquote":
            self.quote += 1
        elif tag == "pre":
            self.pre += 1
        elif tag in ("ul", "ol"):
            start = values.get("start", "1")
            self.lists.append([int(start) if start.isdigit() else 1] if tag == "ol" else [])
        elif tag == "li":
            marker = "- "
            if self.lists and self.lists[-1]:
                marker = f"{self.lists[-1][0]}. "
                self.lists[-1][0] += 1
            self.line.append("   " * max(0, len(self.lists) - 1) + marker)
        elif tag == "br":
            self.line.append("\n")
        elif tag == "hr":
            self.blocks.append("---")
        elif tag in _EMPHASIS:
            self.line.append(_EMPHASIS[tag])
        elif tag == "code" and not self.pre:
            self.line.append("`")
            self.code += 1
        elif tag == "a":
            self.links.append((values.get("href", ""), len(self.line)))
        elif tag == "img" and values.get("src"):
            alt = markdown_link_text(values.get("alt", ""))
            self.line.append(f"![{alt}]({markdown_url(values['src'])})")

    def handle_endtag(self, tag: str) -> None:
        if tag in _EMPHASIS:
            self.line.append(_EMPHASIS[tag])
        elif tag == "code" and not self.pre:
            self.line.append("`")
            self.code = max(0, self.code - 1)
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.line[start:]).strip()
            if href:
                self.line[start:] = [f"[{label or markdown_link_text(href)}]({markdown_url(href)})"]
        if tag in _BLOCKS or tag == "li":
            self.flush()
        if tag == "blockquote" and self.quote:
            self.quote -= 1
        elif tag == "pre" and self.pre:
            self.pre -= 1
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()

    def handle_data(self, data: str) -> None:
        if self.pre or self.code:
            self.line.append(data if self.pre else _SPACES.sub(" ", data).replace("`", "'"))
            return
        text = _SPECIAL.sub(r"\\\1", _SPACES.sub(" ", data))
        if not self.line or "".join(self.line).endswith("\n"):
            text = _LINE_START.sub(r"\1\2\\\3", text.lstrip(), count=1)
        self.line.append(text)


def html_to_markdown(html: str) -> str:
    """Markdown showing what `html` shows (see the module docstring)."""
    writer = _MarkdownWriter()
    writer.feed(html)
    writer.close()
    writer.flush()
    return "\n\n".join(writer.blocks)
