"""A checkpoint's source id -> target id mappings, left on disk and read one page at a time.

A million mappings held as Python strings take about 300 MB; what a page needs is its own.
So memory holds, per page, only *where* its mappings are: its group's line in the snapshot
(offset, length) and the journal records written since (offsets, lengths), read back with
pread and checked again when the page is asked for. A look-up by source id alone goes through
`SourceIndex` (8 bytes a mapping: a hash of the source id and the page's number), which names
the page or pages that may hold it; the page then answers. The last pages read are cached.

A state built without files (records applied by hand) keeps its groups and records inline.
"""

from __future__ import annotations

import json
import os
from array import array
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

from utils.checkpoint.errors import CheckpointError, SemanticError
from utils.checkpoint.formats import JSONDoc, decode_line
from utils.errors import ToolError
from utils.fileio import open_nofollow

PageMap = dict[str, tuple[str, str | None]]  # source id -> (target id, revision)
Place = tuple[int, int]  # offset, length in a file
CACHED_PAGES = 64
_PAGE_BITS = 22  # page numbers below 4,194,304; the rest of 63 bits is the hash
_PAGE_MASK = (1 << _PAGE_BITS) - 1
_HASH_MASK = (1 << (63 - _PAGE_BITS)) - 1
_BUCKETS = 1 << 16  # a million mappings: about 15 a bucket
_FILTER_BITS = 25
_FILTER_MASK = (1 << _FILTER_BITS) - 1


class SourceIndex:
    """Source id -> the numbers of the pages that may hold it (a hash may collide: the page
    read then tells): the hash and the page's number packed in one int, 8 bytes a mapping,
    in arrays chosen by the hash's low bits (appended to, never sorted or merged)."""

    def __init__(self) -> None:
        self._buckets: list[array[int] | None] = [None] * _BUCKETS
        # one bit per hash (its bits above the bucket's): most look-ups are of source ids
        # never mapped (every new comment, several times), and a clear bit answers them
        # without a walk through the bucket (4 MB, made on the first add: a state that is
        # replaced or stays empty costs none; at a million mappings 3% walk in vain)
        self._bits: bytearray | None = None

    @staticmethod
    def _key(source_id: str) -> int:
        return hash(source_id) & _HASH_MASK

    def add(self, source_id: str, page_no: int) -> None:
        key = self._key(source_id)
        bit = (key >> 16) & _FILTER_MASK
        if self._bits is None:
            self._bits = bytearray(1 << (_FILTER_BITS - 3))
        self._bits[bit >> 3] |= 1 << (bit & 7)
        bucket = self._buckets[key & (_BUCKETS - 1)]
        if bucket is None:
            bucket = self._buckets[key & (_BUCKETS - 1)] = array("q")
        bucket.append(key << _PAGE_BITS | page_no)

    def may_hold(self, source_id: str) -> bool:
        """False: `source_id` was never added. Safe without the state's lock: a bit is only
        ever set, so a False can only be as old as the call (like any look-up's answer)."""
        bits = self._bits
        if bits is None:
            return False
        bit = (self._key(source_id) >> 16) & _FILTER_MASK
        return bool(bits[bit >> 3] & (1 << (bit & 7)))

    def pages(self, source_id: str) -> list[int]:
        key = self._key(source_id)
        bit = (key >> 16) & _FILTER_MASK
        bits = self._bits
        if bits is None or not bits[bit >> 3] & (1 << (bit & 7)):
            return []
        bucket = self._buckets[key & (_BUCKETS - 1)]
        found: list[int] = []
        for entry in bucket or ():
            if entry >> _PAGE_BITS == key and entry & _PAGE_MASK not in found:
                found.append(entry & _PAGE_MASK)
        return found


class Places:
    """Where one page's mappings are: a snapshot group, then journal records, in order."""

    __slots__ = ("group", "inline", "records")

    def __init__(self) -> None:
        self.group: Place | JSONDoc | None = None
        self.records = array("q")  # offset, length, offset, length, ...
        self.inline: list[JSONDoc] = []  # records applied without a file (built by hand)


