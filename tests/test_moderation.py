"""Moderation states: spam never migrates, a waiting comment goes only where it can wait,
each recorded as skipped with its reason, and replies hang under the nearest comment kept."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from migrate.testing.factories import comment, make_archive, page
from tests.migration_helpers import run_json, write_config
from utils.checkpoint_manager import read_checkpoint


def test_spam_and_pending_are_skipped_with_reasons_and_replies_stay_in_the_thread(
    tmp_path: Path,
) -> None:
    comments = [
        comment("$a", text="kept", page="p1"),
        dataclasses.replace(comment("$spam", "$a", minute=1, text="buy", page="p1"), status="spam"),
        comment("$r", "$spam", minute=2, text="reply to the spam", page="p1"),
        dataclasses.replace(comment("$w", minute=3, text="waiting", page="p1"), status="pending"),
    ]
    archive = make_archive(tmp_path / "site.jsonl", {page("p1"): comments})
    config = write_config(
        tmp_path, archive=archive, target={"type": "jsonl", "output": "out.jsonl"}
    )
    code, summary, stderr = run_json(config)
    assert code == 0, stderr
    reasons = {s["source_id"]: s["reason"] for s in summary["skipped_comments"]}
    assert reasons["$spam"].startswith("spam")
    assert reasons["$w"].startswith("waiting for moderation")
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    sent = {record["source"]["id"]: record for record in records}
    assert set(sent) == {"$a", "$r"}
    assert sent["$r"]["parent_id"] == sent["$a"]["id"]  # under the nearest comment kept
    state = read_checkpoint(tmp_path / "checkpoint.json")
    assert state.get_progress_summary()["completed"] == 1
