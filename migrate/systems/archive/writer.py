"""`write_archive`: every page of a source into one archive file, written atomically.

A page that raises PageError is recorded as failed and the others go on; anything else aborts
and leaves the file untouched. A line that cannot be UTF-8 (a lone surrogate) is written with
its non-ASCII characters escaped, still valid JSON.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from migrate.abilities import PageError, Source
from migrate.model import Page, PageComments
from migrate.systems.archive.records import FORMAT, VERSION, comment_record, format_time
from utils.fileio import atomic_writer

log = logging.getLogger(__name__)


def _page_record(
    page: Page,
    status: str,
    error: str | None = None,
    retryable: bool = False,
    result: PageComments | None = None,
) -> dict[str, Any]:
    return {
        "record": "page",
        "id": page.id,
        "uri": page.key,
        "title": page.title,
        "room_id": page.ref,  # (named for the first source; any source's own page address)
        "alias": None,
        "status": status,
        "error": error,
        "retryable": retryable,
        "comments": len(result.comments) if result else 0,
        "skipped": len(result.skipped) if result else 0,
        "orphans": list(result.orphans) if result else [],
    }


def _write_line(out: IO[str], record: Mapping[str, Any]) -> None:
    try:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    except UnicodeEncodeError:
        # a lone surrogate cannot be UTF-8: escape this one line instead (still valid JSON)
        out.write(json.dumps(record, ensure_ascii=True) + "\n")


def write_archive(
    path: Path,
    source: Source,
    pages: Iterable[Page] | None = None,
    on_page: Callable[[PageComments], None] | None = None,
) -> dict[str, Any]:
    """Extract `pages` (default: all of the source's) into an archive at `path`.

    A page that raises PageError is recorded as failed and the others go on; anything else
    aborts and leaves `path` untouched. Returns a summary: path, pages, comments, skipped,
    failed (a list of {page_id, error, retryable})."""
    path = Path(path)
    summary: dict[str, Any] = {
        "path": str(path),
        "pages": 0,
        "comments": 0,
        "skipped": 0,
        "failed": [],
    }
    with atomic_writer(path) as out:
        _write_line(
            out,
            {
                "record": "header",
                "format": FORMAT,
                "version": VERSION,
                "created_at": format_time(datetime.now(UTC)),
                "source": {"system": source.system, "identity": dict(source.identity())},
            },
        )
        for page in source.pages() if pages is None else pages:
            summary["pages"] += 1
            try:
                result = source.comments(page)
            except PageError as exc:
                log.warning("page %s failed: %s", page.id, exc.message)
                summary["failed"].append(
                    {"page_id": page.id, "error": exc.message, "retryable": exc.retryable}
                )
                _write_line(out, _page_record(page, "failed", exc.message, exc.retryable))
                continue
            _write_line(out, _page_record(result.page, "ok", result=result))
            for comment in result.comments:
                _write_line(out, comment_record(comment))
            for skipped in result.skipped:
                _write_line(out, {"record": "skipped", **dataclasses.asdict(skipped)})
            summary["comments"] += len(result.comments)
            summary["skipped"] += len(result.skipped)
            if on_page is not None:
                on_page(result)
        _write_line(
            out,
            {
                "record": "end",
                "pages": summary["pages"],
                "failed_pages": len(summary["failed"]),
                "comments": summary["comments"],
                "skipped": summary["skipped"],
            },
        )
    return summary
