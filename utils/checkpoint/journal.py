"""The journal: JSON Lines beside the snapshot, one record per change, each with a checksum.

A journal (version 2 or 3) starts with a header naming the migration, the snapshot it extends
(null: none yet) and that snapshot's `journal_seq`; every line (header included) ends with
`,"crc":"<crc32>"}`: the CRC-32 of the line's JSON object without that member. Records carry a
`seq` that rises by one per record across compactions. A line without its newline, or holding
NUL bytes (what a power cut leaves of an unwritten block), can only be the last one: it is a
torn write, dropped with a warning. Any other damage is a CheckpointError naming file and line.

A version-1 journal (no header, no checksums) is read beside a version-1 snapshot or alone, so
that old checkpoints still load; the manager then rewrites them in the current format.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from utils.checkpoint.errors import SemanticError, corrupt
from utils.checkpoint.formats import (
    FORMAT,
    SCHEMA_VERSION,
    JSONDoc,
    checkers,
    decode_line,
    explain_failure,
    record_definition,
)
from utils.checkpoint.state import CheckpointState


def header(migration_id: str, snapshot_id: str | None, base_seq: int) -> JSONDoc:
    return {"kind": "journal", "format": FORMAT, "version": SCHEMA_VERSION,
            "migration": migration_id, "snapshot": snapshot_id, "base_seq": base_seq}  # fmt: skip


@dataclass
class Replay:
    """What reading the journal found."""

    exists: bool
    header: JSONDoc | None = None
    legacy: bool = False  # a version-1 journal (no header, no checksums)
    lines: int = 0  # complete records, replayed or already folded in
    replayed: int = 0
    newest_seq: int = 0
    valid_length: int = 0  # bytes before a torn tail
    torn: bool = False


def replay(
    data: bytes, journal: Path, checkpoint: Path, state: CheckpointState,
    snapshot_version: int | None, logger: logging.Logger,
) -> Replay:  # fmt: skip
    """Apply the journal's new records to `state` (the snapshot's, or empty)."""
    _, record_ok, header_ok = checkers()
    result = Replay(exists=True, valid_length=len(data))
    lines = data.split(b"\n")
    # every record ends with a newline, so the last piece is empty unless a write was torn
    complete, tail = lines[:-1], lines[-1]
    if complete and not tail and b"\x00" in complete[-1] and decode_line(complete[-1]) is None:
        complete, tail = complete[:-1], complete[-1] + b"\n"
    previous_seq = 0
    offset = 0  # of the line in the file: a page's mappings are read back from there
    for number, raw in enumerate(complete, 1):
        place = (offset, len(raw) + 1)
        offset += len(raw) + 1

        def damaged(problem: str, line: int = number) -> Exception:
            return corrupt(journal, problem, checkpoint=checkpoint, line=line)

        if number == 1:
            _read_header(raw, result, state, snapshot_version, damaged, header_ok)
            if result.header is not None:
                continue
        record = _legacy_record(raw) if result.legacy else decode_line(raw)
        if record is None:
            raise damaged("damaged record (its checksum does not match, or it is not a "
                          "journal line); a crash only ever tears the last line")  # fmt: skip
        if not record_ok(record):
            raise damaged(f"invalid record at {explain_failure(record, record_definition(record))}")
        seq: int = record["seq"]
        if seq <= previous_seq:
            raise damaged(f"record seq {seq} after seq {previous_seq}: records out of order")
        previous_seq = result.newest_seq = seq
        result.lines += 1
        if seq <= state.journal_seq:
            continue  # folded into the snapshot by a compaction that crashed before emptying us
        if seq != state.journal_seq + 1:
            raise damaged(f"record seq {seq} does not follow seq {state.journal_seq} of the "
                          "snapshot: records are missing (is the snapshot an older copy, or "
                          "missing?)")  # fmt: skip
        try:
            # a version-1 line has no checksum to read it back by: kept until the upgrade
            state.apply(record, None if result.legacy else place)
        except SemanticError as exc:
            raise damaged(exc.message) from None
        result.replayed += 1
    head = result.header
    if head is not None and head["snapshot"] != state.snapshot_id and result.replayed:
        raise corrupt(journal, f"the journal extends snapshot {head['snapshot']}, not the "
                      f"snapshot {state.snapshot_id} beside it: records are missing (is the "
                      "snapshot an older copy?)", checkpoint=checkpoint, line=1)  # fmt: skip
    if tail:
        result.valid_length = len(data) - len(tail)
        result.torn = True
        logger.warning(
            "%s, line %d: dropped a torn last record (the previous run stopped while writing "
            "it, before it was acknowledged)", journal, len(complete) + 1,
        )  # fmt: skip
    return result


def _read_header(
    raw: bytes, result: Replay, state: CheckpointState, snapshot_version: int | None,
    damaged: Any, header_ok: Any,
) -> None:  # fmt: skip
    """Bind the journal to the snapshot (or, with none, give the state its migration id)."""
    head = decode_line(raw)
    if head is None:
        legacy = _legacy_record(raw)
        if legacy is None or (snapshot_version is not None and snapshot_version >= 2):
            raise damaged("the journal's header is damaged or missing (its checksum does not "
                          "match, or it is not a journal line)")  # fmt: skip
        result.legacy = True
        return
    if not header_ok(head):
        raise damaged(f"invalid journal header at {explain_failure(head, 'journal_header')}")
    if snapshot_version is not None and snapshot_version < 2:
        raise damaged("a version-2 journal beside a version-1 snapshot: the snapshot is an "
                      "older copy")  # fmt: skip
    if state.migration_id is None:
        if head["snapshot"] is not None:
            raise damaged(f"the journal extends snapshot {head['snapshot']}, which is missing: "
                          "records are missing (restore the snapshot)")  # fmt: skip
        state.migration_id = head["migration"]
    elif head["migration"] != state.migration_id:
        raise damaged(f"the journal belongs to another migration ({head['migration']}) than "
                      f"the snapshot beside it ({state.migration_id})")  # fmt: skip
    elif head["snapshot"] == state.snapshot_id and head["base_seq"] != state.journal_seq:
        raise damaged(f"the journal extends seq {head['base_seq']} of the snapshot, which "
                      f"holds seq {state.journal_seq}")  # fmt: skip
    result.header = head


def _legacy_record(raw: bytes) -> Any | None:
    """A version-1 record: plain JSON with a seq and no checksum."""
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(record, dict) or "seq" not in record or "crc" in record:
        return None
    return record
