"""The snapshot file: one JSON document, sealed by a checksum, replaced whole by compaction.

Layout: one top-level member per line, and one page, mapping group, skip or media file per
line, so that an error can name a line and a diff stays readable. The last member is
`"checksum": "<crc32>"`: the CRC-32 (zlib, 8 lowercase hex digits) of every byte before that
member's key. Written through a temp file, fsync, os.replace and an fsync of the folder.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import threading
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from utils.checkpoint.errors import CheckpointError, SemanticError, corrupt
from utils.checkpoint.formats import (
    SCHEMA_VERSION,
    JSONDoc,
    checkers,
    dumps,
    explain_parts,
    format_path,
    group_check,
)
from utils.checkpoint.mappings import Place
from utils.checkpoint.state import CheckpointState
from utils.checkpoint.upgrade import LEGACY_KEYS, UPGRADES
from utils.errors import ToolError
from utils.fileio import atomic_binary_writer, open_nofollow, read_bytes
from utils.schema_check import is_integer

CHECKSUM_KEY = b'"checksum"'
_CHECKSUM_VALUE = re.compile(rb'"checksum"\s*:\s*"([^"]*)"')
_ENTRY_PER_LINE = frozenset({"pages", "metadata", "skipped", "media"})


def checksum(covered: bytes) -> str:
    return f"{zlib.crc32(covered):08x}"


def reseal_snapshot_bytes(data: bytes) -> bytes:
    """The same snapshot with its checksum recomputed (for tests and deliberate hand edits)."""
    position = data.rfind(CHECKSUM_KEY)
    if position < 0:
        raise ValueError("no checksum member to recompute")
    value = _CHECKSUM_VALUE.match(data, position)
    if value is None:
        raise ValueError("the checksum member is malformed")
    return data[: value.start(1)] + checksum(data[:position]).encode() + data[value.end(1) :]


def write_snapshot(
    file: Path, doc: JSONDoc, groups: Iterable[tuple[str | None, bytes | JSONDoc]] = ()
) -> dict[str | None, Place]:
    """Write `doc` (without its checksum) durably, sealed with the checksum, its mapping
    groups followed by `groups` ((page id, group), each checked as it goes by, or its line
    of a snapshot as it was read); where each group's line is."""
    crc = 0
    offset = 0
    places: dict[str | None, Place] = {}
    every = itertools.chain(((group["page_id"], group) for group in doc["mappings"]), groups)
    with atomic_binary_writer(file) as out:
        for chunk, page_id in _lines(doc, every):
            data = chunk if isinstance(chunk, bytes) else chunk.encode("utf-8")
            if page_id is not _NOT_A_GROUP:
                places[page_id] = (offset, len(data))
            crc = zlib.crc32(data, crc)
            out.write(data)
            offset += len(data)
        out.write(f'"checksum": "{crc:08x}"\n}}\n'.encode())
    return places


_NOT_A_GROUP: Any = object()


Piece = tuple[str | bytes, Any]  # text, and the page of the group it is (or _NOT_A_GROUP)


def _lines(doc: JSONDoc, groups: Iterable[tuple[str | None, bytes | JSONDoc]]) -> Iterator[Piece]:
    """The snapshot's text in pieces, one top-level member a line, one entry a line."""
    yield "{\n", _NOT_A_GROUP
    for key, value in doc.items():
        yield json.dumps(key) + ": ", _NOT_A_GROUP
        if key in _ENTRY_PER_LINE:
            entries = ([(f"  {dumps(k)}: {dumps(v)}", _NOT_A_GROUP)] for k, v in value.items())
            yield from _wrapped("{", "}", entries)
        elif key == "mappings":
            yield from _wrapped("[", "]", _group_lines(groups))
        elif key == "syncs":
            yield from _wrapped("[", "]", ([(f"  {dumps(item)}", _NOT_A_GROUP)] for item in value))
        else:
            yield dumps(value), _NOT_A_GROUP
        yield ",\n", _NOT_A_GROUP


