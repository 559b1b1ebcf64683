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

import dataclasses
import functools
import importlib.resources
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import jsonschema

from migrate.config import RunConfig, SectionConfig
from migrate.content import clean_text
from migrate.errors import SourceError
from migrate.model import Author, Comment, Page, PageComments, PageError, SkippedEvent, Source
from migrate.plugins import SourcePlugin
from utils.fileio import atomic_writer
from utils.schema_check import Check, SchemaCompiler

log = logging.getLogger(__name__)

FORMAT = "comment-migrate-archive"
VERSION = 1


class ArchiveError(SourceError):
    """The archive cannot be read: missing, not JSON, schema violation, truncated, too new."""


@functools.cache
def archive_schema() -> dict[str, Any]:
    text = (importlib.resources.files("migrate") / "schemas" / "archive.schema.json").read_text(
        encoding="utf-8"
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


RECORD_KINDS = ("header", "page", "comment", "skipped", "end")


@functools.cache
def _checks() -> dict[str, Check]:
    """One compiled check per record kind: the schema's allOf/if chain picks exactly the
    definition the `record` field names, so checking that one alone is the same test."""
    compiler = SchemaCompiler(archive_schema())
    return {kind: compiler.definition(kind) for kind in RECORD_KINDS}


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with a Z; microseconds only when there are some."""
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{value.microsecond:06d}Z" if value.microsecond else f"{text}Z"


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def comment_record(comment: Comment) -> dict[str, Any]:
    return {
        "record": "comment",
        "id": comment.id,
        "page_id": comment.page_id,
        "parent_id": comment.parent_id,
        "author": dataclasses.asdict(comment.author),
        "text": comment.text,
        "html": comment.html,
        "created_at": format_time(comment.created_at),
        "edited_at": format_time(comment.edited_at) if comment.edited_at else None,
        "deleted": comment.deleted,
    }


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
        "uri": page.uri,
        "title": page.title,
        "room_id": page.room_id,
        "alias": page.alias,
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
                        current.comments.append(_comment(record))
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
            raise self._error(line_no, "truncated: the archive has no end record")

    def _parse(self, line_no: int, line: str) -> dict[str, Any]:
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise self._error(line_no, f"not valid JSON ({exc.msg} at column {exc.colno})") from exc
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
            uri=record["uri"],
            title=record["title"],
            room_id=record["room_id"],
            alias=record["alias"],
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
        return {**self.source_identity, "archive": str(self.path)}

    def close(self) -> None:
        """Nothing to release: the archive was read whole when opened."""


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


def _comment(record: Mapping[str, Any]) -> Comment:
    author = record["author"]
    return Comment(
        id=record["id"],
        page_id=record["page_id"],
        parent_id=record["parent_id"],
        author=Author(author["name"], author["source_id"], author["avatar_url"]),
        text=record["text"],
        html=record["html"],
        created_at=parse_time(record["created_at"]),
        edited_at=parse_time(record["edited_at"]) if record["edited_at"] else None,
        deleted=record["deleted"],
    )


def _build(section: SectionConfig, run: RunConfig) -> ArchiveSource:
    path = section.path("path")
    assert path is not None  # the plugin's schema requires it
    return ArchiveSource(path)


PLUGIN = SourcePlugin(
    name="archive",
    build=_build,
    identity=lambda section: {"path": str(section.path("path"))},
    path_keys=("path",),
    schema={"required": ["path"], "properties": {"path": {"type": "string", "minLength": 1}}},
)
