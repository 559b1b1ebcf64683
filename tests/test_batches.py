"""Batches: the HTTP contract's optional `POST /comments/batch`, its discovery and fallback,
per-item results, and no comment twice when a batch answer is lost."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from migrate import HttpTarget
from migrate.abilities import BatchTarget, PageError
from migrate.model import Comment, Created, Page
from migrate.pipeline.ledger import PageLedger
from tests.factories import make_archive, threaded_site
from tests.migration_helpers import assert_http_target_holds, invoke, run_json, write_config
from tests.servers.contract import ContractServer
from tests.servers.killproxy import KillProxy
from utils.checkpoint_manager import CheckpointManager, MappingItem


@pytest.fixture
def site() -> dict[Page, list[Comment]]:
    return threaded_site(pages=3, per_page=60, depth=3)


@pytest.fixture
def archive(tmp_path: Path, site: dict[Page, list[Comment]]) -> Path:
    return make_archive(tmp_path / "site.archive.jsonl", site)


def http_config(tmp_path: Path, archive: Path, url: str, **target: Any) -> Path:
    return write_config(
        tmp_path, archive=archive, target={"type": "http", "url": url, **target}, run={"workers": 4}
    )


def mapped(tmp_path: Path, site: dict[Page, list[Comment]]) -> dict[str, str]:
    with CheckpointManager(checkpoint_file=tmp_path / "checkpoint.json") as cp:
        return {s: t for pg in site for s, t in cp.state.get_page_mappings(pg.id)}


def test_batches_carry_the_comments_and_a_rerun_sends_nothing(
    tmp_path: Path,
    archive: Path,
    site: dict[Page, list[Comment]],
    contract_server: ContractServer,
) -> None:
    config = http_config(tmp_path, archive, contract_server.url)
    code, summary, stderr = run_json(config)
    assert code == 0, stderr
    assert summary["comments_imported"] == 180 and summary["comments_adopted"] == 0
    assert_http_target_holds(contract_server, site)
    # far fewer requests than comments, each item with its own idempotency key
    assert sum(contract_server.batch_sizes) >= 150 and max(contract_server.batch_sizes) > 1
    assert contract_server.posts < 60
    assert {c["idempotency_key"] for c in contract_server.comments} == {
        f"matrix:{c.id}" for cs in site.values() for c in cs
    }
    posts = contract_server.posts
    code, summary, _ = run_json(config)
    assert code == 0 and summary["comments_imported"] == 0
    assert contract_server.posts == posts


@pytest.mark.parametrize(("batch_size", "most"), [(5, 5), (0, 0)])
def test_batch_size_in_the_configuration_bounds_or_forbids_batches(
    tmp_path: Path,
    archive: Path,
    site: dict[Page, list[Comment]],
    contract_server: ContractServer,
    batch_size: int,
    most: int,
) -> None:
    config = http_config(tmp_path, archive, contract_server.url, batch_size=batch_size)
    code, _, stderr = run_json(config)
    assert code == 0, stderr
    assert max(contract_server.batch_sizes, default=0) == most
    if batch_size == 0:
        assert contract_server.batch_requests == 0 and contract_server.posts == 180
    assert_http_target_holds(contract_server, site)


def test_batch_size_must_be_a_count(tmp_path: Path, archive: Path) -> None:
    config = http_config(tmp_path, archive, "http://127.0.0.1:9", batch_size=-1)
    result = invoke("run", "-c", str(config))
    assert result.exit_code == 2
    assert "batch_size" in result.stderr


@pytest.mark.parametrize("missing", [False, 405])
def test_a_server_without_the_batch_endpoint_gets_single_posts(
    tmp_path: Path,
    archive: Path,
    site: dict[Page, list[Comment]],
    missing: bool | int,
) -> None:
    with ContractServer(batch=missing) as server:
        config = http_config(tmp_path, archive, server.url)
        code, summary, stderr = run_json(config)
        assert code == 0, stderr
        assert summary["comments_imported"] == 180
        assert server.batch_sizes == []
        # found out once (a few asked side by side before the first answer), then remembered
        assert 1 <= server.batch_requests <= 4
        assert server.posts == 180 + server.batch_requests
        assert_http_target_holds(server, site)


def test_a_refused_item_fails_its_page_with_the_server_message_and_the_rest_is_recorded(
    tmp_path: Path,
    archive: Path,
    site: dict[Page, list[Comment]],
) -> None:
    bad = next(iter(site.values()))[4].id  # a top-level comment of post0, in the first batch

    def refuse(body: dict[str, Any]) -> str | None:
        return "spam filter says no" if body["source"]["id"] == bad else None

    with ContractServer(refuse_if=refuse) as server:
        config = http_config(tmp_path, archive, server.url)
        code, summary, _ = run_json(config)
        assert code == 3
        assert summary["pages_complete"] == 2
        (failed,) = summary["failed_pages"]
        assert failed["page_id"] == "post0"
        assert "spam filter says no" in failed["error"] and bad in failed["error"]
        assert "400" in failed["error"]
        # the other items of that batch were stored and are journaled
        held = {c["source"]["id"]: c["id"] for c in server.comments}
        batch_mates = [c.id for c in site[next(iter(site))] if c.parent_id is None and c.id != bad]
        assert any(mate in held for mate in batch_mates)
        assert mapped(tmp_path, site) == held
        server.refuse_if = None
        code, _, stderr = run_json(config)
        assert code == 0, stderr
        assert_http_target_holds(server, site)


def test_a_lost_batch_answer_then_a_rerun_leaves_nothing_doubled(
    tmp_path: Path,
    archive: Path,
    site: dict[Page, list[Comment]],
) -> None:
    with ContractServer() as server:
        proxy = KillProxy(server.url).start()
        proxy.drop_posts = {2, 3}  # stored upstream, the answers never arrive
        try:
            config = write_config(
                tmp_path,
                archive=archive,
                target={"type": "http", "url": proxy.url},
                run={"workers": 1, "max_attempts": 1},
            )
            code, summary, _ = run_json(config)
            assert code == 3 and summary["failed_pages"]
            assert proxy.dropped == 2
            stored = len(server.comments)
            assert len(mapped(tmp_path, site)) < stored  # stored, but never heard of
            code, summary, stderr = run_json(config)
        finally:
            proxy.stop()
        assert code == 0, stderr
        assert_http_target_holds(server, site)


def test_a_lost_batch_answer_is_retried_and_the_stored_items_come_back_existing(
    tmp_path: Path,
    archive: Path,
    site: dict[Page, list[Comment]],
) -> None:
    with ContractServer(fail_requests={2: "accept:reset", 5: "accept:503"}) as server:
        config = http_config(tmp_path, archive, server.url)
        code, summary, stderr = run_json(config)
        assert code == 0, stderr
        assert server.faults_injected == 2
        assert summary["comments_adopted"] > 0
        assert summary["comments_imported"] + summary["comments_adopted"] == 180
        assert_http_target_holds(server, site)


def test_faults_on_30_percent_of_batches_give_the_same_result(
    tmp_path: Path,
    archive: Path,
    site: dict[Page, list[Comment]],
) -> None:
    # 500/503/429/reset on 30% of POSTs, a third of them after the batch was stored
    with ContractServer(fault_rate=0.3, accept_then_fail=0.3, seed=7) as server:
        config = write_config(
            tmp_path,
            archive=archive,
            target={"type": "http", "url": server.url, "batch_size": 4},
            run={"workers": 4, "max_attempts": 12},
        )
        code, summary, stderr = run_json(config)
        assert code == 0, stderr
        assert server.faults_injected >= 10 and max(server.batch_sizes) == 4
        assert summary["comments_imported"] + summary["comments_adopted"] == 180
        assert_http_target_holds(server, site)


def test_a_batch_answer_with_the_wrong_number_of_results_fails_the_page(
    tmp_path: Path,
    archive: Path,
    site: dict[Page, list[Comment]],
) -> None:
    def drop_last_result(method: str, path: str, body: bytes) -> bytes | None:
        if path != "/comments/batch":
            return None
        answer = json.loads(body)
        return json.dumps({"results": answer["results"][:-1]}).encode()

    with ContractServer() as server:
        proxy = KillProxy(server.url).start()
        proxy.rewrite = drop_last_result
        try:
            config = http_config(tmp_path, archive, proxy.url)
            code, summary, _ = run_json(config)
        finally:
            proxy.stop()
        assert code == 3
        assert all("results for" in f["error"] for f in summary["failed_pages"])
        assert mapped(tmp_path, site) == {}  # nothing recorded from an answer that is wrong


def test_the_http_target_has_the_batch_ability_and_reads_per_item_results(
    contract_server: ContractServer,
    site: dict[Page, list[Comment]],
) -> None:
    from migrate.model import OutgoingComment

    target = HttpTarget(contract_server.url, batch_size=10)
    assert isinstance(target, BatchTarget) and target.batch_limit() == 10
    pg, comments = next(iter(site.items()))
    tops = [c for c in comments if c.parent_id is None][:3]

    def out(c: Comment, text: str | None = None) -> OutgoingComment:
        return OutgoingComment(c, pg, None, None, text or c.text, None, f"matrix:{c.id}")

    first = target.create_batch([out(tops[0])])
    contract_server.refuse_if = lambda body: "too rude" if body["text"] == "rude" else None
    results = target.create_batch([out(tops[0]), out(tops[1], "rude"), out(tops[2])])
    assert [type(r).__name__ for r in results] == ["Created", "PageError", "Created"]
    again, refused, created = results
    assert isinstance(again, Created) and isinstance(created, Created)
    assert isinstance(first[0], Created)
    assert again.already_existed and again.target_id == first[0].target_id
    assert not created.already_existed
    assert isinstance(refused, PageError) and "too rude" in refused.message
    target.close()


class CountingCheckpoint(CheckpointManager):
    """Counts the calls that record many mappings at once (one journal append each)."""

    calls: list[int]

    def add_id_mappings(self, items: Sequence[MappingItem]) -> list[bool]:
        self.calls.append(len(items))
        return super().add_id_mappings(items)


def test_a_batch_is_recorded_with_one_checkpoint_call_where_the_checkpoint_can(
    tmp_path: Path,
) -> None:
    cp = CountingCheckpoint(checkpoint_file=tmp_path / "cp.json")
    with cp:
        cp.calls = []
        ledger = PageLedger.open(cp, "post1", buffered=False)
        ledger.record_many([("$a", "1"), ("$b", "2"), ("$c", "3")])
        assert cp.calls == [3]
        assert ledger.target_id("$b") == "2"
    with CheckpointManager(checkpoint_file=tmp_path / "cp.json") as reread:
        assert dict(reread.state.get_page_mappings("post1")) == {"$a": "1", "$b": "2", "$c": "3"}


def test_a_missing_batch_endpoint_is_reported_once_per_run(
    tmp_path: Path, archive: Path, site: dict[Page, list[Comment]]
) -> None:
    """Workers that asked side by side learn it together; the log says it once."""
    with ContractServer(batch=False, delay=0.05) as server:
        config = write_config(
            tmp_path,
            archive=archive,
            target={"type": "http", "url": server.url},
            run={"workers": 8},
        )
        code, _, stderr = run_json(config)
        assert code == 0, stderr
        assert server.batch_requests > 1  # several workers did ask
    assert stderr.count("no batch endpoint") == 1, stderr
