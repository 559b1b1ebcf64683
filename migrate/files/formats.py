"""What the file formats (wxr, disqus, jsonl) write into each field, safely for whoever reads it.

The contract:
- XML cannot hold C0 controls (except tab, newline, carriage return), U+FFFE/U+FFFF or lone
  surrogates: `strip_unwritable` removes them and says which it removed, so the caller can
  record it (a comment left empty by the removal is refused, never written as an empty one).
- Names, titles and ids are plain text. An importer that stores them as HTML (Isso serves
  author names as HTML and its embed.js inserts them unescaped) gets them HTML-escaped, as
  Isso's own API stores them; every other importer gets plain text whose `<` and `>` are
  neutralised (U+2039, U+203A), so no importer can ever turn a name into markup.
- URLs are http(s) only (links in Markdown also mailto); anything else is dropped.
- Content is what the importer renders: sanitized HTML (WordPress, Remark42, Disqus), or
  Markdown for Isso, whose renderer escapes HTML and drops images unless told to allow them.
"""

from __future__ import annotations

import functools
import html
import logging
import re
import urllib.parse
from dataclasses import dataclass
from typing import Literal
from xml.sax.saxutils import escape

from migrate.content import plain_to_html
from migrate.content import sanitize_html as content_sanitize_html

log = logging.getLogger(__name__)

# characters XML 1.0 cannot carry at all, even in CDATA (lone surrogates included)
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

WEB_SCHEMES = frozenset({"http", "https"})
LINK_SCHEMES = frozenset({"http", "https", "mailto"})


@dataclass(frozen=True)
class Importer:
    """How one comment system reads a file: the content form and whether names are HTML."""

    name: str
    content: Literal["markdown", "html"]
    names_are_html: bool


IMPORTERS: dict[str, Importer] = {
    "isso": Importer("isso", content="markdown", names_are_html=True),
    "wordpress": Importer("wordpress", content="html", names_are_html=False),
    "remark42": Importer("remark42", content="html", names_are_html=False),
    "disqus": Importer("disqus", content="html", names_are_html=False),
    "commento": Importer("commento", content="markdown", names_are_html=False),
    "artalk": Importer("artalk", content="markdown", names_are_html=False),
}


def importer(name: str) -> Importer:
    try:
        return IMPORTERS[name]
    except KeyError:
        known = ", ".join(sorted(IMPORTERS))
        raise ValueError(f"unknown importer {name!r} (known: {known})") from None


# -- characters ---------------------------------------------------------------------------


def writable(value: str) -> bool:
    """Does `value` hold only characters XML can hold? Every printable character is one (a
    C test, far quicker than the scan, which only text with a line break or a tab needs)."""
    return value.isprintable() or NOT_XML.search(value) is None


def strip_unwritable(value: str) -> tuple[str, list[str]]:
    """`value` without the characters XML cannot hold, and those removed as "U+XXXX"."""
    if writable(value):  # nearly always: nothing built
        return value, []
    removed = sorted({f"U+{ord(ch):04X}" for ch in NOT_XML.findall(value)})
    return (NOT_XML.sub("", value), removed) if removed else (value, [])


def writable_page(page: dict[str, object]) -> dict[str, object]:
    """A page record whose strings hold only characters a file can hold (a lone surrogate
    cannot even be encoded as UTF-8)."""
    return {k: NOT_XML.sub("", v) if isinstance(v, str) else v for k, v in page.items()}


def xml_text(value: str) -> str:
    return escape(NOT_XML.sub("", value))


