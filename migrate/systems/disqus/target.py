"""Disqus export target: the XML file a Disqus export is (`output = "comments.xml"`), read by
Remark42, Isso (`isso import -t disqus --empty-id`), Commento, Comentario, Cusdis and most
migration tools.

One `<thread>` per page (dsq:id, `<id>` = the page id as identifier, `<link>` = `site_url` +
the page URI, `<title>`), then one `<post>` per comment (dsq:id = its target id,
`<thread dsq:id>`, `<parent dsq:id>` for replies, author email, name and source id as
username (an author without one, a guest, is `isAnonymous`),
`createdAt` in UTC to the second, `message` in CDATA, `isDeleted` for a tombstone kept for its
replies, `isSpam` false).

Written page-atomically exactly like the WXR (a sidecar `<output>.pages.jsonl` committed per
page, the XML rebuilt from it atomically), with the fields in the form the importer named by
`importer` renders (migrate/files/formats.py): by default "disqus", i.e. sanitized HTML in
`message` as Disqus exports carry it; "isso" gets Markdown and HTML-escaped author names.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import IO
from xml.sax.saxutils import quoteattr

from migrate.files.base import StoredPage
from migrate.files.derived import DerivedFileTarget, derived_file_plugin
from migrate.files.formats import (
    Importer,
    author_name,
    cdata,
    neutral_text,
    page_link,
    rendered_content,
    xml_text,
)
from migrate.files.records import Record, parse_rfc3339

log = logging.getLogger(__name__)

NAMESPACE = "http://disqus.com"
INTERNALS = "http://disqus.com/disqus-internals"
FORUM = "comment-migrate"


def disqus_date(value: object) -> str:
    """UTC to the second, as Disqus writes it (Isso's importer reads exactly this form)."""
    moment = parse_rfc3339(value)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "1970-01-01T00:00:00Z"


def boolean(value: object) -> str:
    return "true" if value else "false"


class DisqusTarget(DerivedFileTarget):
    name = "disqus"
    default_importer = "disqus"

    def write_file(self, handle: IO[str]) -> None:
        write_disqus(
            handle,
            self.committed_pages(),
            site_url=self.site_url,
            reader=self.reader,
            allow_images=self.allow_images,
        )


def write_disqus(
    handle: IO[str],
    pages: Iterator[StoredPage],
    *,
    site_url: str,
    reader: Importer,
    allow_images: bool = False,
) -> None:
    handle.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    handle.write(
        f"<disqus xmlns={quoteattr(NAMESPACE)} xmlns:dsq={quoteattr(INTERNALS)}>\n"
        f'<category dsq:id="1"><forum>{FORUM}</forum><title>General</title>'
        "<isDefault>true</isDefault></category>\n"
    )
    posts: list[str] = []
    for thread_id, stored in enumerate(pages, start=1):
        page = stored.page
        uri = str(page.get("uri") or "/")
        link, problem = page_link(site_url, uri)
        if link is None:  # check() refuses such pages' comments; a sidecar from elsewhere may not
            log.warning("page %s left out of the Disqus file: %s", page.get("id"), problem)
            continue
        title = neutral_text(str(page.get("title") or "")).strip() or neutral_text(uri)
        created = min((str(c.get("created_at") or "") for c in stored.comments), default="")
        handle.write(
            "\n".join(
                [
                    f'<thread dsq:id="{thread_id}">',
                    f"<id>{xml_text(neutral_text(str(page.get('id'))))}</id>",
                    f"<forum>{FORUM}</forum>",
                    '<category dsq:id="1"/>',
                    f"<link>{xml_text(link)}</link>",
                    f"<title>{xml_text(title)}</title>",
                    "<message></message>",
                    f"<createdAt>{disqus_date(created)}</createdAt>",
                    "<author><name>comment-migrate</name><isAnonymous>true</isAnonymous></author>",
                    "<isClosed>false</isClosed>",
                    "<isDeleted>false</isDeleted>",
                    "</thread>\n",
                ]
            )
        )
        posts.extend(post_xml(c, thread_id, reader, allow_images) for c in stored.comments)
    handle.writelines(posts)
    handle.write("</disqus>\n")


def post_xml(comment: Record, thread_id: int, reader: Importer, allow_images: bool) -> str:
    author = comment.get("author") or {}
    name = author_name(str(author.get("name") or ""), reader)
    username = neutral_text(str(author.get("source_id") or ""))
    message = rendered_content(
        str(comment.get("text") or ""),
        comment.get("html") or None,
        reader,
        allow_images=allow_images,
    )
    email = f"<email>{xml_text(author['email'])}</email>" if author.get("email") else ""
    parts = [
        f"<post dsq:id={quoteattr(neutral_text(str(comment['id'])))}>",
        "<id></id>",
        f"<message>{cdata(message)}</message>",
        f"<createdAt>{disqus_date(comment.get('created_at'))}</createdAt>",
        f"<isDeleted>{boolean(comment.get('deleted'))}</isDeleted>",
        "<isSpam>false</isSpam>",
        f"<author>{email}<name>{xml_text(name)}</name>"
        f"<isAnonymous>{boolean(not username)}</isAnonymous>"
        + (f"<username>{xml_text(username)}</username>" if username else "")
        + "</author>",
        f'<thread dsq:id="{thread_id}"/>',
    ]
    if comment.get("parent_id"):
        parts.append(f"<parent dsq:id={quoteattr(neutral_text(str(comment['parent_id'])))}/>")
    parts.append("</post>\n")
    return "\n".join(parts)


PLUGIN = derived_file_plugin(DisqusTarget)
