"""Does a page of the site show the Isso thread a migration writes to? (`comment-migrate check`)

Isso's widget shows the thread named by the `data-isso-id` of the element `id="isso-thread"`,
or, when it has none, by the page's path. The migration writes each page's comments to the
thread of its uri, so the two must be equal, or the import "succeeds" and the page shows none.
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from html.parser import HTMLParser

from migrate.model import CheckItem, Page

log = logging.getLogger(__name__)

_EMBED_SCRIPT = re.compile(r"/js/embed(\.min|\.dev)?\.js")


class _IssoEmbed(HTMLParser):
    """Finds Isso's script (`data-isso`, or src .../js/embed*.js) and its thread element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.script = False
        self.thread = False
        self.thread_id: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
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
    embed = _IssoEmbed()
    embed.feed(html)
    embed.close()
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
