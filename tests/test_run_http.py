"""`comment-migrate run` into the HTTP contract target: results, reruns, faults, exit codes."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from migrate.model import Comment, Page
from tests.factories import make_archive, threaded_site
from tests.migration_helpers import (
    assert_http_target_holds,
    invoke,
    run_json,
    start_run,
    write_config,
)
from tests.servers.contract import ContractServer


@pytest.fixture
def site() -> dict[Page, list[Comment]]:
    return threaded_site(pages=3, per_page=12, depth=4)


@pytest.fixture
def archive(tmp_path: Path, site: dict[Page, list[Comment]]) -> Path:
    return make_archive(tmp_path / "site.archive.jsonl", site)


def http_config(tmp_path: Path, archive: Path, server: ContractServer, **run: Any) -> Path:
    return write_config(
        tmp_path, archive=archive, target={"type": "http", "url": server.url}, run=run
    )


@pytest.mark.parametrize("workers", [1, 4])
def test_every_comment_once_under_its_parent_and_a_rerun_sends_nothing(
    tmp_path: Path,
    archive: Path,
    site: dict[Page, list[Comment]],
    contract_server: ContractServer,
    workers: int,
) -> None:
    config = http_config(tmp_path, archive, contract_server, workers=workers)
    code, summary, _ = run_json(config)
    assert code == 0
    assert summary["pages_complete"] == 3 and summary["comments_imported"] == 36
    assert_http_target_holds(contract_server, site)
    # idempotency keys name the source system and id
    assert {c["idempotency_key"] for c in contract_server.comments} == {
        f"matrix:{c.id}" for cs in site.values() for c in cs
    }
    # timestamps travel (this target keeps them)
    first = next(iter(site.values()))[0]
    held = contract_server.by_source_id(first.id)
    assert held is not None and held["created_at"] == "2021-03-14T15:09:26Z"

    posts = contract_server.posts
    code, summary, _ = run_json(config)
    assert code == 0
    assert summary["comments_imported"] == 0 and summary["pages_skipped"] == 3
    assert contract_server.posts == posts  # complete pages are not even looked at


def test_transient_faults_on_30_percent_of_posts_give_the_same_result(
    tmp_path: Path,
    archive: Path,
    site: dict[Page, list[Comment]],
) -> None:
    # 500/503/429/reset on 30% of POSTs, and 10% stored-then-failed (the client never hears)
    # one comment per POST, so 30% of POSTs is many faults (test_batches has its own chaos)
    with ContractServer(fault_rate=0.3, accept_then_fail=0.1, seed=42, batch=False) as server:
        config = http_config(tmp_path, archive, server, max_attempts=12)
        code, summary, _ = run_json(config)
        assert code == 0, summary
        assert server.faults_injected >= 10
        assert_http_target_holds(server, site)


def test_a_refused_comment_fails_its_page_with_the_server_message_and_others_complete(
    tmp_path: Path,
    archive: Path,
    site: dict[Page, list[Comment]],
) -> None:
    def refuse(body: dict[str, Any]) -> str | None:
        return "spam filter says no" if body["text"] == "page 1 comment 6 at level 2" else None

    with ContractServer(refuse_if=refuse) as server:
        config = http_config(tmp_path, archive, server)
        code, summary, stderr = run_json(config)
        assert code == 3
        assert summary["pages_complete"] == 2 and summary["pages_failed"] == 1
        (failed,) = summary["failed_pages"]
        assert failed["page_id"] == "post1"
        assert "spam filter says no" in failed["error"] and "400" in failed["error"]
        assert "FAILED post1" in stderr and "spam filter says no" in stderr

        status = invoke("status", "-c", str(config))
        assert status.exit_code == 3
        assert "post1" in status.stdout and "spam filter says no" in status.stdout
        status_json = json.loads(invoke("status", "-c", str(config), "--json").stdout)
        assert status_json["failed_pages"][0]["page_id"] == "post1"
        assert status_json["failed_pages"][0]["retryable"] is False

        # the cause is fixed: the rerun imports only what is missing
        server.refuse_if = None
        posts_before = len(server.comments)
        code, summary, _ = run_json(config)
        assert code == 0
        assert summary["pages_skipped"] == 2
        assert summary["comments_imported"] == 36 - posts_before
        assert_http_target_holds(server, site)


def test_only_failed_and_single_page_selection(
    tmp_path: Path,
    archive: Path,
    site: dict[Page, list[Comment]],
) -> None:
    with ContractServer(refuse_if=lambda b: "no" if b["page"]["id"] == "post2" else None) as srv:
        config = http_config(tmp_path, archive, srv)
        code, _, _ = run_json(config, "--page", "post0")
        assert code == 0
        assert {c["page"]["id"] for c in srv.comments} == {"post0"}
        code, summary, _ = run_json(config)
        assert code == 3 and summary["failed_pages"][0]["page_id"] == "post2"
        srv.refuse_if = None
        code, summary, _ = run_json(config, "--only-failed")
        assert code == 0 and summary["comments_imported"] == 12
        assert_http_target_holds(srv, site)


def test_unknown_page_is_a_usage_error(
    tmp_path: Path, archive: Path, contract_server: ContractServer
) -> None:
    config = http_config(tmp_path, archive, contract_server)
    result = invoke("run", "-c", str(config), "--page", "nope")
    assert result.exit_code == 2
    assert "no such page in the source: nope" in result.stderr
    assert contract_server.posts == 0


def test_dry_run_sends_nothing_and_keeps_no_state(
    tmp_path: Path,
    archive: Path,
    contract_server: ContractServer,
) -> None:
    config = http_config(tmp_path, archive, contract_server)
    plan = tmp_path / "plan.jsonl"
    code, summary, _ = run_json(config, "--dry-run", "--dry-run-output", str(plan))
    assert code == 0 and summary["dry_run"] is True
    assert contract_server.requests == 0
    assert not (tmp_path / "checkpoint.json").exists()
    records = [json.loads(line) for line in plan.read_text().splitlines()]
    assert len(records) == 36
    # the real run afterwards still sends everything
    code, summary, _ = run_json(config)
    assert code == 0 and summary["comments_imported"] == 36


def test_a_checkpoint_of_another_migration_is_refused_unless_reset(
    tmp_path: Path,
    archive: Path,
    contract_server: ContractServer,
) -> None:
    config = http_config(tmp_path, archive, contract_server)
    assert run_json(config)[0] == 0
    with ContractServer() as other:
        moved = http_config(tmp_path, archive, other)
        result = invoke("run", "-c", str(moved))
        assert result.exit_code == 4
        assert "target.url" in result.stderr and other.url in result.stderr
        assert other.posts == 0
        code, summary, _ = run_json(moved, "--reset")
        assert code == 0 and summary["comments_imported"] == 36
        assert list(tmp_path.glob("checkpoint.json.*.bak")), "the old checkpoint was kept"


def test_a_corrupt_checkpoint_stops_before_anything_is_sent(
    tmp_path: Path,
    archive: Path,
    contract_server: ContractServer,
) -> None:
    config = http_config(tmp_path, archive, contract_server)
    (tmp_path / "checkpoint.json").write_text('{"version": 1, "pages": ')
    result = invoke("run", "-c", str(config))
    assert result.exit_code == 4
    assert "checkpoint.json" in result.stderr
    assert contract_server.requests == 0


def test_a_bad_config_stops_before_anything_is_written(
    tmp_path: Path,
    archive: Path,
    contract_server: ContractServer,
) -> None:
    config = http_config(tmp_path, archive, contract_server)
    config.write_text(config.read_text().replace("workers = 2", 'workers = "many"'))
    result = invoke("run", "-c", str(config))
    assert result.exit_code == 2
    assert "run.workers" in result.stderr and str(config) in result.stderr
    assert contract_server.requests == 0
    assert not (tmp_path / "checkpoint.json").exists()


def test_a_target_token_comes_from_the_environment_and_is_never_printed(
    tmp_path: Path,
    archive: Path,
    site: dict[Page, list[Comment]],
) -> None:
    secret = "s3cr3t-target-token"
    with ContractServer(token=secret) as server:
        config = write_config(
            tmp_path,
            archive=archive,
            target={"type": "http", "url": server.url, "token_env": "CM_TEST_TOKEN"},
        )
        result = invoke("-vv", "run", "-c", str(config), "--json", env={"CM_TEST_TOKEN": secret})
        assert result.exit_code == 0
        assert secret not in result.stdout + result.stderr
        checkpoint_files = list(tmp_path.glob("checkpoint.json*"))
        assert checkpoint_files
        assert all(secret not in p.read_text() for p in checkpoint_files)
        assert_http_target_holds(server, site)
        # without the token nothing is sent, and the error names the variable
        server.reset()
        result = invoke("run", "-c", str(config), "--reset", env={"CM_TEST_TOKEN": ""})
        assert result.exit_code == 2
        assert "CM_TEST_TOKEN" in result.stderr and server.requests == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_finishes_in_flight_saves_and_exits_130_then_the_rerun_completes(
    tmp_path: Path,
    archive: Path,
    site: dict[Page, list[Comment]],
    sig: signal.Signals,
) -> None:
    with ContractServer(delay=0.05) as server:
        config = http_config(tmp_path, archive, server, workers=1)
        proc = start_run(config)
        deadline = time.monotonic() + 30
        while server.posts < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 130, stderr
        sent = len(server.comments)
        assert 5 <= sent < 36
        assert "interrupted" in stderr
        assert "Fix the cause" not in stderr  # nothing to fix: an interruption is no failure
        assert invoke("checkpoint", "validate", str(tmp_path / "checkpoint.json")).exit_code == 0
        status = json.loads(invoke("status", "-c", str(config), "--json").stdout)
        assert status["mappings"] == sent  # the comment in flight was finished and recorded
        server.delay = 0
        code, summary, _ = run_json(config)
        assert code == 0 and summary["comments_imported"] == 36 - sent
        assert_http_target_holds(server, site)


def test_a_second_interrupt_exits_130_at_once_and_the_checkpoint_stays_consistent(
    tmp_path: Path,
    archive: Path,
    site: dict[Page, list[Comment]],
) -> None:
    # a slow target: the graceful stop would wait for the comment in flight (2 s)
    with ContractServer(delay=2.0) as server:
        config = http_config(tmp_path, archive, server, workers=2)
        proc = start_run(config)
        deadline = time.monotonic() + 30
        while server.requests < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        # two signals that arrive before the handler ran count as one: wait until it ran
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert "finishing the comments in flight" in first, first
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 130, first + stderr
        assert time.monotonic() - started < 1.5, "the second interrupt did not stop at once"
        assert "second interrupt" in stderr
        assert invoke("checkpoint", "validate", str(tmp_path / "checkpoint.json")).exit_code == 0
        server.delay = 0
        code, _, _ = run_json(config)
        assert code == 0
        assert_http_target_holds(server, site)


def test_a_dry_run_after_a_partial_run_plans_only_what_is_missing(
    tmp_path: Path,
    archive: Path,
    site: dict[Page, list[Comment]],
) -> None:
    with ContractServer(refuse_if=lambda b: "no" if b["page"]["id"] == "post2" else None) as srv:
        config = http_config(tmp_path, archive, srv)
        assert run_json(config)[0] == 3
        posts, before = srv.posts, (tmp_path / "checkpoint.json").read_bytes()
        code, summary, stderr = run_json(
            config, "--dry-run", "--dry-run-output", str(tmp_path / "plan.jsonl")
        )
        assert code == 0 and summary["comments_imported"] == 12 and summary["pages_skipped"] == 2
        assert "nothing was sent to the http target" in stderr and "12 would be sent" in stderr
        assert srv.posts == posts  # nothing sent
        assert (tmp_path / "checkpoint.json").read_bytes() == before  # nothing recorded


def test_an_unset_token_variable_stops_the_run_before_the_first_request(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "a.jsonl", threaded_site(pages=2, per_page=3))
    with ContractServer(token="right") as server:
        config = write_config(
            tmp_path,
            archive=archive,
            target={"type": "http", "url": server.url, "token_env": "CM_UNSET_TOKEN"},
        )
        result = invoke("run", "-c", str(config), env={"CM_UNSET_TOKEN": None})
        assert server.posts == 0 and server.requests == 0
    assert result.exit_code == 2, result.output
    assert "CM_UNSET_TOKEN" in result.stderr and "is not set" in result.stderr
    assert not (tmp_path / "checkpoint.json").exists()
