"""Disqus source: the XML export Disqus mails (`[source] type = "disqus"`, `path`), plain or
gzip-compressed.

    <disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">
      <thread dsq:id="7"><id>ident</id><link>https://example.org/post/</link>
        <title>Post</title><isClosed>false</isClosed><isDeleted>false</isDeleted>...</thread>
      <post dsq:id="21"><message><![CDATA[<p>Hi</p>]]></message>
        <createdAt>2019-04-01T10:00:00Z</createdAt><isDeleted>false</isDeleted>
        <isSpam>false</isSpam><author><name>Ann</name><email>..</email>
        <username>ann</username><isAnonymous>false</isAnonymous></author>
        <ipAddress>..</ipAddress><thread dsq:id="7"/><parent dsq:id="20"/></post>
    </disqus>

Opening it reads the file once as a stream, keeping the threads (small) and spilling each
post to a private temp file indexed by thread; a page's comments are read back from there, so
memory holds one page, whatever the file's size. A page is a thread that has posts, keyed by
its link (migrate/pages.py merges the http/https, `www.` and trailing-slash twins real exports
list). What Disqus wraps as `https://disq.us/url?url=<real>:<hash>` is unwrapped. Spam never
migrates; a deleted post stays as a tombstone only under kept replies; posts of a deleted
thread are skipped; an anonymous (guest) author stays anonymous (no username); times are UTC
to the second. Posts on threads the export does not hold are left out, each named in a
warning (`unplaced`).
"""

from __future__ import annotations

import html as html_lib
import logging
import re
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from migrate.content import html_to_markdown, plain_to_html, sanitize_html
from migrate.files.xml_input import iter_records
from migrate.files.xml_source import SpilledExportSource
from migrate.model import DELETED_TEXT, Author, Comment, Page
from migrate.pages import default_key, templated_key

log = logging.getLogger(__name__)

NS = "{http://disqus.com}"
DSQ_ID = "{http://disqus.com/disqus-internals}id"
THREAD, POST = NS + "thread", NS + "post"
AUTHOR, PARENT = NS + "author", NS + "parent"
# what is kept of a record, in this order (a spilled post is its id and these values)
SLOTS: tuple[str, ...] = ("message", "createdAt", "isDeleted", "isSpam", "id", "link", "title")
SLOTS += ("ipAddress",)
SLOTS += ("author.name", "author.email", "author.username", "author.isAnonymous")
SLOTS += ("thread", "parent")
_SLOT = {NS + name.removeprefix("author."): i for i, name in enumerate(SLOTS[:-2])}
_SLOT |= {THREAD: -1, PARENT: -2, AUTHOR: -3}  # as children of a post
_THREAD_REF, _PARENT_REF = len(SLOTS) - 2, len(SLOTS) - 1
# a link Disqus rewrote to count clicks: https://disq.us/url?url=<quoted real URL>:<hash>
_WRAPPED = re.compile(r"""\bhref\s*=\s*(["'])(https?://disq\.us/[^"']*)\1""", re.IGNORECASE)
_HASH_SUFFIX = re.compile(r":[A-Za-z0-9_-]{5,}$")


@dataclass(frozen=True, slots=True)  # one per thread, kept for the run: no __dict__
class Thread:
    link: str | None
    title: str
    identifier: str
    deleted: bool


def unwrap_link(url: str) -> str:
    """The real URL behind a disq.us redirect (its `url` parameter without Disqus's hash),
    or `url` itself when it is not one."""
    parts = urllib.parse.urlsplit(url)
    if parts.hostname != "disq.us":
        return url
    real = urllib.parse.parse_qs(parts.query).get("url", [""])[0]
    if not real.lower().startswith(("http://", "https://")):
        return url
    return _HASH_SUFFIX.sub("", real)


def unwrap_links(message: str) -> str:
    """Every disq.us-wrapped href of a message's HTML as the link it stands for."""

    def href(match: re.Match[str]) -> str:
        real = unwrap_link(html_lib.unescape(match.group(2)))
        return f"href={match.group(1)}{html_lib.escape(real)}{match.group(1)}"

    return _WRAPPED.sub(href, message)


