"""The file Waline's admin Import reads (`[target] type = "waline"`, `output = "waline.json"`),
for when the server cannot be reached: Waline's export shape,

    {"type": "waline", "version": 1, "time": <ms>, "tables": ["Comment", "Counter", "Users"],
     "data": {"Comment": [<row>, ...], "Counter": [], "Users": []}}

one row per comment: `objectId` (sequential over the file), `url` (the page key), `pid`
(parent) and `rid` (the thread's root), `nick`, `mail`, `link`, `comment` (Markdown),
`status` (approved | waiting), `like`, and `insertedAt`/`createdAt`/`updatedAt` as ISO 8601
instants in UTC with `Z` (Waline reads them right whatever its zone).

Written page-atomically like the other file targets (a sidecar `<output>.pages.jsonl`
committed per page, the JSON rebuilt from it atomically: migrate/files/derived.py). Read back
by the Waline source (`path = "waline.json"`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from migrate.files.derived import DerivedFileTarget
from migrate.files.formats import web_url
from migrate.files.records import Record, parse_rfc3339
from migrate.model import Capabilities, Created, OutgoingComment
from migrate.systems.waline.rows import FORMAT_TYPE
from migrate.systems.waline.target import waline_time

TABLES = ["Comment", "Counter", "Users"]


class WalineFileTarget(DerivedFileTarget):
    name = "waline"
    capabilities = Capabilities(
        max_depth=None,
        keeps_timestamps=True,
        idempotency="none",
        can_delete=True,
        content="markdown",
        page_atomic=True,
        keeps_pending=True,
    )

    @staticmethod
    def recognizes(path: Path) -> bool:
        """An existing file this target may add to: empty, or a JSON object."""
        with path.open("rb") as handle:
            head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        return not head or head.startswith(b"{")

    def create(self, outgoing: OutgoingComment) -> Created:
        created = super().create(outgoing)
        source = outgoing.source
        with self._lock:  # this page's buffer: its last record is the one just made
            record = self._buffers[outgoing.page.id][1][-1]
            record["waline"] = {
                "mail": source.author.email,
                "link": web_url(source.author.url),
                "status": "waiting" if source.status == "pending" else "approved",
                "like": source.likes,
                "updated_at": waline_time(source.edited_at or source.created_at),
            }
        return created

    def write_file(self, handle: IO[str]) -> None:
        rows: list[dict[str, Any]] = []
        for stored in self.committed_pages():
            key = str(stored.page.get("uri") or "/")
            parents = {str(c["id"]): c.get("parent_id") for c in stored.comments}
            rows.extend(_row(c, key, parents) for c in stored.comments)
        document = {
            "type": FORMAT_TYPE,
            "version": 1,
            "time": int(time.time() * 1000),
            "tables": TABLES,
            "data": {"Comment": rows, "Counter": [], "Users": []},
        }
        json.dump(document, handle, ensure_ascii=False, indent=1)
        handle.write("\n")


def _root(comment_id: str, parents: Mapping[str, Any]) -> str | None:
    """The top of the comment's thread within its page (None for a top-level comment)."""
    seen = {comment_id}
    current = parents.get(comment_id)
    root = None
    while current is not None and str(current) not in seen:
        root = str(current)
        seen.add(root)
        current = parents.get(root)
    return root


def _number(value: object) -> int | str | None:
    if value is None:
        return None
    text = str(value)
    return int(text) if text.isdigit() else text


def _row(comment: Record, key: str, parents: Mapping[str, Any]) -> dict[str, Any]:
    extra = comment.get("waline") or {}
    moment = parse_rfc3339(comment.get("created_at"))
    created = waline_time(moment) if moment else None
    return {
        "objectId": _number(comment["id"]),
        "url": key,
        "pid": _number(comment.get("parent_id")),
        "rid": _number(_root(str(comment["id"]), parents)),
        "nick": (comment.get("author") or {}).get("name") or "",
        "mail": extra.get("mail"),
        "link": extra.get("link"),
        "comment": comment.get("text") or "",
        "status": extra.get("status") or "approved",
        "like": extra.get("like") or 0,
        "insertedAt": created,
        "createdAt": created,
        "updatedAt": extra.get("updated_at") or created,
        "user_id": None,
        "ip": None,
        "ua": None,
        "sticky": None,
    }
