"""WordPress WXR target: a file that WordPress, Isso (`isso import -t wordpress`) and most
comment systems import, with threads (wp:comment_parent) and timestamps kept.

Page atomicity: the WXR is derived. A page is committed in `finish_page` as one line of the
append-only sidecar `<output>.pages.jsonl` (one write + fsync), and the WXR is rebuilt from
the sidecar atomically (temp file, fsync, rename): after each page when `rebuild_interval`
seconds have passed since the last rebuild (0: after every page), always in `close()`, and
on open when the sidecar is newer. So the WXR only ever holds whole pages, and a crash at any
instant loses nothing the sidecar committed. Target ids (wp:comment_id) are sequential
integers, continuing from the sidecar after a restart; all dates are UTC.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

from migrate.config import SectionConfig
from migrate.errors import TargetError
from migrate.model import Capabilities
from migrate.plugins import TargetPlugin
from migrate.targets.base import (
    PageAtomicFileTarget,
    Record,
    StoredPage,
    dumps,
    parse_rfc3339,
)
from utils.fileio import atomic_writer

WXR_VERSION = "1.2"
NAMESPACES = {
    "excerpt": f"http://wordpress.org/export/{WXR_VERSION}/excerpt/",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "wfw": "http://wellformedweb.org/CommentAPI/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "wp": f"http://wordpress.org/export/{WXR_VERSION}/",
}

# characters XML 1.0 cannot carry at all, even in CDATA
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str) -> str:
    return escape(_NOT_XML.sub("", value))


def cdata(value: str) -> str:
    """A CDATA section holding any text: "]]>" is split across two sections."""
    return "<![CDATA[" + _NOT_XML.sub("", value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def wp_date(value: object) -> str:
    moment = parse_rfc3339(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "1970-01-01 00:00:00"


def comment_content(comment: Mapping[str, Any]) -> str:
    """The sanitized HTML (the transform's), else the text escaped; never empty (importers
    choke on an empty comment_content)."""
    content = comment.get("html") or html.escape(str(comment.get("text") or ""), quote=False)
    return content or " "


class WxrTarget(PageAtomicFileTarget):
    name = "wxr"
    capabilities = Capabilities(
        max_depth=None,
        keeps_timestamps=True,
        idempotency="none",
        can_delete=True,
        content="html",
        page_atomic=True,
    )

    def __init__(
        self, output: Path, *, site_url: str = "", rebuild_interval: float = 2.0
    ) -> None:
        self.output = Path(output)
        self.site_url = site_url.rstrip("/")
        self.rebuild_interval = rebuild_interval
        self._last_rebuild = float("-inf")  # the first page is written at once
        self._stale = False  # the WXR lags behind the sidecar
        sidecar = self.output.with_name(self.output.name + ".pages.jsonl")
        if self.output.exists() and not sidecar.exists():
            raise TargetError(
                f"{self.output} exists but has no {sidecar.name} beside it, so it was not "
                "written by comment-migrate: move it away or choose another output"
            )
        super().__init__(sidecar)
        if sidecar.exists() and (
            not self.output.exists()
            or self.output.stat().st_mtime_ns <= sidecar.stat().st_mtime_ns  # coarse clocks tie
        ):
            self._rebuild()

    def sibling(self, output: Path) -> WxrTarget:
        return WxrTarget(output, site_url=self.site_url, rebuild_interval=self.rebuild_interval)

    @property
    def sidecar(self) -> Path:
        return self.store

    def identity(self) -> Mapping[str, str]:
        return {"type": self.name, "output": str(self.output.resolve())}

    def encode_batch(self, seq: int, page: Record, comments: Sequence[Record]) -> list[str]:
        return [dumps({"batch": seq, "page": page, "comments": list(comments)})]

    def decode_line(self, obj: Mapping[str, Any]) -> tuple[int, int, Record, list[Record]]:
        comments = [dict(c) for c in obj["comments"]]
        for comment in comments:
            str(comment["id"])  # a comment without an id is damage
        return int(obj["batch"]), 1, dict(obj["page"]), comments

    def after_change(self, *, force: bool) -> None:
        # `force` (on close) writes only what changed: a reader (verify) never rewrites the file
        if not force:
            self._stale = True
        due = time.monotonic() - self._last_rebuild >= self.rebuild_interval
        if self._stale and (force or due):
            self._rebuild()

    def _rebuild(self) -> None:
        with self._lock, atomic_writer(self.output, mode=0o644) as handle:
            write_wxr(handle, self.committed_pages(), site_url=self.site_url)
        self._last_rebuild = time.monotonic()
        self._stale = False


def write_wxr(handle: IO[str], pages: Iterator[StoredPage], *, site_url: str = "") -> None:
    ns = " ".join(f"xmlns:{prefix}={quoteattr(uri)}" for prefix, uri in NAMESPACES.items())
    handle.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    handle.write(f'<rss version="2.0" {ns}>\n<channel>\n')
    handle.write(f"<title>{xml_text(site_url or 'comments')}</title>\n")
    handle.write(f"<link>{xml_text(site_url)}</link>\n<description></description>\n")
    handle.write(f"<wp:wxr_version>{WXR_VERSION}</wp:wxr_version>\n")
    handle.write(f"<wp:base_site_url>{xml_text(site_url)}</wp:base_site_url>\n")
    handle.write(f"<wp:base_blog_url>{xml_text(site_url)}</wp:base_blog_url>\n")
    handle.write("<generator>comment-migrate</generator>\n")
    for post_id, stored in enumerate(pages, start=1):
        write_item(handle, post_id, stored, site_url)
    handle.write("</channel>\n</rss>\n")


def write_item(handle: IO[str], post_id: int, stored: StoredPage, site_url: str) -> None:
    page = stored.page
    uri = str(page.get("uri") or "/")
    # importers skip an item without a title, and Isso would fetch the page for one
    title = str(page.get("title") or "").strip() or uri
    parts = [
        "<item>",
        f"<title>{xml_text(title)}</title>",
        f"<link>{xml_text(site_url + uri)}</link>",
        f'<guid isPermaLink="false">{xml_text(str(page.get("id")))}</guid>',
        "<content:encoded><![CDATA[]]></content:encoded>",
        "<excerpt:encoded><![CDATA[]]></excerpt:encoded>",
        f"<wp:post_id>{post_id}</wp:post_id>",
        f"<wp:post_name>{xml_text(str(page.get('id')))}</wp:post_name>",
        "<wp:status>publish</wp:status>",
        "<wp:comment_status>open</wp:comment_status>",
        "<wp:post_type>post</wp:post_type>",
    ]
    for comment in stored.comments:
        author = comment.get("author") or {}
        date = wp_date(comment.get("created_at"))
        parent = xml_text(str(comment.get("parent_id") or 0))
        parts += [
            "<wp:comment>",
            f"<wp:comment_id>{xml_text(str(comment['id']))}</wp:comment_id>",
            f"<wp:comment_author>{cdata(str(author.get('name') or ''))}</wp:comment_author>",
            "<wp:comment_author_email></wp:comment_author_email>",
            "<wp:comment_author_url></wp:comment_author_url>",
            "<wp:comment_author_IP></wp:comment_author_IP>",
            f"<wp:comment_date>{date}</wp:comment_date>",
            f"<wp:comment_date_gmt>{date}</wp:comment_date_gmt>",
            f"<wp:comment_content>{cdata(comment_content(comment))}</wp:comment_content>",
            "<wp:comment_approved>1</wp:comment_approved>",
            "<wp:comment_type>comment</wp:comment_type>",
            f"<wp:comment_parent>{parent}</wp:comment_parent>",
            "<wp:comment_user_id>0</wp:comment_user_id>",
            "</wp:comment>",
        ]
    parts.append("</item>\n")
    handle.write("\n".join(parts))


def _output(section: SectionConfig) -> Path:
    path = section.path("output")
    assert path is not None  # the plugin's schema requires it
    return path


PLUGIN = TargetPlugin(
    name="wxr",
    build=lambda section, run: WxrTarget(_output(section), site_url=section.text("site_url")),
    capabilities=lambda section: WxrTarget.capabilities,
    identity=lambda section: {"output": str(_output(section))},
    output=lambda section: str(_output(section)),
    path_keys=("output",),
    schema={"required": ["output"], "properties": {"output": {"type": "string", "minLength": 1}}},
)
