"""Reading an XML export (plain or gzip, migrate.files.reading) as a stream of records,
with no DTD.

XML safety: an export (Disqus, WordPress) has no DTD, and a DTD is where entities are
declared (billion laughs, quadratic blow-up, external entities that read local files). A
file whose prolog holds a `<!DOCTYPE` is refused before the parser sees it; expat's own limit
on entity amplification stays as a second guard, and an undeclared entity is a parse error.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO
from xml.etree.ElementTree import Element, ParseError, TreeBuilder, XMLParser, XMLPullParser

from migrate.errors import InputError
from migrate.files.reading import open_input

_ELEMENT_START = re.compile(r"<[A-Za-z_:]")
PROLOG_LIMIT = 64 * 1024  # an export's XML declaration and comments fit many times over


def refuse_dtd(path: Path) -> None:
    """Raise InputError when the file declares a DTD (see the module docstring)."""
    try:
        with open_input(path) as handle:
            head = handle.read(PROLOG_LIMIT)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", errors="replace")
    else:
        text = head.decode("latin-1")  # markup is ASCII in every ASCII-compatible encoding
    found = _ELEMENT_START.search(text)
    first_element = found.start() if found else -1
    prolog = text if found is None else text[:first_element]
    if "<!DOCTYPE" in prolog or "<!ENTITY" in prolog:
        raise InputError(
            f"{path}: the file declares a DTD (<!DOCTYPE ...>), which exports never do; it is "
            "refused unread, since a DTD's entities can expand without bound or read local "
            "files. Remove the DOCTYPE declaration if the file is genuine."
        )
    if first_element < 0 and len(head) >= PROLOG_LIMIT:
        raise InputError(f"{path}: no XML element in the first {PROLOG_LIMIT} bytes")


READ_SIZE = 16 * 1024  # what iterparse reads at a time: the events of a read stay few


def iter_records(path: Path, depth: int, tags: frozenset[str]) -> Iterator[Element]:
    """The records of an export: elements named `tags` that are children of the element at
    `depth - 1` (the root is 1), each complete when yielded and dropped from the tree once
    the caller asks for the next, so memory holds a few records, whatever the file's size.

    A record is told from an element of the same name nested in one by having children:
    what nests is a bare reference (a Disqus post's `<thread dsq:id="7"/>`), and a record
    with no children holds nothing to read. Raises InputError for a file that is not
    well-formed XML or declares a DTD."""
    refuse_dtd(path)
    with open_input(path) as handle:
        try:
            yield from _records(handle, depth, tags)
        except ParseError as exc:
            line, column = exc.position
            raise InputError(
                f"{path}: not well-formed XML at line {line}, column {column + 1}: {exc}"
            ) from None
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc}") from None


class _Events:
    """The parser's events of one read, as XMLPullParser gets them but iterated in place.

    XMLPullParser hands events out one at a time through a Python generator, which costs as
    much as the rest of a record's reading; its parser appends them to a deque this class
    reads directly. `_setevents` is how XMLPullParser itself asks its parser for events
    (CPython since 3.4); where it is missing, XMLPullParser serves, slower but the same."""

    in_place = True  # False: through XMLPullParser even where `_setevents` is there (tests)

    def __init__(self) -> None:
        # S314: the prolog was checked (refuse_dtd) and expat's amplification limit stands
        # behind it; defusedxml would force the pure-Python parser
        self.parser = XMLParser(target=TreeBuilder())  # noqa: S314
        self.queue: deque[tuple[str, Element]] = deque()
        self.choose: Callable[[deque[tuple[str, Element]], tuple[str, ...]], None] | None
        self.choose = getattr(self.parser, "_setevents", None) if self.in_place else None
        self.pull: XMLPullParser[Element] | None = None
        if self.choose is None:
            self.pull = XMLPullParser(events=("start", "end"))
        self.report(("start", "end"))

    def report(self, events: tuple[str, ...]) -> None:
        """From now on, these events (XMLPullParser keeps its first choice)."""
        if self.choose is not None:
            self.choose(self.queue, events)

    def feed(self, chunk: bytes) -> Iterable[tuple[str, Element]]:
        """The events the chunk completes (valid until the next feed)."""
        if self.pull is not None:
            self.pull.feed(chunk)
            return list(self.pull.read_events())  # type: ignore[arg-type]
        self.queue.clear()
        self.parser.feed(chunk)
        return self.queue

    def close(self) -> None:
        (self.parser if self.pull is None else self.pull).close()


def _records(handle: IO[bytes], depth: int, tags: frozenset[str]) -> Iterator[Element]:
    # start and end events until the records' parent is open (it is what is cleared behind
    # each record); from the next read on, end events alone: half as many
    events = _Events()
    holder: Element | None = None
    level = 0
    ends_only = False
    read = handle.read
    while chunk := read(READ_SIZE):
        for event, elem in events.feed(chunk):
            if holder is None:
                if event == "start":
                    level += 1
                    if level == depth - 1:
                        holder = elem
                else:
                    level -= 1
            elif event == "end" and elem.tag in tags and len(elem):
                yield elem
                holder.clear()  # this record and the siblings before it
        if holder is not None and not ends_only:
            ends_only = True
            events.report(("end",))
    events.close()
