"""`ArchiveSource`: an archive read back as a source, validated whole when it is opened.

Every line is checked against its record kind's schema; the blocks must nest (comments and
skipped events inside their page's block, no records in a failed page) and the counts of the
page and end records must match what the archive holds, so a hand-edited archive cannot lose
comments quietly. Text is repaired as the Matrix source repairs it (content.clean_text).
A comment archived without HTML (archives written before plain comments got an HTML form)
gets one from its text, by the one text->HTML rule (content.plain_to_html), so HTML targets
never receive a comment with nothing to show.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema

from migrate.abilities import PageError
from migrate.content import clean_text, plain_to_html
from migrate.model import Comment, Page, PageComments, SkippedEvent
from migrate.systems.archive.records import (
    FORMAT,
    VERSION,
    ArchiveError,
    _checks,
    archive_schema,
    parse_time,
    record_comment,
)

AGAIN = "it was cut short (run `comment-migrate extract` again to write it whole)"


@dataclasses.dataclass
class _ArchivedPage:
    page: Page
    error: str | None
    retryable: bool
    orphans: list[str]
    line_no: int
    expected: tuple[int, int]  # (comments, skipped) as the page record announces them
    comments: list[Comment] = dataclasses.field(default_factory=list)
    skipped: list[SkippedEvent] = dataclasses.field(default_factory=list)


class ArchiveSource:
    """Reads an archive back; the whole file is validated when it is opened."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.system = ""
        self.source_identity: dict[str, str] = {}
        self.created_at: datetime | None = None
        self._pages: dict[str, _ArchivedPage] = {}
        self._load()

    def __repr__(self) -> str:
        return f"ArchiveSource({str(self.path)!r})"

    def _error(self, line_no: int, message: str) -> ArchiveError:
        return ArchiveError(f"{self.path}:{line_no}: {message}")

    def _load(self) -> None:
        if self.path.is_dir():
            raise ArchiveError(
                f"{self.path} is a folder, not an archive: set [source] path to the file "
                "`comment-migrate extract` wrote"
            )
        try:
            handle = self.path.open("rb")
        except OSError as exc:
            raise ArchiveError(f"cannot open archive {self.path}: {exc.strerror or exc}") from exc
        counts = {"comments": 0, "skipped": 0, "failed_pages": 0}
        current: _ArchivedPage | None = None
        ended = False
        line_no = 0
        with handle:
            for line_no, raw in enumerate(handle, start=1):
                if ended:
                    raise self._error(line_no, "data after the end record")
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise self._error(
                        line_no, f"not UTF-8 ({exc.reason} at byte {exc.start + 1} of the line)"
                    ) from exc
                record = self._parse(line_no, line)
                kind = record["record"]
                if line_no == 1 and kind != "header":
                    raise self._error(1, "the first line must be the archive header")
                if kind == "header":
                    if line_no != 1:
                        raise self._error(line_no, "a second header")
                    self.system = record["source"]["system"]
                    self.source_identity = dict(record["source"]["identity"])
                    self.created_at = parse_time(record["created_at"])
                elif kind == "page":
                    current = self._page(line_no, record)
                    counts["failed_pages"] += current.error is not None
                elif kind in ("comment", "skipped"):
                    if current is None or record["page_id"] != current.page.id:
                        raise self._error(line_no, f"{kind} record outside its page's block")
                    if current.error is not None:
                        raise self._error(line_no, f"{kind} record in a failed page")
                    if kind == "comment":
                        current.comments.append(_with_html(record_comment(record)))
                        counts["comments"] += 1
                    else:
                        current.skipped.append(
                            SkippedEvent(record["event_id"], record["page_id"], record["reason"])
                        )
                        counts["skipped"] += 1
                else:
                    self._check_end(line_no, record, counts)
                    ended = True
        if line_no == 0:
            raise ArchiveError(f"{self.path}: empty file, not an archive")
        if not ended:
            raise self._error(line_no, f"truncated: the archive has no end record; {AGAIN}")

    def _parse(self, line_no: int, line: str) -> dict[str, Any]:
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            # a last line cut short is a copy or a write that stopped: the whole file is suspect
            cut = "" if line.endswith("\n") else f"; the file ends mid-line: {AGAIN}"
            raise self._error(
                line_no, f"not valid JSON ({exc.msg}, column {exc.colno}){cut}"
            ) from exc
        if (
            isinstance(record, dict)
            and record.get("record") == "header"
            and isinstance(record.get("version"), int)
            and record["version"] > VERSION
        ):
            raise self._error(
                line_no,
                f"archive version {record['version']} is newer than this "
                f"tool understands ({VERSION}); upgrade comment-migrate",
            )
        if (
            isinstance(record, dict)
            and record.get("record") == "header"
            and record.get("format") not in (None, FORMAT)
        ):
            raise self._error(line_no, f"not a {FORMAT} file (format {record.get('format')!r})")
        kind = record.get("record") if isinstance(record, dict) else None
        check = _checks().get(kind) if isinstance(kind, str) else None
        if check is None or not check(record):
            message, path = self._explain(record)
            where = "/".join(str(p) for p in path) or "record"
            raise self._error(line_no, f"schema violation at {where}: {message}")
        result: dict[str, Any] = _repaired(record) if "\\u" in line else record
        return result

    @staticmethod
    def _explain(record: Any) -> tuple[str, list[str | int]]:
        """Why a record fails: jsonschema over the whole schema (slow, so only on failure)."""
        error = jsonschema.exceptions.best_match(
            jsonschema.Draft202012Validator(archive_schema()).iter_errors(record)
        )
        if error is None:  # the compiled check and jsonschema disagree: trust the stricter
            return "does not match the schema", []
        return error.message, list(error.absolute_path)

    def _page(self, line_no: int, record: Mapping[str, Any]) -> _ArchivedPage:
        if record["id"] in self._pages:
            raise self._error(line_no, f"page {record['id']!r} appears twice")
        failed = record["status"] == "failed"
        if failed and not record["error"]:
            raise self._error(line_no, "a failed page without its error")
        page = Page(
            id=record["id"],
            key=record["uri"],
            title=record["title"],
            ref=record["room_id"],
        )
        archived = _ArchivedPage(
            page,
            record["error"] if failed else None,
            record["retryable"],
            list(record["orphans"]),
            line_no,
            (record["comments"], record["skipped"]),
        )
        self._pages[page.id] = archived
        return archived

    def _check_end(
        self, line_no: int, record: Mapping[str, Any], counts: Mapping[str, int]
    ) -> None:
        # per page first: a hand-edited archive must not lose one page's comments quietly
        for archived in self._pages.values():
            held = (len(archived.comments), len(archived.skipped))
            if held != archived.expected:
                raise self._error(
                    archived.line_no,
                    f"page {archived.page.id!r} says {archived.expected[0]} "
                    f"comments and {archived.expected[1]} skipped events, the archive holds "
                    f"{held[0]} and {held[1]}",
                )
        expected = {"pages": len(self._pages), **counts}
        for key, value in expected.items():
            if record[key] != value:
                raise self._error(
                    line_no, f"end record says {record[key]} {key}, the archive holds {value}"
                )

    def pages(self) -> Iterator[Page]:
        for archived in self._pages.values():
            yield archived.page

    def comments(self, page: Page) -> PageComments:
        archived = self._pages.get(page.id)
        if archived is None:
            raise PageError(f"page {page.id!r} is not in the archive {self.path}")
        if archived.error is not None:
            raise PageError(archived.error, retryable=archived.retryable)
        return PageComments(
            page=archived.page,
            comments=list(archived.comments),
            skipped=list(archived.skipped),
            orphans=list(archived.orphans),
        )

    def identity(self) -> dict[str, str]:
        return {**self.source_identity, "archive": str(self.path.resolve())}

    def close(self) -> None:
        """Nothing to release: the archive was read whole when opened."""


def _with_html(comment: Comment) -> Comment:
    """Every comment with an HTML form: an archive may hold none (older writers, or a
    source that had only text); HTML targets take `html` as it is."""
    if comment.html is not None:
        return comment
    return dataclasses.replace(comment, html=plain_to_html(comment.text))


def _repaired(value: Any) -> Any:
    """Every string of a record through clean_text (only lines with a \\u escape can hold a
    lone surrogate or a NUL: raw ones are not valid JSON or not valid UTF-8)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {key: _repaired(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_repaired(item) for item in value]
    return value
