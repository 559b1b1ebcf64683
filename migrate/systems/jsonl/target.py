"""JSON Lines target: one record per comment, a page's records committed together.

Each line is one comment:

    {"page": {"id", "uri", "title"}, "id": target id, "parent_id": parent target id or null,
     "author": {"name", "source_id", "avatar_url"}, "text", "html", "created_at": RFC 3339 UTC,
     "source": {"system", "id", "parent_id"}, "deleted": bool, "batch": n, "batch_size": k}

JSON Lines is data for a program, so names and text are kept as written (JSON-escaped); as in
every file format, characters XML cannot hold are removed (logged per comment; a comment left
empty is refused), `html` is sanitized, and an avatar URL other than http(s)/mxc is dropped.

`batch`/`batch_size` mark a page's commit (one append + fsync in `finish_page`): a load keeps a
batch only when all its `batch_size` lines are there, so a crash never leaves half a page.
Target ids are sequential integers (as strings), continuing after a restart.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from migrate.config import SectionConfig
from migrate.files.base import PageAtomicFileTarget
from migrate.files.formats import writable_page
from migrate.files.records import Record, dumps
from migrate.model import Capabilities
from migrate.plugins import TargetPlugin

DEFAULT_CAPABILITIES = Capabilities(
    max_depth=None,
    keeps_timestamps=True,
    idempotency="none",
    can_delete=True,
    content="both",
    page_atomic=True,
    keeps_avatars=True,
)


_FRAME = ("page", "batch", "batch_size")  # the keys a line adds to its comment's record


class JsonlTarget(PageAtomicFileTarget):
    name = "jsonl"

    def __init__(
        self, output: Path, *, capabilities: Capabilities | None = None, read_only: bool = False
    ) -> None:
        self.output = Path(output)
        # a dry run plans for the configured target (its depth, content, rules) but writes here;
        # the file stays page-atomic whatever is planned
        base = capabilities or DEFAULT_CAPABILITIES
        self.capabilities = Capabilities(
            max_depth=base.max_depth,
            keeps_timestamps=base.keeps_timestamps,
            idempotency="none",
            can_delete=True,
            content=base.content,
            min_text_length=base.min_text_length,
            page_atomic=True,
            keeps_avatars=True,  # every record has the author's avatar URL
        )
        super().__init__(self.output, read_only=read_only)

    def sibling(self, output: Path) -> JsonlTarget:
        return JsonlTarget(output, capabilities=self.capabilities, read_only=self.read_only)

    def identity(self) -> Mapping[str, str]:
        return {"output": str(self.output.resolve())}

    @staticmethod
    def recognizes(path: Path, head_size: int = 4096) -> bool:
        """An existing file this target may add to: empty, or a first line that is a JSON
        object (read without opening the target)."""
        with path.open("rb") as handle:
            first = handle.read(head_size).split(b"\n", 1)[0]
        if not first.strip():
            return True
        try:
            return isinstance(json.loads(first), dict)
        except ValueError:
            # a first line longer than the head read is still JSON if it opens like an object
            return first.lstrip().startswith(b"{") and len(first) >= head_size

    def encode_batch(self, seq: int, page: Record, comments: Sequence[Record]) -> list[str]:
        clean = writable_page(page)
        # each line is dumps({"page": clean, **comment, "batch": seq, "batch_size": n}); the
        # page and the batch are encoded once, the same around every comment's own keys
        head = '{"page":' + dumps(clean) + ","
        tail = f',"batch":{seq},"batch_size":{len(comments)}}}'
        return [
            head + dumps(comment)[1:-1] + tail
            if comment and comment.keys().isdisjoint(_FRAME)
            else dumps({"page": clean, **comment, "batch": seq, "batch_size": len(comments)})
            for comment in comments
        ]

    def decode_line(self, obj: Mapping[str, Any]) -> tuple[int, int, Record, list[Record]]:
        comment = {k: v for k, v in obj.items() if k not in ("page", "batch", "batch_size")}
        page = dict(obj["page"])
        str(comment["id"])  # a record without an id is damage, not a comment
        return int(obj["batch"]), int(obj["batch_size"]), page, [comment]


def _output(section: SectionConfig) -> Path:
    path = section.path("output")
    assert path is not None  # the plugin's schema requires it
    return path


PLUGIN = TargetPlugin(
    name="jsonl",
    build=lambda section, run: JsonlTarget(_output(section)),
    read=lambda section, run: JsonlTarget(_output(section), read_only=True),
    capabilities=lambda section: DEFAULT_CAPABILITIES,
    identity=lambda section: {"output": str(_output(section).resolve())},
    output=lambda section: str(_output(section)),
    recognizes=JsonlTarget.recognizes,
    path_keys=("output",),
    schema={
        "required": ["output"],
        "properties": {
            "output": {"type": "string", "minLength": 1, "examples": ["comments.jsonl"]}
        },
    },
)
