"""File targets derived from the page-atomic store: the store (`<output>.pages.jsonl`) is the
record, and the file an importer reads (WXR, Disqus XML) is rebuilt whole from it, atomically,
so it only ever holds whole pages. Each field is written for the system that will import the
file (`importer`): see migrate/files/formats.py.
"""

from __future__ import annotations

import gzip
import io
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Self

from migrate.config import SectionConfig
from migrate.errors import TargetError
from migrate.files.base import PageAtomicFileTarget, require_file
from migrate.files.formats import (
    IMPORTERS,
    Importer,
    importer,
    page_link,
    strip_unwritable,
    web_url,
    writable_page,
)
from migrate.files.records import Record, dumps, rfc3339
from migrate.model import Capabilities, OutgoingComment
from migrate.plugins import TargetPlugin
from utils.fileio import atomic_binary_writer, atomic_writer

DEFAULT_IMPORTER = "isso"


def reader_of(name: str) -> Importer:
    try:
        return importer(name)
    except ValueError as exc:
        raise TargetError(str(exc)) from None


class DerivedFileTarget(PageAtomicFileTarget):
    """A file rebuilt whole from the page-atomic sidecar `<output>.pages.jsonl` (WXR, Disqus).

    Subclasses set `name`, `capabilities`, `default_importer` and write the file in
    `write_file`; the fields are written for the system named by `importer`."""

    name: str
    example_suffix = ".xml"  # the output `init` suggests: comments<suffix>
    default_importer = DEFAULT_IMPORTER
    compressed = False  # the file is gzip (Commento's and Remark42's importers read gzip)
    # the format has fields for the author's email and website, the state, likes, edits
    detailed = False
    capabilities = Capabilities(
        max_depth=None,
        keeps_timestamps=True,
        idempotency="none",
        can_delete=True,
        content="html",
        page_atomic=True,
    )

    def __init__(
        self,
        output: Path,
        *,
        site_url: str = "",
        rebuild_interval: float = 2.0,
        importer: str | None = None,
        allow_images: bool = False,
        file_mode: int | None = None,
        read_only: bool = False,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.output = Path(output)
        self.settings = dict(settings or {})  # the format's own keys (site names)
        if file_mode is not None:
            self.file_mode = file_mode
        self.site_url = site_url.rstrip("/")
        self.reader = reader_of(importer or self.default_importer)
        self.allow_images = allow_images
        self.rebuild_interval = rebuild_interval
        self._last_rebuild = float("-inf")  # the first page is written at once
        self._stale = False  # the file lags behind the sidecar
        require_file(self.output)
        sidecar = self.output.with_name(self.output.name + ".pages.jsonl")
        if self.output.exists() and not sidecar.exists():
            raise TargetError(
                f"{self.output} exists but has no {sidecar.name} beside it, so it was not "
                "written by comment-migrate: move it away or choose another output"
            )
        super().__init__(sidecar, read_only=read_only)
        stale = sidecar.exists() and (
            not self.output.exists()
            or self.output.stat().st_mtime_ns <= sidecar.stat().st_mtime_ns  # coarse clocks tie
        )
        if stale and not read_only:
            self._rebuild()

    def sibling(self, output: Path) -> Self:
        """The same target with the same settings, writing to `output` (sync's delta)."""
        return type(self)(
            output,
            site_url=self.site_url,
            rebuild_interval=self.rebuild_interval,
            importer=self.reader.name,
            allow_images=self.allow_images,
            read_only=self.read_only,
            settings=self.settings,
        )

    @staticmethod
    def recognizes(path: Path) -> bool:
        """An existing file this target may add to: empty, or XML (without opening it)."""
        with path.open("rb") as handle:
            head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        return not head or head.startswith((b"<?xml", b"<rss", b"<disqus"))

    @property
    def sidecar(self) -> Path:
        return self.store

    def identity(self) -> Mapping[str, str]:
        return {"output": str(self.output.resolve())}

    def refusal(self, outgoing: OutgoingComment) -> str | None:
        _, problem = page_link(self.site_url, outgoing.page.key)
        return problem or super().refusal(outgoing)

    def record(self, outgoing: OutgoingComment) -> Record:
        record = super().record(outgoing)
        if self.detailed:
            record.update(comment_details(outgoing))
        return record

    def encode_batch(self, seq: int, page: Record, comments: Sequence[Record]) -> list[str]:
        return [dumps({"batch": seq, "page": writable_page(page), "comments": list(comments)})]

    def decode_line(self, obj: Mapping[str, Any]) -> tuple[int, int, Record, list[Record]]:
        comments = [dict(c) for c in obj["comments"]]
        for comment in comments:
            str(comment["id"])  # a comment without an id is damage
        return int(obj["batch"]), 1, dict(obj["page"]), comments

    def after_change(self, *, force: bool) -> None:
        # `force` (on close) writes only what changed: a reader (verify) never rewrites the file
        if not force:
            self._stale = True
        due = time.monotonic() - self._last_rebuild >= self.rebuild_interval
        if self._stale and (force or due):
            self._rebuild()

    def write_file(self, handle: IO[str]) -> None:
        raise NotImplementedError

    def _rebuild(self) -> None:
        with self._lock:
            if self.compressed:
                # mtime 0: the same pages give the same bytes
                with (
                    atomic_binary_writer(self.output, mode=self.file_mode) as raw,
                    gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed,
                    io.TextIOWrapper(packed, encoding="utf-8", newline="\n") as text,
                ):
                    self.write_file(text)
            else:
                with atomic_writer(self.output, mode=self.file_mode) as handle:
                    self.write_file(handle)
        self._last_rebuild = time.monotonic()
        self._stale = False


def comment_details(outgoing: OutgoingComment) -> Record:
    """What a detailed format keeps beside the common record (see `detailed`): email and
    website (http(s) only), the IP when the source was told to keep it, state, likes, edit."""
    source = outgoing.source
    author = source.author
    details: Record = {
        "email": strip_unwritable(author.email)[0] if author.email else None,
        "url": web_url(author.url),
    }
    if author.ip:
        details["ip"] = strip_unwritable(author.ip)[0]
    return {
        "author_details": details,
        "status": source.status,
        "likes": source.likes,
        "edited_at": rfc3339(source.edited_at) if source.edited_at else None,
    }


def _output(section: SectionConfig) -> Path:
    path = section.path("output")
    assert path is not None  # the plugin's schema requires it
    return path


FILE_MODE_SCHEMA = {
    "file_mode": {
        "type": "string",
        "pattern": "^0?[0-7]{3}$",
        "examples": ["0644"],
        "description": "files are 0600 unless you ask otherwise",
    }
}


def file_mode(section: SectionConfig) -> int | None:
    """`file_mode = "0644"` when the files must be readable by others (an importer running
    as another user); 0600 otherwise."""
    value = section.get("file_mode")
    return None if value is None else int(str(value), 8)


def derived_file_plugin(cls: type[DerivedFileTarget]) -> TargetPlugin:
    """The plugin of a derived file target: `output`, `importer` and `allow_images` keys."""

    def build(section: SectionConfig, *, read_only: bool = False) -> DerivedFileTarget:
        return cls(
            _output(section),
            site_url=section.text("site_url"),
            importer=section.get("importer"),
            allow_images=bool(section.get("allow_images", False)),
            file_mode=file_mode(section),
            read_only=read_only,
        )

    keys: dict[str, dict[str, Any]] = {
        "importer": {
            "enum": sorted(IMPORTERS),
            "examples": [cls.default_importer],
            "description": "who imports the file",
        },
        "allow_images": {
            "type": "boolean",
            "examples": [False],
            "description": "importer isso: true when Isso allows <img>",
        },
    }
    return _file_plugin(cls, build, keys)


def export_file_plugin(
    cls: type[DerivedFileTarget],
    keys: Mapping[str, Mapping[str, Any]],
    *,
    required: tuple[str, ...] = (),
) -> TargetPlugin:
    """The plugin of a file one comment system imports (Commento, Remark42, Artalk): its
    content form is the importer's, so no `importer` key; `keys` are the format's own
    settings (strings), passed to the target as `settings`."""

    def build(section: SectionConfig, *, read_only: bool = False) -> DerivedFileTarget:
        settings = {key: section.text(key) for key in keys if section.get(key) is not None}
        return cls(
            _output(section),
            site_url=section.text("site_url"),
            file_mode=file_mode(section),
            settings=settings,
            read_only=read_only,
        )

    return _file_plugin(cls, build, keys, required)


def _file_plugin(
    cls: type[DerivedFileTarget],
    build: Callable[..., DerivedFileTarget],
    keys: Mapping[str, Mapping[str, Any]],
    required: tuple[str, ...] = (),
) -> TargetPlugin:
    return TargetPlugin(
        name=cls.name,
        build=lambda section, run: build(section),
        read=lambda section, run: build(section, read_only=True),
        capabilities=lambda section: cls.capabilities,
        identity=lambda section: {"output": str(_output(section).resolve())},
        output=lambda section: str(_output(section)),
        recognizes=cls.recognizes,
        path_keys=("output",),
        schema={
            "required": ["output", *required],
            "properties": {
                "output": {
                    "type": "string",
                    "minLength": 1,
                    "examples": [f"comments{cls.example_suffix}"],
                },
                **keys,
                **FILE_MODE_SCHEMA,
            },
        },
    )
