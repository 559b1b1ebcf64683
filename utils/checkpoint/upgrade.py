"""Older snapshots become current ones through a chain of explicit steps, one per version.

UPGRADES[n] turns a version-n document into a version-(n+1) one; loading runs the steps from
the stored version up to SCHEMA_VERSION in memory, and the manager (the lock holder) then
writes the result as a new snapshot, keeping the original beside it as PATH.v<n>.bak.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from utils.checkpoint.errors import SemanticError
from utils.checkpoint.formats import FORMAT, JSONDoc
from utils.schema_check import is_integer

LEGACY_KEYS = frozenset({"completed_pages", "failed_pages", "id_mapping"})


def new_id() -> str:
    """A fresh migration or snapshot id."""
    return uuid.uuid4().hex


def upgrade_0_to_1(doc: JSONDoc) -> JSONDoc:
    """Version 0: the flat file of the first migration scripts, without a version field:

    {"completed_pages": [page_id, ...], "failed_pages": {page_id: error message},
     "id_mapping": {source_id: target_id}, "total_pages": n?, "started_at": time?,
     "last_updated": time?}
    """
    completed = doc.get("completed_pages", [])
    failed = doc.get("failed_pages", {})
    mapping = doc.get("id_mapping", {})
    if not (isinstance(completed, list) and all(isinstance(p, str) for p in completed)):
        raise SemanticError("completed_pages must be a list of page ids", ["completed_pages"])
    if not (isinstance(failed, dict) and all(isinstance(m, str) for m in failed.values())):
        raise SemanticError("failed_pages must map page ids to messages", ["failed_pages"])
    if not (isinstance(mapping, dict) and all(isinstance(t, str) for t in mapping.values())):
        raise SemanticError("id_mapping must map source ids to target ids", ["id_mapping"])
    started = doc.get("started_at") if isinstance(doc.get("started_at"), str) else None
    updated = doc.get("last_updated") if isinstance(doc.get("last_updated"), str) else None
    when = updated or started or datetime.now(UTC).isoformat(timespec="milliseconds")
    total: Any = doc.get("total_pages")
    pages: JSONDoc = {}
    for page_id, message in failed.items():
        error = {"type": "Error", "message": message, "retryable": None, "time": when}
        pages[page_id] = _page_doc("failed", when, error=error)
    for page_id in completed:
        pages[page_id] = _page_doc("complete", when)
    groups = [{"page_id": None, "source_ids": list(mapping), "target_ids": list(mapping.values())}]
    return {
        "format": FORMAT,
        "version": 1,
        "journal_seq": 0,
        "started_at": started,
        "updated_at": updated,
        "total_pages": int(total) if is_integer(total) and total >= 0 else None,
        "config": None,
        "metadata": {},
        "pages": pages,
        "mappings": groups if mapping else [],
        "skipped": {},
    }


def upgrade_1_to_2(doc: JSONDoc) -> JSONDoc:
    """Version 2 adds the migration and snapshot ids that bind a journal to its snapshot, a
    checksum (written by the snapshot writer), media, sync history, and optional page cursors
    and mapping revisions (absent in version 1)."""
    if not isinstance(doc, dict):
        raise SemanticError("not a JSON object")
    rest = {key: value for key, value in doc.items() if key not in ("format", "version")}
    # derived from the content, so that every reader of the old file names it alike
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32]
    return {
        "format": doc.get("format"),
        "version": 2,
        "migration_id": f"v1-{digest}",
        "snapshot_id": new_id(),
        **rest,
        "media": {},
        "syncs": [],
    }


def upgrade_2_to_3(doc: JSONDoc) -> JSONDoc:
    """Version 3 reads a snapshot's mapping groups a page at a time and adds the journal's
    map_page record (a page's mappings in one record); a version-2 snapshot holds nothing a
    version-3 one cannot, so only its version changes (its journal is read as it is)."""
    return {**doc, "version": 3}


def _page_doc(status: str, when: str, error: JSONDoc | None = None) -> JSONDoc:
    return {"status": status, "attempts": 1, "extracted": 0, "imported": 0, "skipped": 0,
            "error": error, "updated_at": when}  # fmt: skip


# version n -> the step that turns a version-n document into a version-(n+1) one
UPGRADES: dict[int, Callable[[JSONDoc], JSONDoc]] = {
    0: upgrade_0_to_1,
    1: upgrade_1_to_2,
    2: upgrade_2_to_3,
}
