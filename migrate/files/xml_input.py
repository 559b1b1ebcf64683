"""Reading an export file: plain or gzip (told apart by content), XML parsed as a stream with
no DTD, and records spilled to a private temp file so a page can be served without the rest.

XML safety: an export (Disqus, WordPress) has no DTD, and a DTD is where entities are
declared (billion laughs, quadratic blow-up, external entities that read local files). A
file whose prolog holds a `<!DOCTYPE` is refused before the parser sees it; expat's own limit
on entity amplification stays as a second guard, and an undeclared entity is a parse error.
"""

from __future__ import annotations

import gzip
import marshal
import os
import re
import shutil
import tempfile
import threading
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast
from xml.etree.ElementTree import Element, ParseError, iterparse

from migrate.errors import ExitStatus, SourceError

GZIP_MAGIC = b"\x1f\x8b"
_ELEMENT_START = re.compile(r"<[A-Za-z_:]")
PROLOG_LIMIT = 64 * 1024  # an export's XML declaration and comments fit many times over


class InputFileError(SourceError):
    """The user's export file cannot be read: missing, not XML, unsafe (exit 2)."""

    exit_status = ExitStatus.USAGE


def open_input(path: Path) -> BinaryIO:
    """`path` opened for reading, decompressed when its first bytes are gzip's."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputFileError(f"{path}: cannot open: {exc.strerror or exc}") from None
    if handle.read(2) == GZIP_MAGIC:
        handle.seek(0)
        return cast(BinaryIO, gzip.GzipFile(fileobj=handle, mode="rb"))
    handle.seek(0)
    return handle


def refuse_dtd(path: Path) -> None:
    """Raise InputFileError when the file declares a DTD (see the module docstring)."""
    try:
        with open_input(path) as handle:
            head = handle.read(PROLOG_LIMIT)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputFileError(f"{path}: cannot read: {exc}") from None
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", errors="replace")
    else:
        text = head.decode("latin-1")  # markup is ASCII in every ASCII-compatible encoding
    found = _ELEMENT_START.search(text)
    first_element = found.start() if found else -1
    prolog = text if found is None else text[:first_element]
    if "<!DOCTYPE" in prolog or "<!ENTITY" in prolog:
        raise InputFileError(
            f"{path}: the file declares a DTD (<!DOCTYPE ...>), which exports never do; it is "
            "refused unread, since a DTD's entities can expand without bound or read local "
            "files. Remove the DOCTYPE declaration if the file is genuine."
        )
    if first_element < 0 and len(head) >= PROLOG_LIMIT:
        raise InputFileError(f"{path}: no XML element in the first {PROLOG_LIMIT} bytes")


def iter_records(path: Path, depth: int, tags: frozenset[str]) -> Iterator[Element]:
    """The elements named `tags` at `depth` (the root is 1), each complete when yielded and
    dropped from the tree once the caller asks for the next: memory holds one record.
    Raises InputFileError for a file that is not well-formed XML or declares a DTD."""
    refuse_dtd(path)
    level = 0
    holder: Element | None = None
    with open_input(path) as handle:
        try:
            # S314: the prolog was checked above (refuse_dtd), and expat's amplification
            # limit stands behind it; defusedxml would force the pure-Python parser
            for event, elem in iterparse(handle, events=("start", "end")):  # noqa: S314
                if event == "start":
                    level += 1
                    if level == depth - 1:
                        holder = elem
                    continue
                if level == depth and elem.tag in tags:
                    yield elem
                    if holder is not None:
                        holder.clear()  # this record and its siblings before it
                level -= 1
        except ParseError as exc:
            line, column = exc.position
            raise InputFileError(
                f"{path}: not well-formed XML at line {line}, column {column + 1}: {exc}"
            ) from None
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise InputFileError(f"{path}: cannot read: {exc}") from None


class RecordSpill:
    """Records (tuples of plain values) kept on disk by group, read back a group at a time.

    One private temp file (in a 0700 folder, removed by `close`) and an index of offsets per
    group in memory: 16 bytes a record. marshal is safe here: the file is this process's own,
    written and read back by the same Python. Reads are positional (os.pread), so threads may
    read groups at once."""

    def __init__(self, label: str) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix=f"comment-migrate-{label}-"))
        self._file = (self.folder / "records.bin").open("w+b")
        self._end = 0
        self._index: dict[str, array[int]] = {}
        self._lock = threading.Lock()

    def add(self, group: str, record: tuple[Any, ...]) -> None:
        data = marshal.dumps(record)
        self._file.write(data)
        offsets = self._index.get(group)
        if offsets is None:
            offsets = self._index[group] = array("q")
        offsets.append(self._end)
        offsets.append(len(data))
        self._end += len(data)

    def finish(self) -> None:
        """Every record is added: make them readable."""
        self._file.flush()

    def groups(self) -> list[str]:
        return list(self._index)

    def count(self, group: str) -> int:
        return len(self._index.get(group, ())) // 2

    def records(self, group: str) -> list[tuple[Any, ...]]:
        offsets = self._index.get(group)
        if offsets is None:
            return []
        fd = self._file.fileno()
        return [
            marshal.loads(os.pread(fd, offsets[i + 1], offsets[i]))  # noqa: S302 (our own file)
            for i in range(0, len(offsets), 2)
        ]

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()
            shutil.rmtree(self.folder, ignore_errors=True)
