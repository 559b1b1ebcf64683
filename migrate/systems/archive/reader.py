"""`ArchiveSource`: an archive read back as a source, one page at a time.

Opening reads the whole file once: every line must be UTF-8, the blocks must nest (comments
and skipped events inside their page's block, no records in a failed page) and the counts of
the page and end records must match what the archive holds, so a hand-edited archive cannot
lose comments quietly. Every record but a comment is checked against its kind's schema then;
a comment line as the archive writer lays it out (its id and page first) is checked when its
page is read, so that a million comments are neither parsed twice nor held in memory, and a
rerun whose pages are all complete never parses one. Memory holds where each page's block
is. Text is repaired as the Matrix source repairs it (content.clean_text). A comment archived
without HTML (archives written before plain comments got an HTML form) gets one from its
text, by the one text->HTML rule (content.plain_to_html), so HTML targets never receive a
comment with nothing to show.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
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
# a comment line as write_archive lays it out: its page is known without parsing the line
_CHARS = rb'[^"\\]*(?:\\.[^"\\]*)*'  # a JSON string's characters, unrolled (fast)
_COMMENT_HEAD = re.compile(
    rb'\{"record": "comment", "id": "%s", "page_id": "(%s)", ' % (_CHARS, _CHARS)
)


@dataclasses.dataclass
class _ArchivedPage:
    page: Page
    error: str | None
    retryable: bool
    orphans: list[str]
    line_no: int
    expected: tuple[int, int]  # (comments, skipped) as the page record announces them
    head: bytes = b""  # the page id as a comment line of the writer holds it
    start: int = 0  # byte offset of the page's first record after its page record
    end: int = 0  # byte offset after its last record
    comments: int = 0
    skipped: int = 0


class ArchiveSource:
    """Reads an archive back; the whole file is validated when it is opened."""

    local_only = True  # a file on this machine (migrate.abilities.LocalOnly)

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.system = ""
        self.source_identity: dict[str, str] = {}
        self.created_at: datetime | None = None
        self._pages: dict[str, _ArchivedPage] = {}
        self._stamp: tuple[int, int] = (0, 0)  # size and mtime when opened
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
        line_no = offset = 0
        with handle:
            stat = os.fstat(handle.fileno())
            self._stamp = (stat.st_size, stat.st_mtime_ns)
            for line_no, raw in enumerate(handle, start=1):
                offset += len(raw)
                if ended:
                    raise self._error(line_no, "data after the end record")
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise self._error(
                        line_no, f"not UTF-8 ({exc.reason} at byte {exc.start + 1} of the line)"
                    ) from exc
                head = _COMMENT_HEAD.match(raw)
                if head and current is not None and head.group(1) == current.head:
                    if current.error is not None:
                        raise self._error(line_no, "comment record in a failed page")
                    current.comments += 1  # checked when its page is read
                    current.end = offset
                    counts["comments"] += 1
                    continue
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
                    current.start = current.end = offset
                    counts["failed_pages"] += current.error is not None
                elif kind in ("comment", "skipped"):
                    if current is None or record["page_id"] != current.page.id:
                        raise self._error(line_no, f"{kind} record outside its page's block")
                    if current.error is not None:
                        raise self._error(line_no, f"{kind} record in a failed page")
                    if kind == "comment":
                        current.comments += 1
                        counts["comments"] += 1
                    else:
                        current.skipped += 1
                        counts["skipped"] += 1
                    current.end = offset
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
            head=json.dumps(page.id, ensure_ascii=False)[1:-1].encode("utf-8", "surrogatepass"),
        )
        self._pages[page.id] = archived
        return archived

    def _check_end(
        self, line_no: int, record: Mapping[str, Any], counts: Mapping[str, int]
    ) -> None:
        # per page first: a hand-edited archive must not lose one page's comments quietly
        for archived in self._pages.values():
            held = (archived.comments, archived.skipped)
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
        comments: list[Comment] = []
        skipped: list[SkippedEvent] = []
        line_no = archived.line_no
        for raw in self._block(archived).split(b"\n")[:-1]:
            line_no += 1
            record = self._parse(line_no, raw.decode("utf-8"))
            if record.get("page_id") != page.id or record["record"] not in ("comment", "skipped"):
                raise self._error(line_no, f"{record['record']} record outside its page's block")
            if record["record"] == "comment":
                comments.append(record_comment(_with_html(record)))
            else:
                skipped.append(SkippedEvent(record["event_id"], page.id, record["reason"]))
        return PageComments(
            page=archived.page, comments=comments, skipped=skipped, orphans=list(archived.orphans)
        )

    def _block(self, archived: _ArchivedPage) -> bytes:
        """The page's comment and skipped lines, as they were when the archive was opened."""
        try:
            with self.path.open("rb") as handle:
                stat = os.fstat(handle.fileno())
                if (stat.st_size, stat.st_mtime_ns) != self._stamp:
                    raise ArchiveError(
                        f"{self.path}: changed since it was opened; run again to read it anew"
                    )
                handle.seek(archived.start)
                return handle.read(archived.end - archived.start)
        except OSError as exc:
            raise ArchiveError(f"cannot read archive {self.path}: {exc.strerror or exc}") from exc

    def identity(self) -> dict[str, str]:
        return {**self.source_identity, "archive": str(self.path.resolve())}

    def close(self) -> None:
        """Nothing to release: each page's block is read with a file of its own."""


def _with_html(record: dict[str, Any]) -> dict[str, Any]:
    """Every comment record with an HTML form (filled in before its Comment is made): an
    archive may hold none (older writers, or a source that had only text); HTML targets
    take `html` as it is."""
    if record["html"] is None:
        record["html"] = plain_to_html(record["text"])
    return record


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
