"""What `comment-migrate check` found: a list of `CheckItem`s (migrate.model), in order.

Every item's text is made terminal-safe on the way in, whoever made it (the check itself, a
source's or a target's preflight ability, a third-party plugin): it quotes servers and pages.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from migrate.model import CheckItem
from utils.terminal import printable

log = logging.getLogger(__name__)


@dataclass
class CheckReport:
    items: list[CheckItem] = field(default_factory=list)

    def add(self, *items: CheckItem) -> None:
        for item in items:
            self.items.append(
                dataclasses.replace(
                    item,
                    name=printable(item.name),  # a page id is the source's text
                    detail=printable(item.detail),
                    fix=printable(item.fix),
                )
            )

    @property
    def ok(self) -> bool:
        return all(item.ok for item in self.items)

    @property
    def failures(self) -> list[CheckItem]:
        return [item for item in self.items if not item.ok]

    def __iter__(self) -> Iterator[CheckItem]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "failed": len(self.failures),
            "items": [item.to_dict() for item in self.items],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)