class MappingTable:
    """Every page's mappings, on disk; see the module's docstring."""

    def __init__(self) -> None:
        self.snapshot: Path | None = None
        self.journal: Path | None = None
        self.count = 0
        self.reads = 0  # pages read from disk (or inline), for tests and benchmarks
        self._places: dict[str | None, Places] = {}
        self._numbers: dict[str | None, int] = {}
        self._page_ids: list[str | None] = []  # by number
        self._index = SourceIndex()
        self._cache: OrderedDict[str | None, PageMap] = OrderedDict()
        self._fds: dict[str, int] = {}

    # -- files

    def attach(self, snapshot: Path | None, journal: Path | None) -> None:
        self.snapshot, self.journal = snapshot, journal
        if snapshot is not None and self._places:
            self._fd("snapshot")  # opened now: a later compaction leaves us this version

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def __del__(self) -> None:  # a read-only state (status, validate) is simply dropped
        self.close()

    def _fd(self, which: str) -> int:
        fd = self._fds.get(which)
        if fd is None:
            path = self.snapshot if which == "snapshot" else self.journal
            if path is None:
                raise CheckpointError(f"no {which} file to read mappings from")
            try:
                fd = self._fds[which] = open_nofollow(path, os.O_RDONLY)
            except (OSError, ToolError) as exc:
                raise CheckpointError(f"{path}: cannot read mappings: {exc}", path=path) from None
        return fd

    def _read(self, which: str, place: Place) -> bytes:
        offset, length = place
        data = os.pread(self._fd(which), length, offset)
        if len(data) != length:
            path = self.snapshot if which == "snapshot" else self.journal
            raise CheckpointError(
                f"{path}: ends before byte {offset + length}: it was changed by another "
                "program while the migration used it",
                path=path,
            )
        return data

    # -- building

    def _places_of(self, page_id: str | None) -> Places:
        places = self._places.get(page_id)
        if places is None:
            places = self._places[page_id] = Places()
            self._numbers[page_id] = len(self._page_ids)
            self._page_ids.append(page_id)
        return places

    def add_group(self, group: JSONDoc, place: Place | None) -> None:
        """A snapshot's mapping group (checked against the schema), at `place` in the file
        (None: kept inline)."""
        page_id, sources, targets = group["page_id"], group["source_ids"], group["target_ids"]
        revisions = group.get("revisions")
        uneven = revisions is not None and len(revisions) != len(sources)
        if len(targets) != len(sources) or uneven:
            raise SemanticError(
                f"{len(sources)} source ids but {len(targets)} target ids"
                + ("" if revisions is None else f" and {len(revisions)} revisions")
            )
        if page_id in self._places:
            raise SemanticError(f"page {page_id!r} has a second mapping group")
        seen: set[str] = set()
        for position, source in enumerate(sources):
            if source in seen or self.find(source) is not None:
                raise SemanticError(
                    f"source comment {source!r} is mapped twice", ["source_ids", position]
                )
            seen.add(source)
        places = self._places_of(page_id)
        places.group = group if place is None else place
        number = self._numbers[page_id]
        for source in sources:
            self._index.add(source, number)
        self.count += len(sources)

    def apply(self, record: JSONDoc, place: Place | None) -> list[str]:
        """Apply a map, map_page, unmap or revision record (checked against the schema) at
        `place` in the journal; the source ids it newly maps."""
        kind = record["kind"]
        if kind in ("unmap", "revision"):
            found = self.find(record["source_id"])
            if found is None:
                if kind == "unmap":
                    return []
                raise SemanticError(f"source comment {record['source_id']!r} is not mapped")
            page_id = found[0]
            pairs: list[tuple[str, str, str | None]] = []
        elif kind == "map":
            page_id = record["page_id"]
            pairs = [(record["source_id"], record["target_id"], record.get("revision"))]
        else:
            page_id = record["page_id"]
            revisions = record.get("revisions") or [None] * len(record["source_ids"])
            if not len(record["source_ids"]) == len(record["target_ids"]) == len(revisions):
                raise SemanticError("source_ids, target_ids and revisions differ in length")
            pairs = list(zip(record["source_ids"], record["target_ids"], revisions, strict=True))
        added: dict[str, None] = {}  # in order
        for source, target, _ in pairs:
            existing = self.find(source)
            if existing is not None and existing[1] != target:
                raise SemanticError(
                    f"source comment {source!r} mapped to {target!r} but already to {existing[1]!r}"
                )
            if existing is None:
                added[source] = None
        if not added and kind in ("map", "map_page"):
            return []  # the same mappings again: nothing new to find later
        places = self._places_of(page_id)
        if place is None:
            places.inline.append(record)
        else:
            places.records.extend(place)
        number = self._numbers[page_id]
        for source in added:
            self._index.add(source, number)
        cached = self._cache.get(page_id)
        if cached is not None:
            _apply_to(cached, record)
        if kind == "unmap":
            self.count -= 1
        self.count += len(added)
        return list(added)

    # -- queries

    def may_hold(self, source_id: str) -> bool:
        """False when `source_id` is surely not mapped (no lock needed: see SourceIndex)."""
        return self._index.may_hold(source_id)

    def find(self, source_id: str) -> tuple[str | None, str, str | None] | None:
        """(page id, target id, revision) of a mapped source id, or None."""
        for number in self._index.pages(source_id):
            page_id = self._page_ids[number]
            entry = self.page(page_id).get(source_id)
            if entry is not None:
                return page_id, entry[0], entry[1]
        return None

    def page(self, page_id: str | None) -> PageMap:
        """The page's mappings (a cached dict: do not change it)."""
        cached = self._cache.get(page_id)
        if cached is not None:
            self._cache.move_to_end(page_id)
            return cached
        mappings = self.read(page_id)
        self._cache[page_id] = mappings
        if len(self._cache) > CACHED_PAGES:
            self._cache.popitem(last=False)
        return mappings

    def read(self, page_id: str | None) -> PageMap:
        """The page's mappings, read from disk (not cached)."""
        places = self._places.get(page_id)
        mappings: PageMap = {}
        if places is None:
            return mappings
        self.reads += 1
        group = places.group
        if isinstance(group, tuple):
            group = json.loads(self._read("snapshot", group))
        if group:
            revisions = group.get("revisions") or [None] * len(group["source_ids"])
            for source, target, revision in zip(
                group["source_ids"], group["target_ids"], revisions, strict=True
            ):
                mappings[source] = (target, revision)
        records = places.records
        for at in range(0, len(records), 2):
            raw = self._read("journal", (records[at], records[at + 1]))
            record = decode_line(raw.rstrip(b"\n"))
            if not isinstance(record, dict):
                raise CheckpointError(
                    f"{self.journal}: the record at byte {records[at]} was changed since it "
                    "was written (its checksum does not match)",
                    path=self.journal,
                )
            _apply_to(mappings, record)
        for record in places.inline:
            _apply_to(mappings, record)
        return mappings

    def groups(self) -> Iterator[JSONDoc]:
        """Every page's mapping group, one page read at a time, without caching."""
        for page_id in list(self._places):
            group = self._group(page_id)
            if group is not None:
                yield group

    def stored_groups(self) -> Iterator[tuple[str | None, bytes | JSONDoc]]:
        """Every page's group for a new snapshot: a snapshot line nothing changed since as
        it is (it was checked when read), else built anew from the page's mappings."""
        for page_id, places in list(self._places.items()):
            if isinstance(places.group, tuple) and not places.records and not places.inline:
                yield page_id, self._read("snapshot", places.group)
            else:
                group = self._group(page_id)
                if group is not None:
                    yield page_id, group

    def _group(self, page_id: str | None) -> JSONDoc | None:
        mappings = self._cache.get(page_id) or self.read(page_id)
        if not mappings:
            return None
        group: JSONDoc = {
            "page_id": page_id,
            "source_ids": list(mappings),
            "target_ids": [target for target, _ in mappings.values()],
        }
        revisions = [revision for _, revision in mappings.values()]
        if any(revisions):
            group["revisions"] = revisions
        return group

    def rebased(self, places: dict[str | None, Place]) -> None:
        """A compaction wrote every group anew at `places` in the new snapshot and emptied
        the journal: the old places are gone."""
        for page_id, where in self._places.items():
            where.group = places.get(page_id)
            where.records = array("q")
            where.inline = []
        self.close()
        if self.snapshot is not None:
            self._fd("snapshot")


def _apply_to(mappings: PageMap, record: JSONDoc) -> None:
    kind = record["kind"]
    if kind == "map":
        mappings[record["source_id"]] = (record["target_id"], record.get("revision"))
    elif kind == "map_page":
        revisions = record.get("revisions") or [None] * len(record["source_ids"])
        for source, target, revision in zip(
            record["source_ids"], record["target_ids"], revisions, strict=True
        ):
            mappings[source] = (target, revision)
    elif kind == "unmap":
        mappings.pop(record["source_id"], None)
    elif kind == "revision" and record["source_id"] in mappings:
        mappings[record["source_id"]] = (mappings[record["source_id"]][0], record["revision"])
