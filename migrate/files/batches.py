"""The page-atomic store's lines read back as batches (migrate/files/base.py).

Each append is one batch: a sequence number and its number of lines. Reading keeps the
batches whose every line is there, in order, and says where the last complete one ends, so
the store can tell a torn tail (a crash mid-append: only the last batch can be incomplete)
from damage before it (an error naming the file and the byte, never a silent reset).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrate.errors import TargetError

Record = dict[str, Any]
# one stored line -> (batch seq, batch size in lines, page, comments)
LineDecoder = Callable[[Mapping[str, Any]], tuple[int, int, Record, list[Record]]]


@dataclass
class Batch:
    """One committed append: a page's comments, as decoded from the store."""

    seq: int
    size: int  # lines this batch spans in the store
    page: Record
    comments: list[Record] = field(default_factory=list)
    lines: int = 0


def complete_batches(store: Path, data: bytes, decode: LineDecoder) -> tuple[list[Batch], int]:
    """The complete batches of `data` (the bytes of `store`), and the byte offset just past
    the last of them; what follows it is a torn tail. Raises TargetError when an invalid
    line is followed by more data."""
    batches: list[Batch] = []
    good_end = 0
    offset = 0
    current: Batch | None = None
    broken: str | None = None
    broken_at = 0
    for raw_line in data.splitlines(keepends=True):
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
            seq, size, page, comments = decode(json.loads(raw_line))
        except (ValueError, KeyError, TypeError) as exc:
            broken = f"{type(exc).__name__}: {exc}"
            continue
        if current is not None and current.seq != seq:
            broken = f"batch {current.seq} has {current.lines} of {current.size} lines"
            continue
        if current is None:
            current = Batch(seq, size, page)
        current.comments.extend(comments)
        current.lines += 1
        if current.lines == current.size:
            batches.append(current)
            current, good_end = None, offset
    return batches, good_end
