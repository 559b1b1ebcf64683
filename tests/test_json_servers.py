"""JSON export sources into real servers: Commento's export into a real Isso over its API,
and Twikoo's export into the Worker on workerd (every comment once, under its parent,
author and time kept, spam and cycles left out)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from migrate.files.records import rfc3339
from tests import json_exports
from tests.json_exports import EXPECTED, FIRST, ROWS
from tests.migration_helpers import invoke, run_json, write_config
from tests.servers.isso import IssoServer
from tests.servers.workerd import WorkerServer

ROW = {row.id: row for row in ROWS}


@pytest.mark.isso
def test_commento_export_into_isso_over_its_api(isso: IssoServer, tmp_path: Path) -> None:
    export = json_exports.commento(tmp_path / "commento-export.json")
    config = write_config(
        tmp_path,
        source={"type": "commento", "path": str(export)},
        target={"type": "isso", "url": isso.url},
    )
    code, summary, stderr = run_json(config)
    assert code == 0, stderr
    thread = isso.threads(FIRST)["replies"]
    tops = {c["author"]: c for c in thread}
    # Isso holds two levels: Cy's reply to Bob sits under Ann's comment, naming Bob
    assert set(tops) == {"Ann", "Anonymous", "Ola"}, "a1, the tombstone d1, the orphan o1"
    assert "Buy pills" not in str(thread) and "gone" not in str(thread), "spam, deleted out"
    assert "Waiting for a moderator" not in str(thread), "pending never published"
    under_ann = [(c["author"], c["text"]) for c in tops["Ann"]["replies"]]
    # Isso stores names HTML-escaped, as its own API does: readers see "Cy <b>"
    assert under_ann == [("Bob", "I *agree* <3"), ("Cy &lt;b&gt;", "@Bob: Third level")]
    assert [c["author"] for c in tops["Anonymous"]["replies"]] == ["Dee"]
    assert [c["text"] for c in isso.threads("/blog/second/")["replies"]] == ["Second page"]
    assert {e["source_id"] for e in summary["skipped_events"]} == {"s1", "d3"}
    assert [c["source_id"] for c in summary["skipped_comments"]] == ["p1"]


@pytest.mark.workerd
def test_twikoo_export_into_the_worker(
    worker: WorkerServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"/twikoo-{uuid.uuid4().hex[:8]}"  # the Worker is shared by the session's tests
    export = json_exports.twikoo(tmp_path / "twikoo.json", lines=True, prefix=prefix)
    monkeypatch.setenv("TARGET_TOKEN", worker.token)
    config = write_config(
        tmp_path,
        source={"type": "twikoo", "path": str(export)},
        target={"type": "http", "url": worker.url, "token_env": "TARGET_TOKEN"},
    )
    code, _, stderr = run_json(config)
    assert code == 0, stderr
    expected = EXPECTED["twikoo"].parents
    first, second = prefix + FIRST, prefix + "/blog/second/"
    held = worker.list_page(first) + worker.list_page(second)
    source_of = {item["id"]: item["source"]["id"] for item in held}
    assert sorted(source_of.values()) == sorted(expected), "every comment once, spam out"
    for item in held:
        sid = item["source"]["id"]
        parent = source_of[item["parent_id"]] if item["parent_id"] else None
        assert parent == expected[sid]
        assert item["created_at"] == rfc3339(ROW[sid].created)
        assert item["author"]["name"] == ROW[sid].name
    # a second run sends nothing again
    again = invoke("-q", "run", "-c", str(config))
    assert again.exit_code == 0
    assert len(worker.list_page(first)) == len([s for s in expected if ROW[s].page == FIRST])
