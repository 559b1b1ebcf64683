"""What the checkpoint's files look like: names, version, the shipped schema and its checks.

For a checkpoint PATH: PATH (the snapshot), PATH.journal (JSON Lines) and PATH.lock.
`utils/schemas/checkpoint.schema.json` is the only definition of both formats; records are
checked with predicates compiled from it, and jsonschema explains a failure.
"""

from __future__ import annotations

import functools
import json
import zlib
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any, cast

from utils.schema_check import Check, SchemaCompiler, explain

SCHEMA_VERSION = 3
FORMAT = "comment-migrate-checkpoint"
DEFAULT_CHECKPOINT = ".migration_checkpoint.json"
PAGE_STATUSES = ("pending", "in_progress", "complete", "failed")
RECORD_KINDS = ("start", "page", "map", "map_page", "unmap", "skip", "config", "meta", "revision",
                "media", "sync")  # fmt: skip

JSONDoc = dict[str, Any]

dumps = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def journal_path(checkpoint: str | Path) -> Path:
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.name + ".journal")


def lock_path(checkpoint: str | Path) -> Path:
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.name + ".lock")


@functools.cache
def load_schema() -> JSONDoc:
    """The shipped JSON Schema (package data): snapshot at the root, records in $defs."""
    text = resources.files("utils").joinpath("schemas/checkpoint.schema.json").read_text("utf-8")
    return cast(JSONDoc, json.loads(text))


@functools.cache
def checkers() -> tuple[Check, Check, Check]:
    """(snapshot check, journal record check, journal header check), compiled once."""
    compiler = SchemaCompiler(load_schema())
    by_kind = {kind: compiler.definition(f"record_{kind}") for kind in RECORD_KINDS}

    def record_ok(record: Any) -> bool:
        # journal_record is anyOf the record_<kind> definitions, each fixing its `kind`: only
        # the one its kind names can match, so trying that one alone is the same test
        kind = record.get("kind") if isinstance(record, dict) else None
        check = by_kind.get(kind) if isinstance(kind, str) else None
        return check is not None and check(record)

    return compiler.definition("snapshot"), record_ok, compiler.definition("journal_header")


@functools.cache
def group_check() -> Check:
    """The check of one mapping group (a snapshot is read and written a group at a time)."""
    return SchemaCompiler(load_schema()).definition("mapping_group")


def explain_failure(instance: Any, definition: str) -> str:
    """'<path>: <message>' of why `instance` fails `#/$defs/<definition>`."""
    message, where = explain(load_schema(), instance, definition)
    return f"{format_path(where)}: {message}"


def explain_parts(instance: Any, definition: str) -> tuple[str, list[str | int]]:
    return explain(load_schema(), instance, definition)


def format_path(path: Iterable[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(the document)"


def record_definition(record: Any) -> str:
    kind = record.get("kind") if isinstance(record, dict) else None
    return f"record_{kind}" if kind in RECORD_KINDS else "journal_record"


_CRC_PREFIX = b',"crc":"'
_CRC_SUFFIX_LENGTH = len(_CRC_PREFIX) + 8 + 2  # ,"crc":"xxxxxxxx"}


def encode_line(record: JSONDoc) -> bytes:
    """One journal line: the record as compact JSON, its checksum last, a newline."""
    body = dumps(record).encode("utf-8")
    return b'%s,"crc":"%08x"}\n' % (body[:-1], zlib.crc32(body))


def decode_line(raw: bytes) -> Any | None:
    """The JSON value of a checksummed line (without its newline); None when damaged."""
    if len(raw) < _CRC_SUFFIX_LENGTH + 2 or raw[-_CRC_SUFFIX_LENGTH:-10] != _CRC_PREFIX:
        return None
    body = raw[:-_CRC_SUFFIX_LENGTH] + b"}"
    # compared as bytes: "A" and "a" are one bit apart and int(x, 16) would accept both
    if raw[-10:-2] != b"%08x" % zlib.crc32(body) or raw[-2:] != b'"}':
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None