def _values(record: Sequence[str | None]) -> dict[str, str]:
    return {name: value for name, value in zip(SLOTS, record, strict=True) if value is not None}


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def parse_time(value: str | None) -> datetime | None:
    """Disqus's createdAt (`2019-04-01T10:00:00Z`) as UTC to the second, or None."""
    try:
        moment = datetime.fromisoformat((value or "").strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


class DisqusSource(SpilledExportSource):
    """A Disqus export read as a source (see the module docstring)."""

    system = "disqus"

    def __init__(self, path: Path, *, uri_template: str = "/{page_id}/") -> None:
        self.uri_template = uri_template
        self.threads: dict[str, Thread] = {}
        self.unplaced: list[str] = []  # posts whose thread the export does not hold
        super().__init__(path)

    def index(self) -> None:
        # the hot loop of a gigabyte: one list per record, slots by tag, nothing parsed yet
        spill, threads, slot_of = self.spill, self.threads, _SLOT.get
        for elem in iter_records(self.path, 2, frozenset({THREAD, POST})):
            record: list[str | None] = [None] * len(SLOTS)
            for child in elem:
                slot = slot_of(child.tag, -9)
                if slot >= 0:
                    record[slot] = child.text
                elif slot == -3:
                    for part in child:
                        inner = slot_of(part.tag, -9)
                        if inner >= 0:
                            record[inner] = part.text
                elif slot == -1:
                    record[_THREAD_REF] = child.get(DSQ_ID)
                elif slot == -2:
                    record[_PARENT_REF] = child.get(DSQ_ID)
            dsq_id = elem.get(DSQ_ID) or ""
            if elem.tag == POST:
                spill.add(record[_THREAD_REF] or "", (dsq_id, *record))
                continue
            values = _values(record)
            known = threads.get(dsq_id)
            if known is None or (known.link is None and values.get("link")):
                threads[dsq_id] = Thread(
                    link=values.get("link", "").strip() or None,
                    title=values.get("title", "").strip(),
                    identifier=values.get("id", "").strip(),
                    deleted=_true(values.get("isDeleted")),
                )
        self._report_unplaced()

    def _report_unplaced(self) -> None:
        self.spill.finish()  # readable before the base class says so
        for thread_id in self.spill.groups():
            if thread_id not in self.threads:
                posts = [record[0] for record in self.spill.records(thread_id)]
                self.unplaced.extend(posts)
                log.warning(
                    "%s: %d posts on thread %r, which the export does not hold, are left out: %s",
                    self.path,
                    len(posts),
                    thread_id,
                    ", ".join(posts[:20]) + (" ..." if len(posts) > 20 else ""),
                )

    # -- the Source protocol --------------------------------------------------------------

    def pages(self) -> Iterator[Page]:
        for thread_id in self.spill.groups():
            thread = self.threads.get(thread_id)
            if thread is None:
                continue
            if thread.link:
                key = default_key(thread.link)
            else:
                key = templated_key(self.uri_template, thread.identifier or thread_id)
                log.warning(
                    "%s: thread %s has no link; its page key is %s (change it in [pages] map)",
                    self.path,
                    thread_id,
                    key,
                )
            yield Page(id=thread_id, key=key, title=thread.title or None, url=thread.link)

    def read(self, page: Page, record: tuple[Any, ...]) -> tuple[str, Comment | str]:
        post_id, *slots = record
        values = _values(slots)
        reason = self._drop_reason(values, self.threads.get(page.id))
        if reason is not None:
            return post_id, reason
        comment, reason = self._comment(page, post_id, values)
        return post_id, comment or reason or "unreadable"

    @staticmethod
    def _drop_reason(values: Mapping[str, str], thread: Thread | None) -> str | None:
        if _true(values.get("isSpam")):
            return "spam"
        if thread is not None and thread.deleted:
            return "its thread is deleted in Disqus"
        return None

    def _comment(
        self, page: Page, post_id: str, values: Mapping[str, str]
    ) -> tuple[Comment | None, str | None]:
        created = parse_time(values.get("createdAt"))
        if not post_id or created is None:
            return None, f"malformed post: createdAt {values.get('createdAt')!r}"
        deleted = _true(values.get("isDeleted"))
        if deleted:
            text, html = DELETED_TEXT, plain_to_html(DELETED_TEXT)
        else:
            html = sanitize_html(unwrap_links(values.get("message", ""))) or ""
            text = html_to_markdown(html)
            if not text.strip() and "<img" not in html:
                return None, "empty message"
        anonymous = _true(values.get("author.isAnonymous"))
        name = values.get("author.name", "").strip()
        author = Author(
            name=name or "Anonymous",
            # a guest stays a guest: no Disqus username follows them
            source_id="" if anonymous else values.get("author.username", "").strip(),
            email=values.get("author.email", "").strip() or None,
            ip=values.get("ipAddress", "").strip() or None,  # reaches a target with keep_ip
        )
        parent = values.get("parent") or None
        return (
            Comment(
                id=post_id,
                page_id=page.id,
                parent_id=parent,
                author=author,
                text=text,
                html=html or None,
                created_at=created,
                deleted=deleted,
            ),
            None,
        )
