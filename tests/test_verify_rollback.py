"""`verify` finds every kind of difference; `rollback` deletes what the migration made."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from migrate.model import Comment, Page
from tests.factories import make_archive, threaded_site
from tests.migration_helpers import invoke, run_json, subprocess_env, write_config
from tests.servers.contract import ContractServer
from tests.servers.isso import IssoServer
from tests.servers.killproxy import KillProxy


@pytest.fixture
def site() -> dict[Page, list[Comment]]:
    return threaded_site(pages=2, per_page=10, depth=3)


@pytest.fixture
def archive(tmp_path: Path, site: dict[Page, list[Comment]]) -> Path:
    return make_archive(tmp_path / "site.archive.jsonl", site)


@pytest.fixture
def migrated_http(tmp_path: Path, archive: Path, contract_server: ContractServer) -> Path:
    """The config of a finished run of the archive into the contract server."""
    config = write_config(
        tmp_path, archive=archive, target={"type": "http", "url": contract_server.url}
    )
    assert run_json(config)[0] == 0
    return config


def verify_json(config: Path) -> tuple[int, dict[str, Any]]:
    result = invoke("verify", "-c", str(config), "--json")
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize("kind", ["http", "wxr", "jsonl"])
def test_verify_after_a_clean_run_agrees(
    tmp_path: Path, archive: Path, contract_server: ContractServer, kind: str
) -> None:
    target: dict[str, Any] = (
        {"type": "http", "url": contract_server.url}
        if kind == "http"
        else {"type": kind, "output": str(tmp_path / f"out.{kind}")}
    )
    config = write_config(tmp_path, archive=archive, target=target)
    assert run_json(config)[0] == 0
    code, report = verify_json(config)
    assert code == 0, report
    assert report["ok"] and report["pages_checked"] == 2
    human = invoke("verify", "-c", str(config))
    assert human.exit_code == 0 and "source and target agree" in human.stdout


def test_verify_reports_missing_extra_wrong_parent_and_changed_text(
    migrated_http: Path, contract_server: ContractServer
) -> None:
    config = migrated_http
    held = contract_server.comments
    on_post0 = [c for c in held if c["page"]["id"] == "post0"]
    gone = on_post0[-1]  # a leaf: deleting it orphans nobody
    held.remove(gone)
    on_post0[1]["text"] = "edited in the target"
    reply = next(c for c in on_post0 if c["parent_id"] is not None and c is not on_post0[1])
    reply["parent_id"] = None
    held.append({**on_post0[0], "id": "c999", "source": {**on_post0[0]["source"], "id": "x"}})

    code, report = verify_json(config)
    assert code == 3 and not report["ok"]
    post0 = next(p for p in report["pages"] if p["page_id"] == "post0")
    post1 = next(p for p in report["pages"] if p["page_id"] == "post1")
    assert post1["ok"]
    assert post0["missing"] == [gone["source"]["id"]]
    assert post0["extra"] == ["c999"]
    assert post0["duplicates"] == [{"target_id": "c999", "source_id": on_post0[0]["source"]["id"]}]
    assert [w["target_id"] for w in post0["wrong_parent"]] == [reply["id"]]
    assert [c["actual"] for c in post0["changed_text"]] == ["edited in the target"]
    human = invoke("verify", "-c", str(config))
    assert human.exit_code == 3 and "DIFFERS  post0" in human.stdout


def test_a_visitors_comment_is_listed_and_a_second_copy_is_a_duplicate(
    migrated_http: Path, contract_server: ContractServer
) -> None:
    # after the switch visitors comment on the new site: verify names those comments and
    # leaves them, and still fails a page where a migrated comment shows twice
    config = migrated_http
    held = contract_server.comments
    first = next(c for c in held if c["page"]["id"] == "post0")
    visitor = {
        **first,
        "id": "v1",
        "parent_id": None,
        "author": {**first["author"], "name": "A Visitor"},
        "text": "Posted on the new site after the switch",
        "html": "<p>Posted on the new site after the switch</p>",
        "source": {**first["source"], "id": "visitor"},
    }
    held.append(visitor)
    code, report = verify_json(config)
    assert code == 0 and report["ok"], report
    post0 = next(p for p in report["pages"] if p["page_id"] == "post0")
    assert (post0["extra"], post0["foreign"], post0["duplicates"]) == (["v1"], ["v1"], [])
    human = invoke("verify", "-c", str(config))
    assert human.exit_code == 0, human.stdout
    assert "1 on the target not made by this migration, left as they are (target ids v1)" in (
        human.stdout
    )

    held.append({**first, "id": "dup1", "source": {**first["source"], "id": "again"}})
    code, report = verify_json(config)
    assert code == 3 and not report["ok"]
    post0 = next(p for p in report["pages"] if p["page_id"] == "post0")
    assert post0["duplicates"] == [{"target_id": "dup1", "source_id": first["source"]["id"]}]
    assert post0["foreign"] == ["v1"]
    human = invoke("verify", "-c", str(config))
    assert human.exit_code == 3
    assert f"duplicate target id dup1: a second copy of {first['source']['id']}" in human.stdout


@pytest.mark.isso
def test_verify_isso_predicts_two_level_flattening(
    tmp_path: Path, archive: Path, isso: IssoServer
) -> None:
    config = write_config(tmp_path, archive=archive, target={"type": "isso", "url": isso.url})
    assert run_json(config)[0] == 0
    code, report = verify_json(config)
    assert code == 0, report


def test_rollback_deletes_replies_first_after_a_backup(
    tmp_path: Path,
    archive: Path,
    site: dict[Page, list[Comment]],
    contract_server: ContractServer,
) -> None:
    proxy = KillProxy(contract_server.url).start()
    try:
        config = write_config(tmp_path, archive=archive, target={"type": "http", "url": proxy.url})
        assert run_json(config)[0] == 0
        made = {c["id"]: c for c in contract_server.comments}
        contract_server.comments.append(
            {**next(iter(made.values())), "id": "not-ours", "idempotency_key": None}
        )
        backup = tmp_path / "backup.jsonl"
        proxy.log.clear()
        result = invoke("rollback", "-c", str(config), "--backup", str(backup), "--yes")
        assert result.exit_code == 0, result.stderr
        assert [c["id"] for c in contract_server.comments] == ["not-ours"]  # only ours went
        deleted = [path.rsplit("/", 1)[1] for method, path in proxy.log if method == "DELETE"]
        assert sorted(deleted) == sorted(made)
        position = {cid: i for i, cid in enumerate(deleted)}
        for cid, comment in made.items():
            if comment["parent_id"]:
                assert position[cid] < position[comment["parent_id"]], "a parent went first"
        saved = [json.loads(line) for line in backup.read_text().splitlines()]
        assert {s["target_id"] for s in saved} == set(made)
        assert all(s["present"] and s["text"] for s in saved)
        assert list(tmp_path.glob("checkpoint.json.*.bak"))
        # a new run starts from scratch and imports everything again
        code, summary, _ = run_json(config)
        assert code == 0 and summary["comments_imported"] == 20
    finally:
        proxy.stop()


def test_rollback_asks_first_and_no_answer_deletes_nothing(
    tmp_path: Path,
    archive: Path,
    contract_server: ContractServer,
) -> None:
    config = write_config(
        tmp_path, archive=archive, target={"type": "http", "url": contract_server.url}
    )
    assert run_json(config)[0] == 0
    result = invoke("rollback", "-c", str(config), "--backup", str(tmp_path / "b.jsonl"))
    assert result.exit_code == 1  # no answer on stdin: aborted
    assert "Delete 20 comments" in result.stderr
    assert len(contract_server.comments) == 20


def test_a_failed_backup_prevents_any_deletion(
    tmp_path: Path,
    archive: Path,
    contract_server: ContractServer,
) -> None:
    config = write_config(
        tmp_path, archive=archive, target={"type": "http", "url": contract_server.url}
    )
    assert run_json(config)[0] == 0
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = invoke("rollback", "-c", str(config), "--backup", str(blocker / "b.jsonl"), "--yes")
    assert result.exit_code == 1
    assert "cannot write the backup" in result.stderr and "nothing was deleted" in result.stderr
    assert len(contract_server.comments) == 20


@pytest.mark.isso
def test_a_target_that_cannot_delete_says_so_with_exit_2(
    tmp_path: Path,
    archive: Path,
    isso: IssoServer,
) -> None:
    config = write_config(tmp_path, archive=archive, target={"type": "isso", "url": isso.url})
    assert run_json(config)[0] == 0
    result = invoke("rollback", "-c", str(config), "--yes")
    assert result.exit_code == 2
    assert "cannot delete" in result.stderr
    assert len(isso.rows()) == 20


@pytest.mark.isso
def test_isso_rollback_deletes_comments_created_long_ago(
    tmp_path: Path,
    archive: Path,
    isso: IssoServer,
) -> None:
    config = write_config(
        tmp_path,
        archive=archive,
        target={"type": "isso", "url": isso.url, "db_path": str(isso.db_path)},
    )
    assert run_json(config)[0] == 0
    for row in isso.rows():
        isso.age_comment(row["id"], created=1_400_000_000.0)  # 2014
    result = invoke("rollback", "-c", str(config), "--yes", "--backup", str(tmp_path / "b.jsonl"))
    assert result.exit_code == 0, result.stderr
    assert isso.comments("/post0/") == [] and isso.comments("/post1/") == []


def test_an_interrupted_rollback_resumes(
    tmp_path: Path,
    archive: Path,
    contract_server: ContractServer,
) -> None:
    config = write_config(
        tmp_path, archive=archive, target={"type": "http", "url": contract_server.url}
    )
    assert run_json(config)[0] == 0
    contract_server.delay = 0.05
    child = subprocess.Popen(
        [sys.executable, "-m", "migrate", "rollback", "-c", str(config), "--yes"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 30
    while len(contract_server.comments) > 15 and time.monotonic() < deadline:
        time.sleep(0.01)
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=30)
    assert child.returncode == 130, stderr
    left = len(contract_server.comments)
    assert 0 < left < 20
    # a run in between is refused: the rollback is unfinished
    result = invoke("run", "-c", str(config))
    assert result.exit_code == 4 and "rollback" in result.stderr
    contract_server.delay = 0
    result = invoke("rollback", "-c", str(config), "--yes", "--backup", str(tmp_path / "b2.jsonl"))
    assert result.exit_code == 0, result.stderr
    assert contract_server.comments == []
    assert len((tmp_path / "b2.jsonl").read_text().splitlines()) == left


def test_without_the_listing_endpoint_verify_and_rollback_say_so_and_delete_nothing(
    tmp_path: Path,
    archive: Path,
) -> None:
    with ContractServer(listing=False) as server:
        config = write_config(tmp_path, archive=archive, target={"type": "http", "url": server.url})
        assert run_json(config)[0] == 0
        result = invoke("verify", "-c", str(config))
        assert result.exit_code == 2 and "page_id" in result.stderr
        result = invoke(
            "rollback", "-c", str(config), "--yes", "--backup", str(tmp_path / "b.jsonl")
        )
        assert result.exit_code == 2 and "page_id" in result.stderr
        assert len(server.comments) == 20