def _group_lines(groups: Iterable[tuple[str | None, bytes | JSONDoc]]) -> Iterator[list[Piece]]:
    check = group_check()
    for page_id, group in groups:
        if isinstance(group, bytes):
            yield [("  ", _NOT_A_GROUP), (group, page_id)]
            continue
        if not check(group):
            raise CheckpointError(f"refusing to write an invalid mapping group: page {page_id!r}")
        yield [("  ", _NOT_A_GROUP), (dumps(group), page_id)]


def _wrapped(opening: str, closing: str, entries: Iterable[Sequence[Piece]]) -> Iterator[Piece]:
    yield opening + "\n", _NOT_A_GROUP
    first = True
    for entry in entries:
        if not first:
            yield ",\n", _NOT_A_GROUP
        yield from entry
        first = False
    yield ("\n" if not first else "") + closing, _NOT_A_GROUP


def read_snapshot(
    file: Path, checkpoint: Path, state: CheckpointState | None = None
) -> tuple[CheckpointState | None, int | None]:
    """The snapshot's state and its stored version; (None, None) when there is no snapshot."""
    lock = state.lock if state is not None else None
    by_lines = _read_by_lines(file, lock)
    if by_lines is not None:
        return by_lines, SCHEMA_VERSION
    try:
        data = read_bytes(file)
    except FileNotFoundError:
        return None, None
    except ToolError as exc:
        raise CheckpointError(exc.message, path=file) from None
    except OSError as exc:
        raise CheckpointError(f"{file}: cannot read the checkpoint: {exc.strerror}",
                              path=file) from exc  # fmt: skip
    if not data.strip():
        raise corrupt(file, "the snapshot is empty (it is always written whole, so something "
                      "else truncated it)", checkpoint=checkpoint, line=1)  # fmt: skip
    sealed = _verify_checksum(data, file, checkpoint)
    try:
        # decoded first, bytes freed before parsing (matters at a million mappings)
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise corrupt(file, f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                      checkpoint=checkpoint, line=None) from None  # fmt: skip
    del data
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise corrupt(
            file,
            f"not valid JSON ({exc.msg} at column {exc.colno}); the file is "
            "truncated or was edited",
            checkpoint=checkpoint,
            line=exc.lineno,
        ) from None
    del text
    if not isinstance(doc, dict):
        raise corrupt(file, "not a JSON object", checkpoint=checkpoint, line=1)
    version = _stored_version(doc, file, checkpoint)
    if version > SCHEMA_VERSION:
        line = _locate(file, ["version"])
        raise CheckpointError(
            f"{file}, line {line}: checkpoint format version {version} is newer than this "
            f"comment-migrate understands (up to {SCHEMA_VERSION}). Upgrade comment-migrate to "
            "resume this migration; do not edit or delete the file.",
            path=file,
            line=line,
        )
    if version >= 2 and not sealed:
        raise corrupt(file, "no checksum (a version-2 or later snapshot ends with one): the file "
                      "was damaged or edited", checkpoint=checkpoint, line=None)  # fmt: skip
    for step in range(version, SCHEMA_VERSION):
        upgrade = UPGRADES.get(step)
        if upgrade is None:
            raise CheckpointError(f"{file}: no upgrade from checkpoint version {step}", path=file)
        try:
            doc = upgrade(doc)
        except SemanticError as exc:
            raise corrupt(
                file,
                f"cannot upgrade from version {step}: {exc.message}",
                checkpoint=checkpoint,
                line=_locate(file, exc.json_path),
            ) from None

    # a line number refers to the file as stored, which an upgraded document no longer is
    def locate(json_path: list[str | int]) -> int | None:
        return _locate(file, json_path) if version == SCHEMA_VERSION else None

    snapshot_ok, _, _ = checkers()
    if not snapshot_ok(doc):
        message, where = explain_parts(doc, "snapshot")
        raise corrupt(file, f"schema violation at {format_path(where)}: {message}",
                      checkpoint=checkpoint, line=locate(where))  # fmt: skip
    try:
        return CheckpointState(lock).load_document(doc), version
    except SemanticError as exc:
        raise corrupt(
            file,
            f"{exc.message} (at {format_path(exc.json_path)})",
            checkpoint=checkpoint,
            line=locate(exc.json_path),
        ) from None


