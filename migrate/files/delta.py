"""Delta files: what a sync brings to a file target, in a new file beside the output
(migrate.abilities.DeltaFileTarget), so what was imported is never rewritten.

`delta(label)` is a target of the same kind writing to `<stem>.<label><suffix>` (labels
start with `sync-`). Its target ids continue after every id of the family (the output and
all its delta files), so a reply in a delta names its parent in an earlier file
unambiguously. Reconciliation looks at the whole family, so a comment committed to any of
them before a crash is adopted, never written again.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any, Self

from migrate.model import Capabilities

DELTA_PREFIX = "sync-"  # delta files are `<stem>.sync-<...><suffix>`


class DeltaFiles:
    """The family of a file target: its output and the delta files beside it."""

    output: Path
    capabilities: Capabilities
    _lock: AbstractContextManager[Any]
    _next_id: int
    _family: list[DeltaFiles] | None

    def sibling(self, output: Path) -> Self:
        """The same kind of target, with the same settings, writing to `output`."""
        raise NotImplementedError

    def by_source(self, page_id: str) -> dict[str, str]:
        """Source id -> target id of the page's committed comments in this file."""
        raise NotImplementedError

    def delta(self, label: str) -> Self:
        """A target for what a sync brings: a new file beside the output, ids continuing
        after the family's, never deleting (what was imported is not rewritten)."""
        path = self.output.with_name(f"{self.output.stem}.{label}{self.output.suffix}")
        delta = self.sibling(path)
        delta.capabilities = replace(self.capabilities, can_delete=False)
        members: list[DeltaFiles] = [self, *self.relatives()]
        family = [m for m in members if m.output != path]
        delta._family = family
        delta._next_id = max([delta._next_id, *(m._next_id for m in family)])
        return delta

    def relatives(self) -> list[DeltaFiles]:
        """The output and its delta files, this one left out (read once, on first use)."""
        family = self._family  # once read, without the store's lock (held during commits)
        if family is not None:
            return list(family)
        with self._lock:
            if self._family is None:
                pattern = f"{self.output.stem}.{DELTA_PREFIX}*{self.output.suffix}"
                found: list[DeltaFiles] = [
                    self.sibling(p)
                    for p in sorted(self.output.parent.glob(pattern))
                    if p != self.output and p.is_file()
                ]
                self._family = found
            return list(self._family)
