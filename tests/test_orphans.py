"""A reply whose parent was removed in the new system (a moderator deleted it on the
Worker) fails its page on every sync by default; `[run] orphans = "root"` hangs it under
its nearest ancestor still there (or the top level), `orphans = "skip"` skips it with its
replies and records why. On the real Worker (workerd)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from migrate.model import Comment, Page
from tests.factories import comment, make_archive
from tests.migration_helpers import invoke, write_config
from tests.servers.workerd import WorkerServer


def sync(config: Path, env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    result = invoke("-q", "sync", "-c", str(config), "--json", env=env)
    lines = result.stdout.strip().splitlines()
    return result.exit_code, json.loads(lines[-1]) if lines else {}


@pytest.mark.parametrize("orphans", [None, "root", "skip"])
def test_a_reply_to_a_comment_removed_in_the_worker(
    worker: WorkerServer, tmp_path: Path, orphans: str | None
) -> None:
    tag = uuid.uuid4().hex[:8]
    page = Page(id=f"orphans-{tag}", key=f"/orphans-{tag}/", title="Orphans")

    def c(cid: str, parent: str | None = None, minute: int = 0) -> Comment:
        return comment(
            f"{tag}-{cid}", f"{tag}-{parent}" if parent else None, page=page.id, minute=minute
        )

    before = [c("a"), c("b", "a", 1), c("e", minute=2)]
    archive = make_archive(tmp_path / "site.jsonl", {page: before})
    run = {"orphans": orphans} if orphans else {}
    config = write_config(
        tmp_path,
        archive=archive,
        target={"type": "http", "url": worker.url, "token_env": "WORKER_TOKEN"},
        run=run,
    )
    env = {"WORKER_TOKEN": worker.token}
    assert invoke("-q", "run", "-c", str(config), env=env).exit_code == 0
    ids = {c["source"]["id"].split("-", 1)[1]: c["id"] for c in worker.list_page(page.id)}
    for gone in ("b", "e"):  # a moderator removes two comments nobody answered
        assert worker.call("DELETE", f"/comments/{ids[gone]}").status_code == 204

    make_archive(archive, {page: [*before, c("d", "b", 3), c("f", "e", 4), c("g", "d", 5)]})
    dry = invoke("-q", "sync", "-c", str(config), "--dry-run", "--json", env=env)
    assert dry.exit_code == 0, dry.output  # plans the replies: it cannot know what was removed
    assert json.loads(dry.stdout.strip().splitlines()[-1])["comments_imported"] == 3
    code, summary = sync(config, env)
    held = {c["source"]["id"].split("-", 1)[1]: c for c in worker.list_page(page.id)}
    if orphans is None:
        assert code == 3
        (failed,) = summary["failed_pages"]
        assert "unknown parent_id" in failed["error"]
        assert set(held) == {"a"}
        code, summary = sync(config, env)  # and again, every sync
        assert code == 3
    elif orphans == "root":
        assert code == 0, summary
        assert held["d"]["parent_id"] == ids["a"]  # the nearest ancestor still there
        assert held["f"]["parent_id"] is None  # none left: the top level
        assert held["g"]["parent_id"] == held["d"]["id"]
    else:
        assert code == 0, summary
        assert set(held) == {"a"}
        reasons = {
            s["source_id"].split("-", 1)[1]: s["reason"] for s in summary["skipped_comments"]
        }
        assert set(reasons) == {"d", "f", "g"}
        assert all("was removed from the target" in r for r in reasons.values())
        code, again = sync(config, env)  # a later sync does not try them again
        assert code == 0 and again["comments_imported"] == 0