def _read_by_lines(file: Path, lock: threading.RLock | None) -> CheckpointState | None:
    """A current snapshot laid out as write_snapshot writes it, read a line at a time: each
    mapping group is checked and indexed where it lies in the file, not kept in memory.
    None for anything else (missing, older, damaged, laid out otherwise): the reader of the
    whole document then upgrades it or says what is wrong and where."""
    state = CheckpointState(lock)
    state.mappings.attach(file, None)  # two source ids may share a hash: a page is read then
    check = group_check()
    shell: list[bytes] = []
    crc = offset = index = 0
    in_groups = False
    try:
        handle = os.fdopen(open_nofollow(file, os.O_RDONLY), "rb")
    except (OSError, ToolError):  # missing, or a link: the whole-document reader says so
        return None
    with handle:
        for line in handle:
            if line.startswith(CHECKSUM_KEY):
                shell += [line, handle.read()]
                break
            crc = zlib.crc32(line, crc)
            if in_groups and not line.startswith(b"]"):
                body = line.rstrip(b"\n").removesuffix(b",")
                try:
                    group = json.loads(body)
                except ValueError:
                    return None
                if not body.startswith(b"  {") or not check(group):
                    return None
                try:
                    state.add_group(group, (offset + 2, len(body) - 2), index)
                except SemanticError:
                    return None
                index += 1
            else:
                in_groups = line == b'"mappings": [\n'
                shell.append(line)
            offset += len(line)
    sealed = _CHECKSUM_VALUE.match(shell[-2]) if len(shell) > 1 else None
    if sealed is None or sealed.group(1) != checksum_of(crc).encode():
        return None
    try:
        doc = json.loads(b"".join(shell))
    except ValueError:
        return None
    snapshot_ok, _, _ = checkers()
    if not isinstance(doc, dict) or doc.get("version") != SCHEMA_VERSION:
        return None
    del doc["checksum"]
    if not snapshot_ok(doc):
        return None
    try:
        state.load_document(doc)
    except SemanticError:
        return None
    return state


def checksum_of(crc: int) -> str:
    return f"{crc:08x}"


def _verify_checksum(data: bytes, file: Path, checkpoint: Path) -> bool:
    """True when the snapshot carries a checksum and it matches; an error when it does not."""
    position = data.rfind(CHECKSUM_KEY)
    if position < 0:
        return False
    value = _CHECKSUM_VALUE.match(data, position)
    expected = checksum(data[:position])
    if value is None or value.group(1) != expected.encode():
        line = data.count(b"\n", 0, position) + 1
        raise corrupt(file, "checksum mismatch: the snapshot was damaged or edited since it "
                      "was written", checkpoint=checkpoint, line=line)  # fmt: skip
    return True


def _stored_version(doc: JSONDoc, file: Path, checkpoint: Path) -> int:
    if "version" not in doc:
        if LEGACY_KEYS & doc.keys():
            return 0
        raise corrupt(file, "no `version` field: this is not a comment-migrate checkpoint",
                      checkpoint=checkpoint, line=1)  # fmt: skip
    version: Any = doc["version"]
    if not is_integer(version) or version < 0:
        raise corrupt(file, f"`version` must be a whole number, not {version!r}",
                      checkpoint=checkpoint, line=_locate(file, ["version"]))  # fmt: skip
    return int(version)


def _locate(file: Path, json_path: list[str | int]) -> int | None:
    """The line of `json_path` in a snapshot laid out by write_snapshot (best effort)."""
    try:
        lines = read_bytes(file).decode("utf-8").splitlines()
    except (OSError, ToolError, UnicodeDecodeError):
        return None
    if len(lines) <= 1:
        return 1 if lines else None
    if not json_path:
        return 1
    top = re.compile(re.escape(json.dumps(json_path[0], ensure_ascii=False)) + r"\s*:")
    start = next((n for n, text in enumerate(lines) if top.match(text)), None)
    if start is None:
        return None
    if len(json_path) == 1:
        return start + 1
    key = json_path[1]
    if isinstance(key, int):
        line = start + 1 + key
        return line + 1 if line < len(lines) else start + 1
    entry = "  " + json.dumps(key, ensure_ascii=False) + ":"
    found = next((n for n in range(start + 1, len(lines)) if lines[n].startswith(entry)), None)
    return (found if found is not None else start) + 1
