"""`rollback` after a run SIGKILLed just after the target accepted a comment, before its id
was journaled: the rollback finds those comments as the rerun would (the Worker: by source
id in its listing; Isso: the page read back and matched) and deletes them with the rest.
The kill comes from a proxy in front of the real server (tests/servers/killproxy.py)."""

from __future__ import annotations

import dataclasses
import signal
import uuid
from pathlib import Path

from migrate.model import Comment, Page
from tests.factories import make_archive, threaded_site
from tests.migration_helpers import invoke, start_run, subprocess_env, write_config
from tests.servers.isso import IssoServer
from tests.servers.killproxy import KillProxy
from tests.servers.workerd import WorkerServer
from utils.checkpoint_manager import read_checkpoint


def unique_site(pages: int, per_page: int) -> dict[Page, list[Comment]]:
    """threaded_site with ids no other test of the session's Worker uses."""
    tag = uuid.uuid4().hex[:8]
    site: dict[Page, list[Comment]] = {}
    for page, comments in threaded_site(pages=pages, per_page=per_page, depth=3).items():
        fresh = Page(id=f"{page.id}-{tag}", key=f"/{tag}{page.key}", title=page.title)
        site[fresh] = [
            dataclasses.replace(
                c,
                id=f"{tag}{c.id}",
                parent_id=f"{tag}{c.parent_id}" if c.parent_id else None,
                page_id=fresh.id,
            )
            for c in comments
        ]
    return site


def run_killed_after(config: Path, proxy: KillProxy, posts: int, env: dict[str, str]) -> None:
    process = start_run(config, env=subprocess_env(**env))
    proxy.arm(process.pid, posts)
    _, stderr = process.communicate(timeout=120)
    proxy.disarm()
    assert process.returncode == -signal.SIGKILL, stderr


def rollback(config: Path, env: dict[str, str] | None = None) -> str:
    result = invoke("rollback", "-c", str(config), "--yes", env=env)
    assert result.exit_code == 0, result.output
    return result.stderr


def mapped(checkpoint: Path) -> int:
    state = read_checkpoint(checkpoint)
    return int(state.get_progress_summary()["mappings"])


def test_rollback_after_a_kill_removes_what_the_worker_stored_unrecorded(
    worker: WorkerServer, tmp_path: Path
) -> None:
    site = unique_site(pages=2, per_page=10)
    archive = make_archive(tmp_path / "site.jsonl", site)
    env = {"TARGET_TOKEN": worker.token}
    proxy = KillProxy(worker.url).start()
    try:
        config = write_config(
            tmp_path,
            archive=archive,
            target={"type": "http", "url": proxy.url, "token_env": "TARGET_TOKEN", "batch_size": 0},
        )
        run_killed_after(config, proxy, 7, env)
        held = sum(len(worker.list_page(page.id)) for page in site)
        assert held > mapped(tmp_path / "checkpoint.json"), "the kill left no unrecorded comment"
        said = rollback(config, env)
    finally:
        proxy.stop()
    for page in site:
        assert worker.list_page(page.id) == []
        assert (
            worker.call("GET", "/threads", params={"page_id": page.id}, token=None).json()["total"]
            == 0
        )
    assert "never recorded" in said


def test_rollback_after_a_kill_removes_what_isso_stored_unrecorded(
    isso: IssoServer, tmp_path: Path
) -> None:
    site = unique_site(pages=2, per_page=8)
    archive = make_archive(tmp_path / "site.jsonl", site)
    proxy = KillProxy(isso.url).start()
    try:
        config = write_config(
            tmp_path,
            archive=archive,
            target={"type": "isso", "url": proxy.url, "db_path": str(isso.db_path)},
            run={"workers": 1},
        )
        run_killed_after(config, proxy, 5, {})
        assert len(isso.rows()) > mapped(tmp_path / "checkpoint.json")
        said = rollback(config)
    finally:
        proxy.stop()
    assert isso.rows() == []
    assert "never recorded" in said


def test_a_rollback_of_a_complete_run_finds_nothing_unrecorded(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "site.jsonl", unique_site(pages=1, per_page=3))
    config = write_config(
        tmp_path, archive=archive, target={"type": "jsonl", "output": str(tmp_path / "o.jsonl")}
    )
    assert invoke("-q", "run", "-c", str(config)).exit_code == 0
    assert "never recorded" not in rollback(config)
