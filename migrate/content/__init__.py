"""Turning one comment's content into the forms targets render: pure functions, no I/O.

Shared by sources and targets (a neutral package: it imports nothing else of the project).

- `text` is Markdown that renders, in a Markdown target, to what Matrix clients showed
  (markdown.py);
- `html` is sanitized HTML for HTML targets (html.py);
- reply fallbacks and mxc:// URIs, which Matrix content carries and no target shows, are
  removed or mapped (matrix.py); text is repaired to valid Unicode (text.py);
- what a reader sees of a comment, for `verify`, is visible.py.
"""

from __future__ import annotations

from migrate.content.html import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    URL_SCHEMES,
    MediaUrl,
    emote_html,
    media_html,
    plain_to_html,
    sanitize_html,
)
from migrate.content.markdown import (
    autolink_markdown,
    emote_markdown,
    escape_markdown,
    html_to_markdown,
    images_as_links,
    markdown_link_text,
    markdown_url,
    media_markdown,
    plain_to_markdown,
)
from migrate.content.matrix import (
    HTML_FORMAT,
    IMAGE_MSGTYPE,
    has_html_reply_fallback,
    has_reply_fallback,
    mxc_to_http,
    parse_mxc,
    strip_html_reply_fallback,
    strip_reply_fallback,
)
from migrate.content.text import clean_text
from migrate.content.visible import (
    Visible,
    fold_spaces,
    render_markdown,
    visible_html,
    visible_markdown,
)

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "ALLOWED_TAGS",
    "HTML_FORMAT",
    "IMAGE_MSGTYPE",
    "URL_SCHEMES",
    "MediaUrl",
    "Visible",
    "autolink_markdown",
    "clean_text",
    "emote_html",
    "emote_markdown",
    "escape_markdown",
    "fold_spaces",
    "has_html_reply_fallback",
    "has_reply_fallback",
    "html_to_markdown",
    "images_as_links",
    "markdown_link_text",
    "markdown_url",
    "media_html",
    "media_markdown",
    "mxc_to_http",
    "parse_mxc",
    "plain_to_html",
    "plain_to_markdown",
    "render_markdown",
    "sanitize_html",
    "strip_html_reply_fallback",
    "strip_reply_fallback",
    "visible_html",
    "visible_markdown",
]
