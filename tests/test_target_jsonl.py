"""JsonlTarget: its records, and the capabilities override used by --dry-run."""

from __future__ import annotations

import json
from pathlib import Path

from migrate.targets.isso import IssoTarget
from migrate.targets.jsonl import JsonlTarget
from tests.test_target_http import PAGE, outgoing


def test_records(tmp_path: Path) -> None:
    target = JsonlTarget(tmp_path / "out.jsonl")
    target.begin_page(PAGE)
    top = target.create(outgoing("$a", "first"))
    target.create(outgoing("$b", "second", parent=("$a", top.target_id)))
    target.finish_page(PAGE)
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert records[1] == {
        "page": {"id": "post1", "uri": "/blog/post1/", "title": "Post one"},
        "id": "2", "parent_id": "1",
        "author": {"name": "alice", "source_id": "@alice:example.org",
                   "avatar_url": "mxc://example.org/a"},
        "text": "second", "html": "<p>second</p>", "created_at": "2019-05-06T07:08:09Z",
        "source": {"system": "matrix", "id": "$b", "parent_id": "$a"},
        "batch": 1, "batch_size": 2,
    }
    assert target.identity() == {"type": "jsonl", "output": str((tmp_path / "out.jsonl").resolve())}


def test_dry_run_plans_for_another_target(tmp_path: Path) -> None:
    isso = IssoTarget("http://127.0.0.1:9").capabilities
    target = JsonlTarget(tmp_path / "plan.jsonl", capabilities=isso)
    caps = target.capabilities
    assert (caps.max_depth, caps.content, caps.min_text_length) == (1, "markdown", 3)
    assert caps.page_atomic and caps.can_delete and caps.idempotency == "none"
    assert target.check(outgoing("$a", "ab ")) is not None
    assert target.check(outgoing("$a", "abc")) is None
    assert JsonlTarget(tmp_path / "any.jsonl").check(outgoing("$a", "")) is None
