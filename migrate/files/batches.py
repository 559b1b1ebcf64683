"""The page-atomic store read back: its batches, where each lies, and a torn tail cut off.

Each append to the store is one batch (a sequence number, its number of lines), so a reader
can tell a complete page from what a crash left half-written: only the last batch can be
incomplete, and it is cut off with a warning; anything invalid before it is an error naming
the file. The store is read a line at a time, never whole.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrate.errors import TargetError
from utils.fileio import open_nofollow, truncate_durably

log = logging.getLogger("comment_migrate.targets")

Record = dict[str, Any]
Decoder = Callable[[Mapping[str, Any]], tuple[int, int, Record, list[Record]]]


@dataclass
class Batch:
    """One committed append: a page's comments, as decoded from the store."""

    seq: int
    size: int  # lines this batch spans in the store
    page: Record
    comments: list[Record] = field(default_factory=list)
    lines: int = 0


def read_batches(
    store: Path, decode_line: Decoder, *, repair: bool = True
) -> Iterator[tuple[Batch, tuple[int, int]]]:
    """Every complete batch of the store with its (start, end) byte offsets; a torn tail is
    cut off the file once the rest has been read (`repair`), or only passed over (a reader
    writes nothing: the tail may be another process's append in progress)."""
    try:
        handle = os.fdopen(open_nofollow(store, os.O_RDONLY), "rb")
    except FileNotFoundError:
        return
    with handle:
        length = os.fstat(handle.fileno()).st_size
        good_end = 0  # byte offset just past the last complete batch
        offset = start = 0
        current: Batch | None = None
        broken: str | None = None
        broken_at = 0
        for raw_line in handle:
            line_start, offset = offset, offset + len(raw_line)
            if broken is not None:
                raise TargetError(
                    f"{store}: invalid line at byte {broken_at} ({broken}) "
                    "followed by more data; restore a backup or remove the damaged lines"
                )
            broken_at = line_start
            if not raw_line.endswith(b"\n"):
                broken = "no newline: a torn write"
                continue
            try:
                seq, size, page, comments = decode_line(json.loads(raw_line))
            except (ValueError, KeyError, TypeError) as exc:
                broken = f"{type(exc).__name__}: {exc}"
                continue
            if current is not None and current.seq != seq:
                broken = f"batch {current.seq} has {current.lines} of {current.size} lines"
                continue
            if current is None:
                current, start = Batch(seq, size, page), line_start
            current.comments.extend(comments)
            current.lines += 1
            if current.lines == current.size:
                yield current, (start, offset)
                current, good_end = None, offset
    if good_end < length and not repair:
        log.info(
            "%s: reading without its incomplete last %d bytes (being written, or torn)",
            store,
            length - good_end,
        )
    elif good_end < length:
        # only the tail can be torn: appends are serialized and each is one batch
        log.warning(
            "%s: dropping an incomplete last page (%d bytes) left by an interrupted write",
            store,
            length - good_end,
        )
        truncate_durably(store, good_end)
