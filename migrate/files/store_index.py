"""Where each committed page lies in a file target's store: its page record and the byte
spans of its batches. A page's comments are read back from the store when asked for, so a
target's memory holds its pages, not every comment it wrote (a run of a million comments
into JSONL)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

Record = dict[str, Any]
# one stored line -> (batch seq, batch size in lines, page, comments)
Decoder = Callable[[Mapping[str, Any]], tuple[int, int, Record, list[Record]]]


class StoreIndex:
    def __init__(self, store: Path, decode: Decoder) -> None:
        self.store = store
        self.decode = decode
        self.pages: dict[str, Record] = {}  # page id -> its latest record, in commit order
        self.spans: dict[str, list[tuple[int, int]]] = {}

    def add(self, page: Record, start: int, end: int) -> None:
        page_id = str(page["id"])
        self.pages[page_id] = page
        self.spans.setdefault(page_id, []).append((start, end))

    def clear(self) -> None:
        self.pages.clear()
        self.spans.clear()

    def comments(self, page_id: str) -> list[Record]:
        """The page's committed comments, in commit order, read from the store."""
        spans = self.spans.get(page_id)
        if not spans:
            return []
        comments: list[Record] = []
        with self.store.open("rb") as handle:
            for start, end in spans:
                handle.seek(start)
                for line in handle.read(end - start).splitlines():
                    comments.extend(self.decode(json.loads(line))[3])
        return comments

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.pages))
