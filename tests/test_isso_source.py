"""Isso's database as a source: read-only, safe while Isso runs, into Waline, another Isso and
the Worker (each verified and rolled back)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from migrate.errors import SourceError
from migrate.model import DELETED_TEXT
from migrate.systems.isso import IssoSource
from migrate.testing.isso import IssoServer
from migrate.testing.waline import WalineServer
from tests.isso_site import PAGES, IssoSite, moderate, seed_isso
from tests.migration_helpers import invoke, run_json, write_config
from tests.servers.workerd import WorkerServer

pytestmark = pytest.mark.isso


@pytest.fixture
def isso_site(isso_factory: Callable[..., IssoServer]) -> IssoSite:
    return seed_isso(isso_factory(moderation__enabled="true"))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_reads_every_thread_and_comment_as_isso_holds_them(isso_site: IssoSite) -> None:
    rows = {row["id"]: row for row in isso_site.server.rows()}
    source = IssoSource(isso_site.server.db_path)
    try:
        pages = list(source.pages())
        assert [p.key for p in pages] == list(PAGES)
        assert pages[0].title == f"Post {PAGES[0]}"
        read = {p.key: source.comments(p) for p in pages}
    finally:
        source.close()
    by_label = {
        label: c
        for page in read.values()
        for c in page.comments
        for label, cid in isso_site.ids.items()
        if c.id == str(cid)
    }
    assert set(by_label) == set(isso_site.ids) - {isso_site.removed}
    ids = isso_site.ids
    assert by_label["b"].parent_id == str(ids["a"])
    assert by_label["c"].parent_id == str(ids["a"])  # Isso's two levels, as stored
    assert by_label["held"].status == "pending"
    tomb = by_label[isso_site.tombstone]
    assert tomb.deleted and tomb.text == DELETED_TEXT and tomb.author.name == ""
    assert by_label["d-reply"].parent_id == tomb.id
    assert by_label["e"].author.name == ""
    assert by_label["f"].text == "Ünïcode and emoji 🎉 survive"
    for label, comment in by_label.items():
        row = rows[ids[label]]
        assert comment.created_at == datetime.fromtimestamp(row["created"], UTC)
        if label != isso_site.tombstone:
            assert comment.text == row["text"]


def test_never_writes_the_database_and_waits_out_isso_s_write_lock(
    isso_site: IssoSite,
) -> None:
    db = isso_site.server.db_path
    before = digest(db)
    writer = sqlite3.connect(db, timeout=1)
    writer.execute("BEGIN IMMEDIATE")  # Isso writing: readers wait, never fail at once
    writer.execute("UPDATE comments SET likes = 7 WHERE id = ?", (isso_site.ids["a"],))
    source = IssoSource(db)
    try:
        pages = list(source.pages())
        writer.commit()
        first = source.comments(pages[0])
        assert {c.likes for c in first.comments if c.id == str(isso_site.ids["a"])} == {7}
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            source._db.execute("DELETE FROM comments")
    finally:
        source.close()
        writer.close()
    assert digest(db) != before  # the test's own write, not the source's
    after = digest(db)
    source = IssoSource(db)
    list(source.pages())
    source.close()
    assert digest(db) == after
    assert not db.with_name(db.name + "-journal").exists()


def test_a_database_in_wal_mode_is_read_while_a_write_is_in_progress(
    isso_site: IssoSite,
) -> None:
    """Some sites switch Isso's database to WAL: a reader sees the last committed state and
    never waits for the writer."""
    db = isso_site.server.db_path
    writer = sqlite3.connect(db, timeout=5)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE comments SET text = 'rewritten' WHERE id = ?", (isso_site.ids["a"],))
    source = IssoSource(db)
    try:
        (first, _) = source.pages()
        texts = {c.id: c.text for c in source.comments(first).comments}
        assert texts[str(isso_site.ids["a"])] == "First **comment** on the first post"
        writer.commit()
        texts = {c.id: c.text for c in source.comments(first).comments}
        assert texts[str(isso_site.ids["a"])] == "rewritten"
    finally:
        source.close()
        writer.close()


def test_a_missing_or_foreign_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        IssoSource(tmp_path / "nope.db")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE x (y)").connection.close()
    with pytest.raises(SourceError, match="not a readable Isso database"):
        IssoSource(other)


def isso_source(site: IssoSite) -> dict[str, str]:
    return {"type": "isso", "db_path": str(site.server.db_path)}


@pytest.mark.waline
def test_isso_into_waline_then_verify_and_rollback_leave_a_visitor_s_comment(
    isso_site: IssoSite, waline: WalineServer, tmp_path: Path
) -> None:
    env = {"WALINE_TOKEN": waline.admin_token()}
    visitor = waline.post_comment(PAGES[0], "A visitor was here first", nick="Visitor")
    config = write_config(
        tmp_path, source=isso_source(isso_site), target={"type": "waline", "url": waline.url}
    )
    before = digest(isso_site.server.db_path)
    code, _summary, stderr = run_json(config, env=env)
    assert code == 0, stderr
    assert digest(isso_site.server.db_path) == before
    rows = {row["id"]: row for row in isso_site.server.rows()}
    ids = isso_site.ids
    shown = {c["orig"]: c for page in PAGES for c in waline.widget(page)}
    for label in isso_site.visible():
        row = rows[ids[label]]
        held = shown[row["text"]]
        assert held["time"] == int(row["created"] * 1000)  # to the millisecond, in Shanghai
        assert held["nick"] == (row["author"] or "")
    assert "Still waiting for moderation" not in shown  # pending stays hidden
    admin = {c["orig"]: c for c in waline.widget(PAGES[1], admin=True)}
    assert admin["Still waiting for moderation"]["status"] == "waiting"
    reply = shown["Replying to what Dee deleted"]
    tomb = next(c for c in waline.widget(PAGES[0]) if c["orig"] == DELETED_TEXT)
    assert reply["pid"] == tomb["objectId"] and reply["rid"] == tomb["objectId"]
    c_reply = shown["Cy answers Bob (Isso keeps it under Ann)"]
    assert c_reply["pid"] == shown[rows[ids["a"]]["text"]]["objectId"]
    assert sum(1 for row in waline.rows() if row["nick"] == "Visitor") == 1

    # verify names the visitor's comment as the one comment the migration did not make,
    # and leaves it: not a difference, not a duplicate
    verified = invoke("verify", "-c", str(config), "--json", env=env)
    report = json.loads(verified.stdout.strip().splitlines()[-1])
    assert verified.exit_code == 0 and report["ok"] and report["comments_differing"] == 0
    assert [p["extra"] for p in report["pages"]] == [[str(visitor["objectId"])], []]
    assert [p["foreign"] for p in report["pages"]] == [[str(visitor["objectId"])], []]
    assert all(p["duplicates"] == [] for p in report["pages"])
    assert all(p["differences"] == [] for p in report["pages"])
    rolled = invoke(
        "rollback", "-c", str(config), "--yes", "--backup", str(tmp_path / "b.jsonl"), env=env
    )
    assert rolled.exit_code == 0, rolled.output
    left = waline.rows()
    assert [(r["id"], r["comment"]) for r in left] == [
        (visitor["objectId"], "A visitor was here first")
    ]


@pytest.mark.waline
def test_sync_carries_isso_edits_and_deletions_into_waline(
    isso_site: IssoSite, waline: WalineServer, tmp_path: Path
) -> None:
    """An author's own edit (Isso's `PUT /id/<id>` with the cookie it gave the author, which
    stamps `modified`) reaches Waline; the comment keeps its id and time. A comment Isso
    removed outright (no replies: Isso keeps no record of it) is not deleted: only a deletion
    the source records deletes, never "not seen in this read" (issue 20's rule)."""
    server = isso_site.server
    author = requests.Session()  # the author's browser: keeps Isso's edit cookie
    posted = author.post(
        f"{server.url}/new",
        params={"uri": PAGES[1]},
        json={"text": "Typo in thsi comment", "author": "Hal"},
        timeout=10,
    )
    assert posted.status_code == 202, posted.text  # moderation is on
    moderate(server, posted.json()["id"], "activate")
    env = {"WALINE_TOKEN": waline.admin_token()}
    config = write_config(
        tmp_path, source=isso_source(isso_site), target={"type": "waline", "url": waline.url}
    )
    code, _, stderr = run_json(config, env=env)
    assert code == 0, stderr
    before = {c["orig"]: c for c in waline.widget(PAGES[1])}
    edit = author.put(
        f"{server.url}/id/{posted.json()['id']}",
        json={"text": "Typo in this comment, fixed", "author": "Hal"},
        timeout=10,
    )
    assert edit.status_code == 200, edit.text
    moderate(server, isso_site.ids["f"], "delete")  # no replies: the row goes
    synced = invoke("-q", "sync", "-c", str(config), env=env)
    assert synced.exit_code == 0, synced.output
    after = {c["orig"]: c for c in waline.widget(PAGES[1])}
    assert "Ünïcode and emoji 🎉 survive" in after
    fixed, typo = after["Typo in this comment, fixed"], before["Typo in thsi comment"]
    assert (fixed["objectId"], fixed["time"]) == (typo["objectId"], typo["time"])
    # verify names it: the target shows a comment the source no longer has
    verified = invoke("verify", "-c", str(config), "--json", env=env)
    assert verified.exit_code == 3
    report = json.loads(verified.stdout)
    extra = {p["page_id"]: p["extra"] for p in report["pages"] if p["extra"]}
    assert extra == {PAGES[1]: [str(after["Ünïcode and emoji 🎉 survive"]["objectId"])]}
    stale = {p["page_id"]: p["stale"] for p in report["pages"] if p["stale"]}
    assert stale == extra  # made by the migration, not a visitor's: a difference


def test_isso_into_another_isso(
    isso_site: IssoSite, isso_factory: Callable[..., IssoServer], tmp_path: Path
) -> None:
    target = isso_factory()
    config = write_config(
        tmp_path,
        source=isso_source(isso_site),
        target={"type": "isso", "url": target.url, "db_path": str(target.db_path)},
    )
    code, _summary, stderr = run_json(config)
    assert code == 0, stderr
    rows = {row["id"]: row for row in isso_site.server.rows()}
    moved = {c["text"]: c for page in PAGES for c in target.comments(page)}
    for label in isso_site.visible():
        assert rows[isso_site.ids[label]]["text"] in moved
    reply = moved["A reply to Ann, with a [link](https://example.org/x)"]
    assert moved[reply["text"]]["parent"] == moved["First **comment** on the first post"]["id"]
    assert invoke("verify", "-c", str(config)).exit_code == 0
    rolled = invoke("rollback", "-c", str(config), "--yes", "--backup", str(tmp_path / "b.jsonl"))
    assert rolled.exit_code == 0, rolled.output
    assert all(target.comments(page) == [] for page in PAGES)


@pytest.mark.workerd
def test_isso_into_the_worker(isso_site: IssoSite, worker: WorkerServer, tmp_path: Path) -> None:
    env = {"TARGET_TOKEN": worker.token}
    config = write_config(
        tmp_path,
        source=isso_source(isso_site),
        target={"type": "http", "url": worker.url, "token_env": "TARGET_TOKEN"},
    )
    code, _summary, stderr = run_json(config, env=env)
    assert code == 0, stderr
    rows = {row["id"]: row for row in isso_site.server.rows()}
    held = {c["source"]["id"]: c for page in PAGES for c in worker.list_page(page)}
    for label in isso_site.visible():
        row = rows[isso_site.ids[label]]
        item = held[str(row["id"])]
        assert item["text"] == row["text"]
        assert item["created_at"].startswith(
            datetime.fromtimestamp(row["created"], UTC).strftime("%Y-%m-%dT%H:%M:%S")
        )
    assert held[str(isso_site.ids["b"])]["parent_id"] == held[str(isso_site.ids["a"])]["id"]
    assert invoke("verify", "-c", str(config), env=env).exit_code == 0
    rolled = invoke(
        "rollback", "-c", str(config), "--yes", "--backup", str(tmp_path / "b.jsonl"), env=env
    )
    assert rolled.exit_code == 0, rolled.output
    assert all(worker.list_page(page) == [] for page in PAGES)
