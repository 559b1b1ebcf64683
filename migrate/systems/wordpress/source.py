"""WordPress source: a WXR export (`[source] type = "wordpress"`, `path`), plain or gzip.

    <rss xmlns:wp="http://wordpress.org/export/1.2/" ...><channel>
      <item><title>Hello</title><link>https://example.org/?p=4</link>
        <wp:post_id>4</wp:post_id><wp:status>publish</wp:status><wp:post_type>post</wp:post_type>
        <wp:comment><wp:comment_id>9</wp:comment_id><wp:comment_parent>0</wp:comment_parent>
          <wp:comment_author><![CDATA[Ann]]></wp:comment_author>
          <wp:comment_author_email>..</wp:comment_author_email>
          <wp:comment_author_url>..</wp:comment_author_url><wp:comment_author_IP>..
          <wp:comment_date_gmt>2019-04-01 10:00:00</wp:comment_date_gmt>
          <wp:comment_content><![CDATA[Hi]]></wp:comment_content>
          <wp:comment_approved>1</wp:comment_approved><wp:comment_type>comment</wp:comment_type>
          <wp:comment_user_id>0</wp:comment_user_id></wp:comment></item>
    </channel></rss>

Read once as a stream (one `item` in memory at a time, WXR 1.0 to 1.2), each comment spilled
to a private temp file by post; a page is an item with comments, keyed by its link by the
one rule (migrate/pages.py: `/?p=4` and `/?p=6` stay two pages). `comment_approved` 1 is
approved, 0 pending, spam and trash never migrate; pingbacks and trackbacks are skipped unless
`pingbacks = true`; comments of a post in the trash are skipped. Content is what WordPress
shows: its paragraphs and line breaks (wpautop), sanitized. `comment_date_gmt` is the time
(UTC, to the second); when it is zero (old drafts), `comment_date` is taken as UTC.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from migrate.content import html_to_markdown, sanitize_html
from migrate.files.formats import web_url
from migrate.files.xml_input import iter_records
from migrate.files.xml_source import SpilledExportSource
from migrate.model import Author, Comment, Page, Status
from migrate.pages import default_key

log = logging.getLogger(__name__)

ITEM = "item"
_WP = "{http://wordpress.org/export/"  # 1.0, 1.1 and 1.2 differ only in the version
_BLOCK_HTML = re.compile(r"<(p|div|ul|ol|blockquote|pre|table|h[1-6])\b", re.IGNORECASE)
_PARAGRAPHS = re.compile(r"\n\s*\n")
STATES: dict[str, Status | None] = {"1": "approved", "approve": "approved", "0": "pending"}


@dataclass(frozen=True)
class Post:
    link: str | None
    title: str
    status: str
    post_type: str


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


class _LocalNames(dict[str, str]):
    """A tag's local name, worked out once per tag (the index pass meets the same dozen)."""

    def __missing__(self, tag: str) -> str:
        self[tag] = name = _local(tag)
        return name


def wp_time(value: str | None) -> datetime | None:
    """`2019-04-01 10:00:00` as UTC, or None when missing, zero or malformed."""
    value = (value or "").strip()
    if not value or value.startswith("0000-00-00"):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def wpautop(content: str) -> str:
    """Comment text as WordPress shows it: blank lines make paragraphs and line breaks stay
    (unless the author wrote block HTML, which is shown as written)."""
    content = content.replace("\r\n", "\n").strip()
    if _BLOCK_HTML.search(content):
        return content
    return "".join(
        "<p>" + part.strip().replace("\n", "<br>\n") + "</p>"
        for part in _PARAGRAPHS.split(content)
        if part.strip()
    )


class WordPressSource(SpilledExportSource):
    """A WXR export read as a source (see the module docstring)."""

    system = "wordpress"

    def __init__(self, path: Path, *, pingbacks: bool = False) -> None:
        self.pingbacks = pingbacks
        self.posts: dict[str, Post] = {}
        super().__init__(path)

    def index(self) -> None:
        local = _LocalNames()
        for item in iter_records(self.path, 3, frozenset({ITEM})):
            fields: dict[str, str] = {}
            comments: list[dict[str, str]] = []
            for child in item:
                tag = child.tag
                if tag.startswith(_WP) and local[tag] == "comment":
                    comments.append({local[part.tag]: part.text or "" for part in child})
                elif tag in ("title", "link") or tag.startswith(_WP):
                    fields[local[tag]] = child.text or ""
            post_id = fields.get("post_id", "").strip()
            if not comments:
                continue
            if not post_id:
                log.warning("%s: an item without wp:post_id holds comments; left out", self.path)
                continue
            self.posts.setdefault(
                post_id,
                Post(
                    link=fields.get("link", "").strip() or None,
                    title=fields.get("title", "").strip(),
                    status=fields.get("status", "").strip(),
                    post_type=fields.get("post_type", "").strip(),
                ),
            )
            for comment in comments:
                self.spill.add(post_id, (comment.get("comment_id", "").strip(), comment))

    def pages(self) -> Iterator[Page]:
        for post_id in self.spill.groups():
            post = self.posts[post_id]
            key = default_key(post.link) if post.link else f"/?p={post_id}"
            yield Page(id=post_id, key=key, title=post.title or None, url=post.link)

    def read(self, page: Page, record: tuple[Any, ...]) -> tuple[str, Comment | str]:
        comment_id, values = record
        reason = self._drop_reason(values, self.posts.get(page.id))
        if reason is not None:
            return comment_id, reason
        comment, reason = self._comment(page, comment_id, values)
        return comment_id, comment or reason or "unreadable"

    def _drop_reason(self, values: Mapping[str, str], post: Post | None) -> str | None:
        approved = values.get("comment_approved", "1").strip().lower()
        if approved not in STATES:
            return approved or "unknown approval state"  # spam, trash, post-trashed
        kind = values.get("comment_type", "").strip().lower()
        if kind in ("pingback", "trackback") and not self.pingbacks:
            return f"{kind} (set pingbacks = true to keep them)"
        if post is not None and post.status == "trash":
            return "its post is in the trash"
        return None

    def _comment(
        self, page: Page, comment_id: str, values: Mapping[str, str]
    ) -> tuple[Comment | None, str | None]:
        created = wp_time(values.get("comment_date_gmt")) or wp_time(values.get("comment_date"))
        if not comment_id or created is None:
            return None, f"malformed comment: comment_date_gmt {values.get('comment_date_gmt')!r}"
        html = sanitize_html(wpautop(values.get("comment_content", ""))) or ""
        text = html_to_markdown(html)
        if not text.strip() and "<img" not in html:
            return None, "empty comment"
        user = values.get("comment_user_id", "0").strip()
        author = Author(
            name=values.get("comment_author", "").strip() or "Anonymous",
            source_id=f"user-{user}" if user not in ("", "0") else "",
            email=values.get("comment_author_email", "").strip() or None,
            url=web_url(values.get("comment_author_url", "").strip()),
            ip=values.get("comment_author_IP", "").strip() or None,  # reaches a target with keep_ip
        )
        parent = values.get("comment_parent", "0").strip()
        return (
            Comment(
                id=comment_id,
                page_id=page.id,
                parent_id=None if parent in ("", "0") else parent,
                author=author,
                text=text,
                html=html or None,
                created_at=created,
                status=STATES[values.get("comment_approved", "1").strip().lower()] or "approved",
            ),
            None,
        )
