"""Reading export files without holding them in memory: what the file sources share.

- `open_input`: plain or gzip-compressed, recognised by the first bytes (never by the name:
  Commento and Comentario name their gzip exports `.json`, Remark42 backups `.gz`).
- `json_items`: the items of one array of a JSON document, streamed by ijson (a C parser:
  one big `[...]` is never loaded whole).
- `json_lines`: a JSON Lines file, one line at a time.
- `RecordSpill`: records grouped by page in a private temporary file, with an index of their
  places in memory. A source reads the file once, spills each record under its page, and
  later reads back one page at a time: memory holds one page's records, not the site's,
  whatever order the export lists comments in.
"""

from __future__ import annotations

import gzip
import marshal
import os
import tempfile
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


# a record's place in the spill, packed in one 64-bit word: its offset, then its length
LENGTH_BITS = 28
RECORD_LIMIT = 1 << LENGTH_BITS  # 256 MiB, far above any comment an export holds


class RecordSpill:
    """Records (plain values: text, numbers, None, and tuples, lists and dicts of them) kept
    on disk by group, read back a group at a time.

    One temporary file, unlinked from the start (nothing is left behind, even when the
    process is killed; no other process can open it), and an index of places per group in
    memory: 8 bytes a record. marshal is safe here: the file is this process's own, written
    and read back by the same Python. Reads are positional (os.pread), so threads may read
    groups at once."""

    limit = RECORD_LIMIT

    def __init__(self, label: str, origin: Path | None = None) -> None:
        self.origin = origin or Path(label)  # the file the records come from, for errors
        self._file = tempfile.TemporaryFile(prefix=f"comment-migrate-{label}-")  # noqa: SIM115
        self._end = 0
        self._index: dict[str, array[int]] = {}

    def add(self, group: str, record: Any) -> None:
        data = marshal.dumps(record)
        size = len(data)
        if size >= self.limit:
            raise InputError(
                f"{self.origin}: a record of {size} bytes (on page {group!r}) is larger than "
                f"the {self.limit} bytes this reader holds"
            )
        self._file.write(data)
        places = self._index.get(group)
        if places is None:
            places = self._index[group] = array("Q")
        places.append(self._end << LENGTH_BITS | size)
        self._end += size

    def finish(self) -> None:
        """Every record is added: make them readable."""
        self._file.flush()

    def groups(self) -> list[str]:
        return list(self._index)

    def count(self, group: str) -> int:
        return len(self._index.get(group, ()))

    def records(self, group: str) -> list[Any]:
        fd, mask = self._file.fileno(), RECORD_LIMIT - 1
        return [
            marshal.loads(os.pread(fd, place & mask, place >> LENGTH_BITS))  # noqa: S302 (ours)
            for place in self._index.get(group, ())
        ]

    def close(self) -> None:
        self._file.close()  # a second close is a no-op
