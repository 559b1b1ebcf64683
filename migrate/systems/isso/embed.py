"""Does a page of the site show the Isso thread a migration writes to? (`comment-migrate check`)

Isso's widget shows the thread named by the `data-isso-id` of the element `id="isso-thread"`,
or, when it has none, by the page's path. The migration writes each page's comments to the
thread of its uri, so the two must be equal, or the import "succeeds" and the page shows none.
"""

from __future__ import annotations

import html as html_lib
import logging
import re
import urllib.parse
from collections.abc import Iterator

from migrate.model import CheckItem, Page

log = logging.getLogger(__name__)

_EMBED_SCRIPT = re.compile(r"/js/embed(\.min|\.dev)?\.js")
_TAG_NAME = re.compile(r"<([A-Za-z][^\s/>]*)")
_ATTRIBUTE = re.compile(r"""([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")
_RAW_TEXT = ("script", "style", "textarea", "title")  # their content holds no tags


def start_tags(page: str) -> Iterator[tuple[str, str]]:
    """(lower-case name, attribute text) of every start tag, in one pass over `page`.

    Linear in the page's length, whatever it holds (Python's html.parser is quadratic on a
    page of unclosed tags): a tag ends at the first `>`, as in a browser; comments and the
    content of script, style, textarea and title are skipped; at a `<` with no `>` after it,
    no tag can follow, and the scan ends."""
    lowered = page.lower()
    position = 0
    while (start := page.find("<", position)) != -1:
        if page.startswith("<!--", start):
            close = page.find("-->", start + 4)
            if close == -1:
                return
            position = close + 3
            continue
        end = page.find(">", start + 1)
        if end == -1:
            return
        position = end + 1
        name = _TAG_NAME.match(page, start, end)
        if name is None:
            continue  # an end tag, a declaration, or a "<" of text
        tag = name.group(1).lower()
        yield tag, page[name.end() : end]
        if tag in _RAW_TEXT:
            close = lowered.find(f"</{tag}", position)
            if close == -1:
                return
            position = close


def attributes(text: str) -> dict[str, str]:
    """The attributes of a start tag's text, names lower case, values unescaped (the first
    of a repeated name wins, as in a browser)."""
    found: dict[str, str] = {}
    for match in _ATTRIBUTE.finditer(text):
        value = next((v for v in match.group(2, 3, 4) if v is not None), "")
        found.setdefault(match.group(1).lower(), html_lib.unescape(value))
    return found


class _IssoEmbed:
    """Finds Isso's script (`data-isso`, or src .../js/embed*.js) and its thread element."""

    def __init__(self, page: str) -> None:
        self.script = False
        self.thread = False
        self.thread_id: str | None = None
        for tag, text in start_tags(page):
            # only the two elements that matter have their attributes read
            if tag != "script" and "isso-thread" not in text:
                continue
            values = attributes(text)
            if tag == "script" and (
                "data-isso" in values or _EMBED_SCRIPT.search(values.get("src") or "")
            ):
                self.script = True
            if values.get("id") == "isso-thread" and not self.thread:
                self.thread = True
                self.thread_id = values.get("data-isso-id") or None


def check_isso_embed(page: Page, html: str, url: str) -> CheckItem:
    """Whether the page at `url` (after redirects), whose HTML is `html`, shows the Isso
    thread the migration writes `page` to."""
    name = f"page {page.id}"
    embed = _IssoEmbed(html)
    if not embed.script:
        return CheckItem(
            name,
            False,
            "the page does not embed Isso (no <script data-isso=...>)",
            "add Isso's embed script to the page's template",
        )
    if not embed.thread:
        return CheckItem(
            name,
            False,
            'the page loads Isso but has no element with id="isso-thread"',
            'add <section id="isso-thread"></section> where comments belong',
        )
    shown = embed.thread_id or urllib.parse.urlsplit(url).path or "/"
    if shown == page.key:
        return CheckItem(name, True, f"shows Isso thread {page.key}")
    # the page's uri is both its address (site_url + uri) and the thread the migration fills
    if embed.thread_id:
        return CheckItem(
            name,
            False,
            f"the page shows Isso thread {shown!r} (its data-isso-id), but the migration "
            f"writes to {page.key!r}",
            f'set data-isso-id="{page.key}" on the page, or remove it (Isso then uses the path)',
        )
    return CheckItem(
        name,
        False,
        f"the page shows Isso thread {shown!r} (its path; it has no data-isso-id), but the "
        f"migration writes to {page.key!r}",
        f"give the page the uri {shown!r} in the pages file (second column) and [target] "
        "site_url only the scheme and host",
    )
