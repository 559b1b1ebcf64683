"""Markdown of simple sanitized HTML, made without a parser: exactly the string markdownify
(heading_style="ATX", bullets="-", escape_underscores=False, over BeautifulSoup's
html.parser) makes of it, or None for anything this does not read the same way.

What it reads: text with the entities the allowlist's serializer writes (&amp; &lt; &gt;
&quot; &nbsp; &#39;), `<p>` and `<blockquote>` (a quote may hold paragraphs and quotes,
nothing else holds either), `<br>`, and anywhere else `<strong>`/`<b>`, `<em>`/`<i>`,
`<code>` and `<a href="..." rel="noopener noreferrer nofollow">` (the rel the allowlist
adds; no title), nested in each other. Any other tag,
attribute, entity, character reference or stray `<`/`>` gives None, and the caller asks
markdownify. tests/test_markdown_fast.py compares the two on generated HTML.
"""

from __future__ import annotations

import re

# markdownify's rules, restated for this subset (markdownify/__init__.py, 1.2):
# a text node's whitespace runs with a line break become "\n", other runs of spaces and tabs
# one space; with our options the only escape is `*`
_NEWLINE_RUN = re.compile(r"[\t \r\n]*[\r\n][\t \r\n]*")
_SPACE_RUN = re.compile(r"[\t ]+")
# a child's result split into its leading newlines, its content, its trailing newlines
_EDGES = re.compile(r"^(\n*)((?:.*[^\n])?)(\n*)$", re.DOTALL)
_BACKTICKS = re.compile(r"`+")

_TAG = re.compile(r"<([^<>]*)>")
_ENTITY = re.compile(r"&(?:amp|lt|gt|quot|nbsp|#39);")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&nbsp;", "\xa0"), ("&#39;", "'"))
_LINK = re.compile(r'a(?: href="([^"]*)")? rel="noopener noreferrer nofollow"')
# markdownify trims whitespace inside and beside these; only a quote holds them here
_BLOCKS = ("p", "blockquote")
_HOLDS_BLOCKS = ("[document]", "blockquote")
_QUOTED_LINE = re.compile(r"^(.*)", re.MULTILINE)
_INLINE = {"strong": "**", "b": "**", "em": "*", "i": "*", "code": "`"}
# BeautifulSoup makes a text node of nothing but these one space, or one newline if it has one
_ASCII_SPACES = " \n\t\x0c\r"

# an element: (tag name, children, href of a link); a text node: its decoded text
Element = tuple[str, list["Element | str"], "str | None"]


def _decoded(text: str) -> str:
    if "&" not in text:
        return text
    for entity, character in _ENTITIES:
        text = text.replace(entity, character)
    return text.replace("&amp;", "&")  # last: "&amp;lt;" is the text "&lt;"


def _tree(html: str) -> Element | None:
    """The document as markdownify sees it, or None outside the subset."""
    if "&" in html and html.count("&") != len(_ENTITY.findall(html)):
        return None
    parts = _TAG.split(html)
    stack: list[Element] = [("[document]", [], None)]
    for index, part in enumerate(parts):
        if not index % 2:  # text between tags: one text node, as BeautifulSoup makes it
            if part:
                if "<" in part or ">" in part:
                    return None
                if not part.strip(_ASCII_SPACES):
                    part = "\n" if "\n" in part else " "
                stack[-1][1].append(_decoded(part))
        elif part == "br":
            stack[-1][1].append(("br", [], None))
        elif part.startswith("/"):
            if len(stack) == 1 or stack[-1][0] != part[1:]:
                return None
            closed = stack.pop()
            stack[-1][1].append(closed)
        elif part in _BLOCKS:
            if stack[-1][0] not in _HOLDS_BLOCKS:  # in a paragraph or inline: left alone
                return None
            stack.append((part, [], None))
        elif part in _INLINE:
            stack.append((part, [], None))
        else:
            link = _LINK.fullmatch(part)
            if link is None:
                return None
            stack.append(("a", [], None if link[1] is None else _decoded(link[1])))
    return stack[0] if len(stack) == 1 else None


def _is_block(node: Element | str | None) -> bool:
    return type(node) is tuple and node[0] in _BLOCKS


def _text(
    text: str,
    prev: Element | str | None,
    after: Element | str | None,
    in_block: bool,
    noformat: bool,
) -> str:
    """markdownify's process_text: whitespace runs folded, `*` escaped, trimmed next to a
    paragraph's edge or beside one."""
    if "\n" in text or "\r" in text:
        text = _NEWLINE_RUN.sub("\n", text)
    if "\t" in text or "  " in text:
        text = _SPACE_RUN.sub(" ", text)
    if not noformat:
        text = text.replace("*", "\\*")
    if _is_block(prev) or (in_block and prev is None):
        text = text.lstrip(" \t\r\n")
    if _is_block(after) or (in_block and after is None):
        text = text.rstrip()  # all of Unicode's spaces, as markdownify strips here
    return text


def _joined(strings: list[str]) -> str:
    """The children's results, newlines where two meet folded to at most two."""
    parts = [""]
    for string in strings:
        if "\n" not in string:
            parts += ("", string, "")
            continue
        lead, content, trail = _EDGES.match(string).groups()  # type: ignore[union-attr]
        if parts[-1] and lead:
            lead = "\n" * min(2, max(len(parts.pop()), len(lead)))
        parts += (lead, content, trail)
    return "".join(parts)


def _chomped(text: str) -> tuple[str, str, str]:
    return (" " if text[:1] == " " else "", text.strip(), " " if text[-1:] == " " else "")


def _markdown(node: Element, noformat: bool) -> str:
    """markdownify's process_tag and the tag's convert_ function."""
    name, children, href = node
    in_block = name in _BLOCKS
    inner_noformat = noformat or name == "code"
    strings: list[str] = []
    last = len(children) - 1
    for index, child in enumerate(children):
        prev = children[index - 1] if index else None
        after = children[index + 1] if index < last else None
        if type(child) is str:
            if not child.strip() and (
                (in_block and (prev is None or after is None))
                or _is_block(prev)
                or _is_block(after)
            ):
                continue  # whitespace at a paragraph's edge or beside one
            string = _text(child, prev, after, in_block, inner_noformat)
        else:
            string = _markdown(child, inner_noformat)  # type: ignore[arg-type]
        if string:
            strings.append(string)
    text = _joined(strings) if len(strings) > 1 else "".join(strings)
    if name == "p":
        text = text.strip(" \t\r\n")
        return f"\n\n{text}\n\n" if text else ""
    if name == "blockquote":
        text = text.strip(" \t\r\n")
        if not text:
            return "\n"
        return (
            "\n" + _QUOTED_LINE.sub(lambda line: f"> {line[1]}" if line[1] else ">", text) + "\n\n"
        )
    if name == "br":
        return "  \n"
    if name == "[document]":
        return text.strip("\n")
    if noformat:  # inside <code>: links and emphasis are their text
        return text
    before, text, end = _chomped(text)
    if not text:
        return ""
    if name == "a":
        if text.replace("\\_", "_") == href:  # markdownify's autolink
            return f"<{href}>"
        return f"{before}[{text}]({href}){end}" if href else text
    mark = _INLINE[name]
    if name == "code":
        longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
        mark = "`" * (longest + 1)
        if longest:
            text = f" {text} "
    return f"{before}{mark}{text}{mark}{end}"


def simple_html_markdown(html: str) -> str | None:
    """What markdownify makes of `html` (sanitized), or None when `html` is not simple."""
    tree = _tree(html)
    return None if tree is None else _markdown(tree, False)
