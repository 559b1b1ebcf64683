"""`comment-migrate demo`: the bundled sample, offline, into WXR and JSONL."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

from migrate.systems.archive import ArchiveSource
from tests.migration_helpers import invoke

WP = "{http://wordpress.org/export/1.2/}"


def sample_comment_ids() -> set[str]:
    with resources.as_file(resources.files("migrate") / "sample/site.archive.jsonl") as path:
        source = ArchiveSource(path)
        return {c.id for p in source.pages() for c in source.comments(p).comments}


def test_demo_writes_every_sample_comment_once_and_prints_status(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = invoke("demo", "--output", str(out))
    assert result.exit_code == 0, result.stderr
    expected = sample_comment_ids()
    assert len(expected) >= 300

    records = [json.loads(line) for line in (out / "comments.jsonl").read_text().splitlines()]
    assert sorted(r["source"]["id"] for r in records) == sorted(expected)

    tree = ET.parse(out / "comments.wxr")  # noqa: S314  (our own output, not untrusted input)
    wxr_comments = tree.getroot().iter(f"{WP}comment")
    assert sum(1 for _ in wxr_comments) == len(expected)

    assert "15/15 complete" in result.stderr or "15/15 complete" in result.stdout
    assert "$ comment-migrate status" in result.stdout
    assert "complete (100.0%)" in result.stdout

    # a second demo starts fresh instead of finding everything already done
    again = invoke("demo", "--output", str(out))
    assert again.exit_code == 0
    records = (out / "comments.jsonl").read_text().splitlines()
    assert len(records) == len(expected)
