"""Reading export files without holding them in memory: what the file sources share.

- `open_input`: plain or gzip-compressed, recognised by the first bytes (never by the name:
  Commento and Comentario name their gzip exports `.json`, Remark42 backups `.gz`).
- `json_items`: the items of one array of a JSON document, streamed by ijson (a C parser:
  one big `[...]` is never loaded whole).
- `json_lines`: a JSON Lines file, one line at a time.
- `PageSpool`: records grouped by page in an unlinked temporary file (private to this
  process), with an index of offsets in memory. A source reads the file once, spools each
  record under its page, and later reads back one page at a time: memory holds one page's
  records, not the site's, whatever order the export lists comments in.
"""

from __future__ import annotations

import gzip
import os
import tempfile
import threading
import zlib
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, cast

import ijson

from migrate.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"


def is_gzip(path: Path) -> bool:
    try:
        with Path(path).open("rb") as handle:
            return handle.read(2) == GZIP_MAGIC
    except OSError as exc:
        raise InputError(f"cannot open {path}: {exc.strerror or exc}") from exc


def empty_or_gzip(path: Path) -> bool:
    """An existing output a gzip target may add to: empty, or gzip (read without opening
    the target)."""
    with Path(path).open("rb") as handle:
        head = handle.read(2)
    return not head or head == GZIP_MAGIC


@contextmanager
def open_input(path: Path) -> Iterator[IO[bytes]]:
    """The file's bytes, decompressed when it is gzip; damage is an InputError naming it."""
    compressed = is_gzip(path)
    try:
        raw = Path(path).open("rb")  # noqa: SIM115 - closed by the `with` below
    except OSError as exc:
        raise InputError(f"cannot open {path}: {exc.strerror or exc}") from exc
    handle: IO[bytes] = cast(IO[bytes], gzip.GzipFile(fileobj=raw)) if compressed else raw
    try:
        with raw, handle:
            yield handle
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(f"{path}: the gzip data is damaged or cut short ({exc})") from exc


def first_byte(path: Path) -> bytes:
    """The first byte of the document after a BOM and whitespace (b"" for an empty file)."""
    with open_input(path) as handle:
        head = handle.read(4096)
        while head:
            stripped = head.removeprefix(_BOM).lstrip(_WHITESPACE)
            if stripped:
                return stripped[:1]
            head = handle.read(4096)
    return b""


def json_items(path: Path, prefix: str) -> Iterator[Any]:
    """Each item at `prefix` (ijson's notation: "item", "comments.item"), streamed."""
    with open_input(path) as handle:
        try:
            yield from ijson.items(handle, prefix, use_float=True)
        except ijson.JSONError as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{path}: not valid JSON ({detail})") from exc
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not UTF-8 ({exc.reason})") from exc


def json_value(path: Path, prefix: str) -> Any:
    """The first value at `prefix`, reading no further than it (None when there is none)."""
    for value in json_items(path, prefix):
        return value
    return None


def json_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of every line that is not blank."""
    with open_input(path) as handle:
        for number, line in enumerate(handle, start=1):
            if number == 1:
                line = line.removeprefix(_BOM)
            if line.strip():
                yield number, line


class PageSpool:
    """Records by page key, in a private temporary file: `add` while reading the export,
    `records(key)` when a page is migrated (thread-safe: workers read pages in parallel)."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - held until close()
        self._size = 0
        self._index: dict[str, array[int]] = {}  # key -> offset, length, offset, length...
        self._lock = threading.Lock()

    def add(self, key: str, record: bytes) -> None:
        with self._lock:
            self._file.write(record)
            self._index.setdefault(key, array("Q")).extend((self._size, len(record)))
            self._size += len(record)

    def page_keys(self) -> list[str]:
        """Page keys in the order their first record came."""
        return list(self._index)

    def count(self, key: str) -> int:
        return len(self._index.get(key, ())) // 2

    def records(self, key: str) -> Iterator[bytes]:
        with self._lock:
            self._file.flush()
            spans = self._index.get(key, array("Q"))
            fd = self._file.fileno()
            chunks = [os.pread(fd, spans[i + 1], spans[i]) for i in range(0, len(spans), 2)]
        yield from chunks

    def close(self) -> None:
        self._file.close()