def cdata(value: str) -> str:
    """A CDATA section holding any text: "]]>" is split across two sections."""
    return "<![CDATA[" + NOT_XML.sub("", value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def neutral_text(value: str) -> str:
    """Plain text that no reader can take for markup: `<` and `>` become U+2039 and U+203A."""
    return NOT_XML.sub("", value).replace("<", "\u2039").replace(">", "\u203a")


def author_name(name: str, reader: Importer) -> str:
    if reader.names_are_html:  # as Isso's own API stores a name: escaped, shown as typed
        return html.escape(NOT_XML.sub("", name), quote=False)
    return neutral_text(name)


# -- URLs -------------------------------------------------------------------------------

_URL_NOISE = re.compile(r"[\x00-\x20\x7f]")  # browsers ignore these inside a scheme


def url_scheme(url: str) -> str:
    return urllib.parse.urlsplit(_URL_NOISE.sub("", url)).scheme.lower()


def web_url(url: str | None, schemes: frozenset[str] = WEB_SCHEMES) -> str | None:
    """`url` if it is an absolute URL with one of `schemes` (and a host for http(s)), else
    None. Characters that could end an attribute or a tag are percent-encoded."""
    if not url or _URL_NOISE.search(url.strip()):
        return None
    url = url.strip()
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in schemes:
        return None
    if parts.scheme.lower() in WEB_SCHEMES and not parts.netloc:
        return None
    return urllib.parse.quote(url, safe="/:?#[]@!$&'()*+,;=%~")


@functools.lru_cache(maxsize=4096)  # asked for every comment of a page (the rules' check)
def page_link(site_url: str, uri: str) -> tuple[str | None, str | None]:
    """(link, None) for a page's link: `site_url + uri` (an http(s) URL), or the path alone
    when no site URL is configured; (None, reason) when the page cannot have one."""
    uri = uri.strip()
    if site_url:
        base = web_url(site_url)
        if base is None:
            return None, f"site_url {site_url!r} is not an http(s) URL"
        if web_url(uri):  # an absolute page URI stands on its own
            return web_url(uri), None
        if not uri.startswith("/"):
            return None, f"page URI {uri!r} is neither a path starting with / nor an http(s) URL"
        return base.rstrip("/") + urllib.parse.quote(uri, safe="/?#[]@!$&'()*+,;=%~:"), None
    if web_url(uri):
        return web_url(uri), None
    if not uri.startswith("/") or uri.startswith("//"):
        return None, f"page URI {uri!r} is neither a path starting with / nor an http(s) URL"
    return urllib.parse.quote(uri, safe="/?#[]@!$&'()*+,;=%~:"), None


# -- content ----------------------------------------------------------------------------

_PARAGRAPH_BREAK = re.compile(r"\n{2,}")


def sanitize_html(value: str) -> str:
    """The sources' allowlist sanitizer again (an archive can come from anywhere), on text a
    file can hold (HTML the allowlist left, and that holds only such text, stays as it is)."""
    return content_sanitize_html(value if writable(value) else NOT_XML.sub("", value)) or ""


# [label](url "title") and ![alt](url "title"): the forms the sources write (a URL may hold
# balanced parentheses, as Markdown allows)
_MD_LINK = re.compile(
    r"(?P<bang>!?)\[(?P<label>(?:\\.|[^\]\\])*)\]\((?P<url>(?:[^()\s]|\([^()\s]*\))*)"
    r'(?P<title>\s+"[^"]*")?\)'
)
# what an HTML parser reads as the start of a tag, a comment or a declaration ("<3" is not),
# with the Markdown escape before it, if any (the U+2039 needs none, and would show it)
_TAG_OPEN = re.compile(r"(?<!\\)((?:\\\\)*)\\?<(?=[A-Za-z/!?])")
# a Markdown autolink, <https://...>, as the sources write bare URLs (its "<" opens no tag)
_MD_AUTOLINK = re.compile(r"<(https?://[^\s<>]+)>")
# what a link's label must escape so that Markdown shows it as written
_MD_LABEL_SPECIAL = re.compile(r"([\\\[\]*_`])")
# code keeps its characters as typed: Markdown shows them literally there
_MD_CODE = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]*`)", re.DOTALL)


def markdown_links(text: str) -> list[tuple[str, str]]:
    """(label, url) of every Markdown link and image in `text`."""
    if "](" not in text:  # nearly always: no link, and no need to scan for one
        return []
    return [(m["label"], m["url"]) for m in _MD_LINK.finditer(text)]


def unsafe_links(text: str) -> list[str]:
    """Link targets in Markdown `text` that a file will not carry (not http(s)/mailto)."""
    return [url for _, url in markdown_links(text) if web_url(url, LINK_SCHEMES) is None]


def isso_markdown(text: str, *, allow_images: bool) -> str:
    """Markdown as a stock Isso renders it as intended: images as links to them unless
    `allow_images` (Isso drops <img> unless `[markup] allowed-elements = img`), links only
    to http(s)/mailto (others keep their label, without the link), and no raw HTML tag
    outside code (Isso would show it escaped, but serves it raw with plain=1)."""

    def link(match: re.Match[str]) -> str:
        label, url = match["label"], match["url"]
        safe = web_url(url, LINK_SCHEMES)
        if safe is None:
            return label
        if match["bang"] and not allow_images:
            return f"[{label or safe}]({safe})"
        return f"{match['bang']}[{label}]({safe}{match['title'] or ''})"

    def autolink(match: re.Match[str]) -> str:
        url = match[1]
        label = _MD_LABEL_SPECIAL.sub(r"\\\1", url)
        return f"[{label}]({url})"

    parts = _MD_CODE.split(NOT_XML.sub("", text))
    # Isso stores the text as given and serves it raw with plain=1, and its renderer would
    # escape an entity's "&": outside code, a "<" that would open a tag becomes U+2039
    return "".join(
        part
        if index % 2
        else _TAG_OPEN.sub("\\1\u2039", _MD_LINK.sub(link, _MD_AUTOLINK.sub(autolink, part)))
        for index, part in enumerate(parts)
    )


def rendered_content(
    text: str, html_content: str | None, reader: Importer, *, allow_images: bool = False
) -> str:
    """A comment's content in the form `reader` renders; never empty (importers refuse an
    empty comment)."""
    if reader.content == "markdown":
        content = isso_markdown(text, allow_images=allow_images).strip()
    else:
        content = sanitize_html(html_content) if html_content else plain_to_html(text)
    return content or " "
