"""A whole third-party source in one file: comments kept in a CSV file.

Columns: page_url, id, parent_id, author, date (ISO 8601), text. Install a module like this
one with an entry point in the `comment_migrate.sources` group (`csv = "csv_comments:SOURCE"`)
and `[source] type = "csv"`, `path = "comments.csv"` reads it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from migrate.model import Author, Comment, Page, PageComments
from migrate.pages import default_key
from migrate.plugins import SourcePlugin


class CsvSource:
    system = "csv"  # the first half of every comment's idempotency key

    def __init__(self, path: Path) -> None:
        self.path = path

    def _rows(self) -> list[dict[str, str]]:
        with self.path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))

    def pages(self) -> Iterator[Page]:
        for url in dict.fromkeys(row["page_url"] for row in self._rows()):
            yield Page(id=url, key=default_key(url), url=url)

    def comments(self, page: Page) -> PageComments:
        rows = sorted(
            (row for row in self._rows() if row["page_url"] == page.id),
            key=lambda row: row["date"],
        )
        comments = [
            Comment(
                id=row["id"],
                page_id=page.id,
                parent_id=row["parent_id"] or None,
                author=Author(name=row["author"], source_id=row["author"]),
                text=row["text"],
                created_at=datetime.fromisoformat(row["date"]).astimezone(UTC),
            )
            for row in rows
        ]
        return PageComments(page, comments)

    def identity(self) -> dict[str, str]:
        return {"path": str(self.path.resolve())}

    def close(self) -> None:
        pass


SOURCE = SourcePlugin(
    name="csv",
    build=lambda section, run: CsvSource(section.path("path") or Path()),
    path_keys=("path",),
    schema={"required": ["path"], "properties": {"path": {"type": "string"}}},
)
