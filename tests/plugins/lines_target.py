"""A third-party target: one line of JSON per comment in `folder`/`prefix`.jsonl.

It can read a page back and delete (so verify and rollback work), but it has neither an
idempotency key nor a reconcile: the tool says it may repeat comments sent just before a
crash, rather than pretending otherwise.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from migrate.config import SectionConfig
from migrate.model import Capabilities, Created, OutgoingComment, Page, TargetComment
from migrate.plugins import TargetPlugin

CAPS = Capabilities(
    max_depth=0, keeps_timestamps=False, idempotency="none", can_delete=True, content="markdown"
)


class LineTarget:
    name = "lines"
    capabilities = CAPS

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()  # pages are sent on several threads at once

    def _records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line]

    def identity(self) -> Mapping[str, str]:
        return {"folder": str(self.path.parent.resolve())}

    def check(self, outgoing: OutgoingComment) -> str | None:
        return None

    def begin_page(self, page: Page) -> None:
        pass

    def create(self, outgoing: OutgoingComment) -> Created:
        with self.lock:
            return self._append(outgoing)

    def _append(self, outgoing: OutgoingComment) -> Created:
        numbers = [int(record["id"].removeprefix("line-")) for record in self._records()]
        target_id = f"line-{max(numbers, default=0) + 1}"
        record = {
            "id": target_id,
            "page": outgoing.page.key,
            "author": outgoing.source.author.name,
            "text": outgoing.text,
        }
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        return Created(target_id=target_id)

    def finish_page(self, page: Page) -> None:
        pass

    def abort_page(self, page: Page) -> None:
        pass

    def list_page(self, page: Page) -> list[TargetComment]:
        return [
            TargetComment(
                target_id=r["id"], parent_target_id=None, author_name=r["author"], text=r["text"]
            )
            for r in self._records()
            if r["page"] == page.key
        ]

    def delete(self, target_id: str, page: Page) -> bool:
        with self.lock:
            records = self._records()
            kept = [r for r in records if r["id"] != target_id]
            self.path.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
            return len(kept) < len(records)

    def close(self) -> None:
        pass


def _path(section: SectionConfig) -> Path:
    return Path(section.path("folder") or ".") / (section.text("prefix") + ".jsonl")


TARGET = TargetPlugin(
    name="lines",
    build=lambda section, run: LineTarget(_path(section)),
    capabilities=lambda section: CAPS,
    identity=lambda section: {"folder": str(_path(section).parent.resolve())},
    path_keys=("folder",),
    schema={
        "required": ["folder", "prefix"],
        "properties": {"folder": {"type": "string"}, "prefix": {"type": "string"}},
    },
)
