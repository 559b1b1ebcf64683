"""A site's comments snapshotted to one file, and read back as a source.

`write_archive` extracts every page of a source into a versioned JSON Lines file, written
atomically (utils.fileio). `ArchiveSource` reads it back; its `system` is the one of the
source it was made from, so idempotency keys are the same whether a site is migrated live or
from its archive. Every line is validated against migrate/schemas/archive.schema.json.

Layout (one JSON object per line)::

    {"record": "header", "format": "comment-migrate-archive", "version": 1,
     "created_at": "2024-05-01T12:00:00Z", "source": {"system": "matrix", "identity": {...}}}
    {"record": "page", "id": "post1", "uri": "/post1/", "title": null, "room_id": "!r:hs",
     "alias": "#comments_blog_post1:hs", "status": "ok", "error": null, "retryable": false,
     "comments": 2, "skipped": 1, "orphans": []}
    {"record": "comment", "id": "$ev", "page_id": "post1", "parent_id": null,
     "author": {"name": "Alice", "source_id": "@alice:hs", "avatar_url": null},
     "text": "Hi", "html": null, "created_at": "2017-07-14T02:40:00.123000Z",
     "edited_at": null, "deleted": false}
    {"record": "skipped", "page_id": "post1", "event_id": "$x", "reason": "redacted"}
    ...
    {"record": "end", "pages": 1, "failed_pages": 0, "comments": 2, "skipped": 1}

A page that failed during extraction has `"status": "failed"` and its error, and no comment
records; reading it back raises the same PageError, so the migration reports it failed too.

Reading repairs text the way the Matrix source does (content.clean_text): a lone surrogate,
which JSON can hold and UTF-8 cannot, becomes U+FFFD and NUL is dropped, in every string of
every record, so no target meets a UnicodeEncodeError. Each line is decoded on its own, so
bytes that are not UTF-8 are reported at their own line.
"""

from __future__ import annotations

from migrate.systems.archive.plugin import PLUGIN as SOURCE
from migrate.systems.archive.reader import ArchiveSource
from migrate.systems.archive.records import (
    FORMAT,
    VERSION,
    ArchiveError,
    archive_schema,
    comment_record,
    format_time,
    parse_time,
)
from migrate.systems.archive.writer import write_archive

__all__ = [
    "FORMAT",
    "SOURCE",
    "VERSION",
    "ArchiveError",
    "ArchiveSource",
    "archive_schema",
    "comment_record",
    "format_time",
    "parse_time",
    "write_archive",
]
