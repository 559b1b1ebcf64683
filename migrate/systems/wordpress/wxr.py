"""WordPress WXR target: a file that WordPress, Isso (`isso import -t wordpress`) and most
comment systems import, with threads (wp:comment_parent) and timestamps kept.

Page atomicity: the WXR is derived. A page is committed in `finish_page` as one line of the
append-only sidecar `<output>.pages.jsonl` (one write + fsync), and the WXR is rebuilt from
the sidecar atomically (temp file, fsync, rename): after each page when `rebuild_interval`
seconds have passed since the last rebuild (0: after every page), always in `close()`, and
on open when the sidecar is newer. So the WXR only ever holds whole pages, and a crash at any
instant loses nothing the sidecar committed. Target ids (wp:comment_id) are sequential
integers, continuing from the sidecar after a restart; all dates are UTC.

The fields are written for the system that will import the file (`importer`, see
migrate/files/formats.py): by default Isso, the path the README recommends, which gets
Markdown content and HTML-escaped author names; "wordpress", "remark42" and "disqus" get
sanitized HTML and plain-text names. A page whose link is not http(s) or a path is refused.
Authors keep their email and http(s) URL; a pending comment is written with approved 0.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from typing import IO
from xml.sax.saxutils import quoteattr

from migrate.files.base import StoredPage
from migrate.files.derived import DEFAULT_IMPORTER, DerivedFileTarget, derived_file_plugin
from migrate.files.formats import (
    Importer,
    author_name,
    cdata,
    importer,
    neutral_text,
    page_link,
    rendered_content,
    web_url,
    xml_text,
)
from migrate.files.records import parse_rfc3339

log = logging.getLogger(__name__)

# The README recommends `isso import -t wordpress` for this file, so by default it is written
# the way a stock Isso renders it: Markdown.
WXR_VERSION = "1.2"
NAMESPACES = {
    "excerpt": f"http://wordpress.org/export/{WXR_VERSION}/excerpt/",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "wfw": "http://wellformedweb.org/CommentAPI/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "wp": f"http://wordpress.org/export/{WXR_VERSION}/",
}


def wp_date(value: object) -> str:
    moment = parse_rfc3339(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "1970-01-01 00:00:00"


class WxrTarget(DerivedFileTarget):
    name = "wxr"
    # comment_approved 0: a pending comment stays pending in WordPress
    capabilities = dataclasses.replace(DerivedFileTarget.capabilities, keeps_pending=True)
    example_suffix = ".wxr"

    def write_file(self, handle: IO[str]) -> None:
        write_wxr(
            handle,
            self.committed_pages(),
            site_url=self.site_url,
            reader=self.reader,
            allow_images=self.allow_images,
        )


def write_wxr(
    handle: IO[str],
    pages: Iterator[StoredPage],
    *,
    site_url: str = "",
    reader: Importer | None = None,
    allow_images: bool = False,
) -> None:
    reader = reader or importer(DEFAULT_IMPORTER)
    site = web_site(site_url)
    ns = " ".join(f"xmlns:{prefix}={quoteattr(uri)}" for prefix, uri in NAMESPACES.items())
    handle.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    handle.write(f'<rss version="2.0" {ns}>\n<channel>\n')
    handle.write(f"<title>{xml_text(site or 'comments')}</title>\n")
    handle.write(f"<link>{xml_text(site)}</link>\n<description></description>\n")
    handle.write(f"<wp:wxr_version>{WXR_VERSION}</wp:wxr_version>\n")
    handle.write(f"<wp:base_site_url>{xml_text(site)}</wp:base_site_url>\n")
    handle.write(f"<wp:base_blog_url>{xml_text(site)}</wp:base_blog_url>\n")
    handle.write("<generator>comment-migrate</generator>\n")
    for post_id, stored in enumerate(pages, start=1):
        write_item(handle, post_id, stored, site_url, reader, allow_images)
    handle.write("</channel>\n</rss>\n")


def web_site(site_url: str) -> str:
    """The site URL when it is an http(s) URL (the config schema says so), else nothing."""
    link, _ = page_link(site_url, "/")
    return site_url if site_url and link else ""


def write_item(
    handle: IO[str],
    post_id: int,
    stored: StoredPage,
    site_url: str,
    reader: Importer,
    allow_images: bool,
) -> None:
    page = stored.page
    uri = str(page.get("uri") or "/")
    link, problem = page_link(site_url, uri)
    if link is None:  # check() refuses such pages' comments; a sidecar from elsewhere may not
        log.warning("page %s left out of the WXR: %s", page.get("id"), problem)
        return
    # importers skip an item without a title, and Isso would fetch the page for one
    title = neutral_text(str(page.get("title") or "")).strip() or neutral_text(uri)
    page_id = neutral_text(str(page.get("id")))
    parts = [
        "<item>",
        f"<title>{xml_text(title)}</title>",
        f"<link>{xml_text(link)}</link>",
        f'<guid isPermaLink="false">{xml_text(page_id)}</guid>',
        "<content:encoded><![CDATA[]]></content:encoded>",
        "<excerpt:encoded><![CDATA[]]></excerpt:encoded>",
        f"<wp:post_id>{post_id}</wp:post_id>",
        f"<wp:post_name>{xml_text(page_id)}</wp:post_name>",
        "<wp:status>publish</wp:status>",
        "<wp:comment_status>open</wp:comment_status>",
        "<wp:post_type>post</wp:post_type>",
    ]
    for comment in stored.comments:
        author = comment.get("author") or {}
        date = wp_date(comment.get("created_at"))
        parent = xml_text(str(comment.get("parent_id") or 0))
        content = rendered_content(
            str(comment.get("text") or ""),
            comment.get("html"),
            reader,
            allow_images=allow_images,
        )
        name = author_name(str(author.get("name") or ""), reader)
        approved = "0" if comment.get("status") == "pending" else "1"
        parts += [
            "<wp:comment>",
            f"<wp:comment_id>{xml_text(str(comment['id']))}</wp:comment_id>",
            f"<wp:comment_author>{cdata(name)}</wp:comment_author>",
            f"<wp:comment_author_email>{xml_text(str(author.get('email') or ''))}"
            "</wp:comment_author_email>",
            f"<wp:comment_author_url>{xml_text(web_url(author.get('url')) or '')}"
            "</wp:comment_author_url>",
            "<wp:comment_author_IP></wp:comment_author_IP>",
            f"<wp:comment_date>{date}</wp:comment_date>",
            f"<wp:comment_date_gmt>{date}</wp:comment_date_gmt>",
            f"<wp:comment_content>{cdata(content)}</wp:comment_content>",
            f"<wp:comment_approved>{approved}</wp:comment_approved>",
            "<wp:comment_type>comment</wp:comment_type>",
            f"<wp:comment_parent>{parent}</wp:comment_parent>",
            "<wp:comment_user_id>0</wp:comment_user_id>",
            "</wp:comment>",
        ]
    parts.append("</item>\n")
    handle.write("\n".join(parts))


PLUGIN = derived_file_plugin(WxrTarget)
