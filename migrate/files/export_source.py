"""What the sources of export files share: one read of the file, pages from the page-key
rule, and one rule for threads and states.

A source reads its file once (`index`, streaming), spilling each record under its page's
key (migrate.pages); `comments(page)` reads one page's records back and turns each into a
Comment or a SkippedEvent (`convert`, per system), and the page is settled by the one rule
of every source (migrate.threads.assemble_page): a reply whose parent is not in the export
(or was left out) becomes top level and is listed as an orphan; a parent cycle is refused
(the page fails, the ids named); a deleted comment stays only as the tombstone of a comment
with replies. An id given twice is kept once. Spam and trash never migrate; `pending` stays
pending (the target keeps it waiting or the run skips it, with the reason).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from migrate.abilities import PageError, Source
from migrate.config import RunConfig, SectionConfig
from migrate.content import clean_text, plain_to_html
from migrate.files.reading import RecordSpill
from migrate.model import DELETED_TEXT, Comment, Page, PageComments, SkippedEvent
from migrate.pages import default_key
from migrate.plugins import SourcePlugin
from migrate.threads import assemble_page

log = logging.getLogger("comment_migrate.sources")

Record = Mapping[str, Any]


class Skip(Exception):  # a record's verdict, not a failure of the run
    """`convert` leaves this record out, for `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _PageInfo:
    url: str | None
    title: str | None


def page_key(address: str) -> str:
    """The target's key of a page the export names by URL or path (the one rule)."""
    return default_key(address)


class ExportSource:
    """Base of the export-file sources; subclasses set `system` and implement `index`
    (yield (page address, page title, record) for every comment record, streaming) and
    `convert` (a record into a Comment, or raise Skip)."""

    system: str
    local_only = True  # an export file on this machine (migrate.abilities.LocalOnly)
    # the fields `convert` reads; the rest is not spilled (None: the whole record)
    fields: frozenset[str] | None = None

    def __init__(self, path: Path, *, keep_ip: bool = False) -> None:
        self.path = Path(path)
        self.keep_ip = keep_ip
        self._spill: RecordSpill | None = None
        self._reading = threading.Lock()  # workers may ask for pages before the file is read
        self._pages: dict[str, _PageInfo] = {}
        self.unplaced = 0  # records the export gives no page for (logged, never migrated)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    # -- per system -----------------------------------------------------------------------

    def index(self) -> Iterator[tuple[str | None, str | None, Record]]:
        raise NotImplementedError

    def convert(self, record: Record, page: Page) -> Comment:
        raise NotImplementedError

    def record_id(self, record: Record) -> str:
        return text(record.get("id")) or "?"

    # -- the Source protocol ------------------------------------------------------------

    def _read(self) -> RecordSpill:
        with self._reading:
            return self._spill or self._index_file()

    def _index_file(self) -> RecordSpill:
        """Read the export once, spilling each record under its page's key."""
        spill = RecordSpill(self.system, self.path)
        keys: dict[str, str] = {}  # address -> page key: a page's address repeats
        pages, fields, add = self._pages, self.fields, spill.add
        try:
            for number, (address, title, record) in enumerate(self.index(), start=1):
                if not address:
                    self._unplaced(number, record)
                    continue
                key = keys.get(address)
                if key is None:
                    if not address.strip():
                        self._unplaced(number, record)
                        continue
                    key = keys[address] = page_key(address)
                info = pages.get(key)
                if info is None:
                    info = pages[key] = _PageInfo(None, None)
                if info.url is None and address.startswith(("http://", "https://")):
                    info.url = address
                if info.title is None and title:
                    info.title = clean_text(title)
                if fields is not None:  # only what `convert` reads is spilled
                    record = {k: record[k] for k in fields if k in record}
                add(key, record)
        except BaseException:
            spill.close()
            raise
        spill.finish()
        self._spill = spill
        return spill

    def _unplaced(self, number: int, record: Record) -> None:
        self.unplaced += 1
        log.warning(
            "%s: record %d (id %s) names no page; left out",
            self.path,
            number,
            self.record_id(record),
        )

    def pages(self) -> Iterator[Page]:
        spill = self._read()
        for key in spill.groups():
            info = self._pages[key]
            yield Page(id=key, key=key, title=info.title, url=info.url)

    def comments(self, page: Page) -> PageComments:
        spill = self._read()
        if page.id not in self._pages:
            raise PageError(f"page {page.id!r} is not in {self.path}")
        comments: list[Comment] = []
        skipped: list[SkippedEvent] = []
        for record in spill.records(page.id):
            try:
                comments.append(self.convert(record, page))
            except Skip as skip:
                skipped.append(SkippedEvent(self.record_id(record), page.id, skip.reason))
        return assemble(page, comments, skipped)

    def identity(self) -> dict[str, str]:
        return {"path": str(self.path.resolve())}

    def close(self) -> None:
        if self._spill is not None:
            self._spill.close()
            self._spill = None


def assemble(page: Page, comments: list[Comment], skipped: list[SkippedEvent]) -> PageComments:
    """The page by the one rule (migrate.threads.assemble_page), once an id given twice is
    kept once and each deleted comment reads as a tombstone."""
    by_id: dict[str, Comment] = {}
    for comment in comments:
        if comment.id in by_id:
            skipped.append(SkippedEvent(comment.id, page.id, "the same id appears twice"))
        elif comment.deleted:
            by_id[comment.id] = replace(
                comment, text=DELETED_TEXT, html=plain_to_html(DELETED_TEXT), likes=0
            )
        else:
            by_id[comment.id] = comment
    return assemble_page(page, list(by_id.values()), skipped)


# -- field readers the systems share -----------------------------------------------------


def text(value: object) -> str:
    """A field as text: strings repaired, numbers as written, anything else empty."""
    if isinstance(value, str):
        # only a lone surrogate or a NUL needs repair, and neither is ASCII-printable
        return value if value.isascii() and "\x00" not in value else clean_text(value)
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return ""


def flag(value: object) -> bool:
    """A boolean the way exports write them: true, "true", "1", 1."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return value is True or (isinstance(value, int | float) and value == 1)


def count(value: object) -> int:
    try:
        return max(int(float(text(value) or 0)), 0)
    except ValueError:
        return 0


def optional(value: object, *placeholders: str) -> str | None:
    """A text field, None when empty or one of the export's placeholders ("undefined")."""
    result = text(value).strip()
    return None if not result or result in placeholders else result


def web_link(value: object) -> str | None:
    result = optional(value, "undefined")
    return result if result and result.lower().startswith(("http://", "https://")) else None


def email(value: object) -> str | None:
    """An email address; placeholders under the reserved `.invalid` domain are none."""
    result = optional(value)
    if result is None or "@" not in result or result.lower().endswith(".invalid"):
        return None
    return result


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def moment(value: object, *, zone: tzinfo = UTC) -> datetime:
    """A time as exports write it (RFC 3339 with any fraction, "2006-01-02 15:04:05 -0700",
    epoch milliseconds), in UTC to the second; a time without a zone is in `zone`."""
    if isinstance(value, Mapping) and "$date" in value:  # MongoDB extended JSON
        return moment(value["$date"], zone=zone)
    if isinstance(value, Mapping) and "$numberLong" in value:
        return moment(value["$numberLong"], zone=zone)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (_EPOCH + timedelta(milliseconds=value)).replace(microsecond=0)
    raw = text(value).strip()
    if raw.isdigit():
        return moment(int(raw), zone=zone)
    if not raw:
        raise Skip("no creation time")
    parsed = _parse_time(raw)
    if parsed is None:
        raise Skip(f"unreadable time {raw[:40]!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC).replace(microsecond=0)


def _parse_time(raw: str) -> datetime | None:
    candidate = raw.replace("Z", "+00:00").replace("z", "+00:00")
    if " " in candidate and candidate.rsplit(" ", 1)[1][:1] in "+-":
        candidate = "".join(candidate.rsplit(" ", 1))  # "2006-01-02 15:04:05 -0700"
    head, dot, rest = candidate.partition(".")
    if dot:  # Go writes up to nine digits of fraction; Python reads six
        digits = len(rest) - len(rest.lstrip("0123456789"))
        candidate = head + "." + rest[: min(digits, 6)].ljust(6, "0") + rest[digits:]
    try:
        return datetime.fromisoformat(candidate)
    except ValueError:
        return None


def export_plugin(
    name: str,
    build: Callable[[Path, SectionConfig], Source],
    example: str,
    **properties: Mapping[str, Any],
) -> SourcePlugin:
    """The plugin of an export source: `path` (the file, plain or gzip) and its own keys;
    `build(path, section)` opens it."""

    def _build(section: SectionConfig, run: RunConfig) -> Source:
        path = section.path("path")
        assert path is not None  # the schema requires it
        return build(path, section)

    path_schema = {
        "type": "string",
        "minLength": 1,
        "examples": [example],
        "description": f"the {name} export, plain or gzip",
    }
    return SourcePlugin(
        name=name,
        build=_build,
        path_keys=("path",),
        schema={"required": ["path"], "properties": {"path": path_schema, **properties}},
    )


def export_source_plugin(
    name: str,
    cls: type[ExportSource],
    keys: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    example: str,
) -> SourcePlugin:
    """The plugin of an ExportSource: `path`, `keep_ip`, and the system's own `keys`
    (passed to the source as keyword arguments)."""
    own = dict(keys or {})

    def build(path: Path, section: SectionConfig) -> ExportSource:
        options = {key: section.get(key) for key in own if section.get(key) is not None}
        return cls(path, keep_ip=bool(section.get("keep_ip", False)), **options)

    return export_plugin(name, build, example, keep_ip={"type": "boolean"}, **own)
