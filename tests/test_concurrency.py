"""Concurrency inside a page: `workers` requests in flight over the whole run, within and
across pages; targets whose readers see arrival order get one request per page at a time;
refusals, failures and interrupts with comments in flight keep every guarantee."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from migrate import ArchiveSource, HttpTarget, JsonlTarget, Migration, RunOptions
from migrate.model import Comment, OutgoingComment, Page
from migrate.pipeline.transform import send_order
from tests.factories import comment, make_archive, page, threaded_site
from tests.migration_helpers import assert_http_target_holds, run_json, write_config
from tests.servers.contract import ContractServer
from tests.servers.isso import IssoServer
from utils.checkpoint_manager import CheckpointManager


def mappings(checkpoint: Path, page_ids: list[str]) -> dict[str, str]:
    with CheckpointManager(checkpoint_file=checkpoint) as cp:
        return {s: t for pid in page_ids for s, t in cp.state.get_page_mappings(pid)}


def page_status(checkpoint: Path, page_id: str) -> str | None:
    with CheckpointManager(checkpoint_file=checkpoint) as cp:
        return cp.state.get_page_status(page_id)


def held_by_source(server: ContractServer) -> dict[str, str]:
    return {c["source"]["id"]: c["id"] for c in server.comments}


def test_one_big_page_has_workers_requests_in_flight(tmp_path: Path) -> None:
    site = threaded_site(pages=1, per_page=200, depth=4)
    archive = make_archive(tmp_path / "site.archive.jsonl", site)
    with ContractServer(delay=0.02, batch=False) as server:
        config = write_config(
            tmp_path,
            archive=archive,
            target={"type": "http", "url": server.url},
            run={"workers": 4},
        )
        code, summary, stderr = run_json(config)
        assert code == 0, stderr
        assert summary["comments_imported"] == 200
        # one page, yet its comments went out side by side, never more than `workers`
        assert 3 <= server.max_in_flight_per_page["post0"] <= 4
        assert server.max_in_flight <= 4
        assert_http_target_holds(server, site)


def test_workers_bound_the_requests_in_flight_across_pages(tmp_path: Path) -> None:
    site = threaded_site(pages=6, per_page=40, depth=3)
    archive = make_archive(tmp_path / "site.archive.jsonl", site)
    with ContractServer(delay=0.02, batch=False) as server:
        config = write_config(
            tmp_path,
            archive=archive,
            target={"type": "http", "url": server.url},
            run={"workers": 3},
        )
        code, _, stderr = run_json(config)
        assert code == 0, stderr
        # 3 pages at a time, each able to send 3: still 3 requests at once, not 9
        assert server.max_in_flight == 3
        assert_http_target_holds(server, site)


class ArrivalOrderTarget(HttpTarget):
    """An HTTP target whose readers see comments in the order they arrived."""

    capabilities = dataclasses.replace(HttpTarget.capabilities, ordered_per_page=True)


def test_a_target_that_shows_arrival_order_gets_one_request_per_page_in_send_order(
    tmp_path: Path,
) -> None:
    site = threaded_site(pages=4, per_page=30, depth=3)
    archive = make_archive(tmp_path / "site.archive.jsonl", site)
    with ContractServer(delay=0.01) as server:
        migration = Migration(
            ArchiveSource(archive),
            ArrivalOrderTarget(server.url),
            checkpoint=tmp_path / "cp.json",
            workers=4,
        )
        summary = migration.run(RunOptions(quiet=True))
        assert not summary.failed_pages and summary.comments_imported == 120
        assert set(server.max_in_flight_per_page.values()) == {1}
        assert server.max_in_flight > 1  # pages still go side by side
        assert server.batch_requests == 0  # one comment per request, so order is kept
        for pg, comments in site.items():
            arrived = [c["source"]["id"] for c in server.comments if c["page"]["id"] == pg.id]
            assert arrived == [c.id for c in send_order(comments)]


@pytest.mark.isso
def test_isso_threads_show_comments_in_send_order_with_many_workers(
    tmp_path: Path, isso: IssoServer
) -> None:
    site = threaded_site(pages=2, per_page=24, depth=2)
    archive = make_archive(tmp_path / "site.archive.jsonl", site)
    config = write_config(
        tmp_path, archive=archive, target={"type": "isso", "url": isso.url}, run={"workers": 6}
    )
    code, summary, stderr = run_json(config)
    assert code == 0, stderr
    assert summary["comments_imported"] == 48
    for pg, comments in site.items():
        stored = sorted(isso.comments(pg.key), key=lambda c: c["id"])  # Isso's arrival order
        assert [c["text"] for c in stored] == [c.text for c in send_order(comments)]


class RuleTarget(HttpTarget):
    """An HTTP target with a rule known in advance: it refuses texts containing REFUSE."""

    def check(self, outgoing: OutgoingComment) -> str | None:
        return "refused by rule" if "REFUSE" in outgoing.text else None


def refusal_site() -> dict[Page, list[Comment]]:
    """A top-level comment A with a chain of replies B -> C, among many other threads."""
    comments = [comment("$A", minute=0, text="REFUSE me")]
    comments.append(comment("$B", "$A", minute=1, text="reply to A"))
    comments.append(comment("$C", "$B", minute=2, text="reply to B"))
    for i in range(40):
        top = comment(f"$t{i}", minute=3 + 2 * i, text=f"thread {i}")
        comments += [top, comment(f"$r{i}", top.id, minute=4 + 2 * i, text=f"reply {i}")]
    return {page("post1"): comments}


def test_replies_of_a_refused_comment_are_placed_after_it_settles_on_a_resumed_page(
    tmp_path: Path,
) -> None:
    """Run 1 fails the page on A (the server refuses it); run 2 refuses A by rule. Run 2
    looked at every pending comment before sending (reconciliation of a failed page), when
    A still looked sendable: B must still end up at top level, C under B."""
    site = refusal_site()
    archive = make_archive(tmp_path / "site.archive.jsonl", site)

    def refuse_a(body: dict[str, Any]) -> str | None:
        return "no" if body["source"]["id"] == "$A" else None

    with ContractServer(refuse_if=refuse_a, delay=0.005) as server:
        checkpoint = tmp_path / "cp.json"
        first = Migration(
            ArchiveSource(archive), HttpTarget(server.url), checkpoint=checkpoint, workers=6
        ).run(RunOptions(quiet=True))
        assert first.failed_pages and page_status(checkpoint, "post1") == "failed"
        server.refuse_if = None
        second = Migration(
            ArchiveSource(archive), RuleTarget(server.url), checkpoint=checkpoint, workers=6
        ).run(RunOptions(quiet=True))
        assert not second.failed_pages, second.failed_pages
        assert [s["source_id"] for s in second.skipped_comments] == ["$A"]
        held = {c["source"]["id"]: c for c in server.comments}
        assert "$A" not in held
        assert held["$B"]["parent_id"] is None
        assert held["$C"]["parent_id"] == held["$B"]["id"]
        assert len(held) == len(server.comments) == 82  # none twice


@pytest.mark.parametrize("batch", [True, False])
def test_a_failure_mid_page_records_what_was_in_flight_and_a_rerun_completes(
    tmp_path: Path,
    batch: bool,
) -> None:
    site = threaded_site(pages=1, per_page=300, depth=3)
    archive = make_archive(tmp_path / "site.archive.jsonl", site)
    bad = site[page("post0")][150].id

    def refuse(body: dict[str, Any]) -> str | None:
        return "spam filter says no" if body["source"]["id"] == bad else None

    with ContractServer(refuse_if=refuse, delay=0.005, batch=batch) as server:
        config = write_config(
            tmp_path,
            archive=archive,
            target={"type": "http", "url": server.url},
            run={"workers": 8},
        )
        code, summary, _ = run_json(config)
        assert code == 3
        (failed,) = summary["failed_pages"]
        assert "spam filter says no" in failed["error"] and "400" in failed["error"]
        # whatever the server accepted while the page was failing is journaled
        checkpoint = tmp_path / "checkpoint.json"
        assert mappings(checkpoint, ["post0"]) == held_by_source(server)
        assert 0 < len(server.comments) < 300
        server.refuse_if = None
        code, summary, stderr = run_json(config)
        assert code == 0, stderr
        assert_http_target_holds(server, site)


def test_an_interrupt_finishes_what_is_in_flight_and_leaves_the_page_in_progress(
    tmp_path: Path,
) -> None:
    site = threaded_site(pages=1, per_page=400, depth=3)
    archive = make_archive(tmp_path / "site.archive.jsonl", site)
    checkpoint = tmp_path / "cp.json"
    with ContractServer(delay=0.02, batch=False) as server:
        stop = threading.Event()
        timer = threading.Timer(0.4, stop.set)
        timer.start()
        summary = Migration(
            ArchiveSource(archive), HttpTarget(server.url), checkpoint=checkpoint, workers=8
        ).run(RunOptions(quiet=True), stop=stop)
        timer.cancel()
        assert summary.interrupted and summary.pages_interrupted == 1
        assert page_status(checkpoint, "post0") == "in_progress"
        # nothing accepted was left unrecorded: the in-flight ones were waited for
        assert mappings(checkpoint, ["post0"]) == held_by_source(server)
        assert 0 < len(server.comments) < 400
        again = Migration(
            ArchiveSource(archive), HttpTarget(server.url), checkpoint=checkpoint, workers=8
        ).run(RunOptions(quiet=True))
        assert not again.failed_pages and not again.interrupted
        assert_http_target_holds(server, site)


class _PageThreads(JsonlTarget):
    """A JSONL target that notes which thread begins each page, and lingers there so that
    pages side by side, if any, are taken by other threads meanwhile."""

    def __init__(self, output: Path) -> None:
        super().__init__(output)
        self.threads: set[str] = set()

    def begin_page(self, page: Page) -> None:
        self.threads.add(threading.current_thread().name)
        time.sleep(0.02)
        super().begin_page(page)


class _FromAServer(ArchiveSource):
    """An archive read as a source that fetches over a network would be (not local)."""

    local_only = False


@pytest.mark.parametrize(("source", "threads"), [(ArchiveSource, 1), (_FromAServer, 4)])
def test_a_run_between_local_files_works_one_page_at_a_time(
    tmp_path: Path, source: type[ArchiveSource], threads: int
) -> None:
    # threads side by side only take turns on the interpreter when nothing waits on a
    # server (about a tenth more CPU: benchmarks/scale_bench.py --floor-only)
    archive = make_archive(tmp_path / "site.archive.jsonl", threaded_site(pages=12, per_page=3))
    target = _PageThreads(tmp_path / "out.jsonl")
    migration = Migration(source(archive), target, checkpoint=tmp_path / "cp.json", workers=4)
    summary = migration.run(RunOptions(quiet=True))
    assert summary.comments_imported == 36 and not summary.failed_pages
    assert len(target.threads) == threads
