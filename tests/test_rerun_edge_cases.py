"""Reruns and rollbacks in the situations a review found wrong once: a comment deleted in
the source after it was imported, a new checkpoint over a target that already holds the
site, replies under a refused comment, a resumed rollback, pages that left the source."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from migrate.model import Comment, Page, PageComments, SkippedEvent
from migrate.systems.archive import write_archive
from tests.factories import ListSource, comment, make_archive, page, threaded_site
from tests.migration_helpers import invoke, run_json, write_config
from tests.servers.contract import ContractServer
from tests.servers.isso import IssoServer


class SkippingSource(ListSource):
    """ListSource whose pages may also carry skipped events (e.g. redactions)."""

    def __init__(
        self, pages: dict[Page, list[Comment]], skipped: dict[str, list[SkippedEvent]]
    ) -> None:
        super().__init__(pages)
        self._skipped = skipped

    def comments(self, page: Page) -> PageComments:
        return PageComments(page, list(self._pages[page]), list(self._skipped.get(page.id, [])))


# a comment imported, then deleted in the source: the rerun leaves it and goes on
def test_a_mapped_comment_redacted_before_the_rerun_does_not_abort_the_run(
    tmp_path: Path,
) -> None:
    p0, p1 = page("post0"), page("post1")
    a = comment("$a:l", text="kept comment", page="post1", minute=0)
    x = comment("$x:l", text="later redacted", page="post1", minute=1)
    b = comment("$b:l", text="refused at first", page="post1", minute=2)
    site = {p0: [comment("$z:l", text="other page", page="post0")], p1: [a, x, b]}
    archive = tmp_path / "site.archive.jsonl"
    write_archive(archive, SkippingSource(site, {}))

    def refuse(body: dict[str, Any]) -> str | None:
        return "page is locked" if body["text"] == "refused at first" else None

    with ContractServer(refuse_if=refuse) as server:
        config = write_config(tmp_path, archive=archive, target={"type": "http", "url": server.url})
        code, summary, _ = run_json(config)
        assert code == 3 and summary["failed_pages"][0]["page_id"] == "post1"
        # X was redacted in Matrix; the site owner re-extracts to the same archive path
        write_archive(
            archive,
            SkippingSource(
                {p0: site[p0], p1: [a, b]},
                {"post1": [SkippedEvent("$x:l", "post1", "redacted")]},
            ),
        )
        server.refuse_if = None
        result = invoke("-q", "run", "-c", str(config), "--json")
        assert result.exit_code == 0, result.stderr
        assert {c["source"]["id"] for c in server.comments} >= {"$a:l", "$b:l", "$z:l"}


# a reply to a reply of a refused comment hangs under its sent parent
@pytest.mark.isso
def test_reply_of_a_reply_to_a_skipped_comment_hangs_under_its_sent_parent_in_isso(
    tmp_path: Path, isso: IssoServer
) -> None:
    pg = page("post1")
    site = {
        pg: [
            comment("$a:l", text="ok", minute=0),  # too short for Isso: skipped by rule
            comment("$b:l", "$a:l", text="reply to the short one", minute=1, author="bob"),
            comment("$c:l", "$b:l", text="reply to bob's reply", minute=2, author="carol"),
        ]
    }
    archive = make_archive(tmp_path / "site.archive.jsonl", site)
    config = write_config(tmp_path, archive=archive, target={"type": "isso", "url": isso.url})
    code, _, stderr = run_json(config)
    assert code == 0, stderr
    held = {c["author"]: c for c in isso.comments(pg.key)}
    assert held["bob"]["parent"] is None  # B is top level in Isso
    assert held["carol"]["parent"] == held["bob"]["id"], held["carol"]


# a new checkpoint (--reset) over a file that holds the site adds nothing twice
def test_reset_does_not_duplicate_comments_already_in_a_wxr(tmp_path: Path) -> None:
    site = threaded_site(pages=2, per_page=5, depth=2)
    archive = make_archive(tmp_path / "site.archive.jsonl", site)
    target = {"type": "wxr", "output": str(tmp_path / "out.wxr")}
    config = write_config(tmp_path, archive=archive, target=target)
    assert run_json(config)[0] == 0
    # the same site, re-extracted to a new file: the checkpoint identity changes
    fresh = shutil.copyfile(archive, tmp_path / "site-2.archive.jsonl")
    config2 = write_config(tmp_path, archive=Path(fresh), target=target)
    assert invoke("run", "-c", str(config2)).exit_code == 4
    code, _, stderr = run_json(config2, "--reset")
    assert code == 0, stderr
    sidecar = tmp_path / "out.wxr.pages.jsonl"
    ids: Counter[str] = Counter()
    for line in sidecar.read_text().splitlines():
        for item in json.loads(line)["comments"]:
            ids[item["source"]["id"]] += 1
    dupes = {k: v for k, v in ids.items() if v > 1}
    assert not dupes, f"{len(dupes)} comments twice in the WXR"


# a resumed rollback adds to the earlier backup instead of replacing it
class _LockedDelete(ContractServer):
    locked: frozenset[str] = frozenset()

    def _delete(self, comment_id: str) -> tuple[int, Any, dict[str, str]]:
        if comment_id in self.locked:
            return 400, {"error": "comment is locked"}, {}
        return super()._delete(comment_id)


def test_resumed_rollback_keeps_the_backup_of_what_was_already_deleted(tmp_path: Path) -> None:
    site = threaded_site(pages=1, per_page=6, depth=2)
    archive = make_archive(tmp_path / "site.archive.jsonl", site)
    with _LockedDelete() as server:
        config = write_config(tmp_path, archive=archive, target={"type": "http", "url": server.url})
        assert run_json(config)[0] == 0
        # one top-level comment cannot be deleted
        server.locked = frozenset({server.comments[0]["id"]})
        backup = tmp_path / "before-rollback.jsonl"
        first = invoke("rollback", "-c", str(config), "--yes", "--backup", str(backup))
        assert first.exit_code == 3  # some left
        assert len(backup.read_text().splitlines()) == 6
        server.locked = frozenset()
        second = invoke("rollback", "-c", str(config), "--yes", "--backup", str(backup))
        assert second.exit_code == 0, second.stderr
        assert server.comments == []
        saved = {json.loads(line)["source_id"] for line in backup.read_text().splitlines()}
        assert len(saved) == 6, f"the backup now holds only {len(saved)} of the 6 deleted"


# rollback deletes the comments of pages the source no longer lists too
def test_rollback_deletes_what_was_made_even_for_pages_no_longer_in_the_source(
    tmp_path: Path,
) -> None:
    site = threaded_site(pages=2, per_page=4, depth=2)
    archive = make_archive(tmp_path / "site.archive.jsonl", site)
    with ContractServer() as server:
        config = write_config(tmp_path, archive=archive, target={"type": "http", "url": server.url})
        assert run_json(config)[0] == 0
        first_page = next(iter(site))
        make_archive(archive, {first_page: site[first_page]})  # page post1 left the site
        result = invoke(
            "rollback", "-c", str(config), "--yes", "--backup", str(tmp_path / "b.jsonl")
        )
        left = [c["source"]["id"] for c in server.comments]
        assert result.exit_code != 0 or not left, (
            f"rollback said {result.stderr!r} but {len(left)} comments remain"
        )


@pytest.mark.isso
def test_a_new_checkpoint_over_an_isso_that_holds_the_site_sends_nothing_twice(
    tmp_path: Path, isso: IssoServer
) -> None:
    site = threaded_site(pages=2, per_page=6, depth=3)
    archive = make_archive(tmp_path / "site.archive.jsonl", site)
    config = write_config(tmp_path, archive=archive, target={"type": "isso", "url": isso.url})
    assert run_json(config)[0] == 0
    code, summary, stderr = run_json(config, "--reset")
    assert code == 0, stderr
    assert summary["comments_imported"] == 0 and summary["comments_adopted"] == 12
    assert len(isso.rows()) == 12


def test_a_dry_run_leaves_the_real_file_target_alone(tmp_path: Path) -> None:
    site = threaded_site(pages=2, per_page=4, depth=2)
    archive = make_archive(tmp_path / "site.archive.jsonl", site)
    output = tmp_path / "out.wxr"
    config = write_config(tmp_path, archive=archive, target={"type": "wxr", "output": str(output)})
    assert run_json(config, "--page", "post0")[0] == 0
    files = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.glob("out.wxr*")}
    code, summary, _ = run_json(config, "--dry-run", "--dry-run-output", str(tmp_path / "p.jsonl"))
    assert code == 0 and summary["comments_imported"] == 4 and summary["target"] == "wxr"
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.glob("out.wxr*")} == files


def test_edited_comments_sent_before_an_interruption_are_not_edits_on_the_rerun(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The revision is recorded with the mapping: a comment edited in the source before it
    was sent is in the target as it is now, even when its page never finished."""
    import dataclasses
    import threading
    import time
    from datetime import UTC, datetime

    from migrate import ArchiveSource, HttpTarget, Migration
    from migrate.commands.run import RunOptions
    from tests.servers.contract import ContractServer

    site = threaded_site(pages=1, per_page=30)
    edited = datetime(2020, 1, 1, tzinfo=UTC)
    site = {
        p: [dataclasses.replace(c, edited_at=edited) if i % 3 == 0 else c for i, c in enumerate(cs)]
        for p, cs in site.items()
    }
    archive = make_archive(tmp_path / "a.jsonl", site)
    checkpoint = tmp_path / "cp.json"
    with ContractServer(delay=0.03, patching=False, batch=False) as server:
        stop = threading.Event()

        def interrupt() -> None:
            while server.posts < 12:
                time.sleep(0.005)
            stop.set()

        watcher = threading.Thread(target=interrupt)
        watcher.start()
        with Migration(
            ArchiveSource(archive), HttpTarget(server.url), checkpoint=checkpoint, workers=1
        ) as migration:
            first = migration.run(RunOptions(quiet=True), stop=stop)
        watcher.join()
        assert first.interrupted and 10 <= len(server.comments) < 30
        server.delay = 0
        caplog.clear()
        with (
            caplog.at_level("INFO"),
            Migration(
                ArchiveSource(archive), HttpTarget(server.url), checkpoint=checkpoint, workers=1
            ) as migration,
        ):
            second = migration.run(RunOptions(quiet=True))
        assert second.pages_complete == 1 and len(server.comments) == 30
    assert "not applied" not in caplog.text
    assert server.patches == 0
