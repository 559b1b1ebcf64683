"""Waline as a source, from a real Waline (Asia/Shanghai: its rows hold Shanghai wall-clock
times) and from its export file; and the export file as a target, read back by the source."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from migrate.errors import SourceError
from migrate.model import Comment
from migrate.systems.waline import WalineSource
from migrate.testing.isso import IssoServer
from migrate.testing.waline import WalineServer
from tests.migration_helpers import invoke, run_json, write_config

pytestmark = pytest.mark.waline

OLD = datetime(2019, 5, 1, 12, 30, 15, tzinfo=UTC)


def seed_waline(waline: WalineServer) -> dict[str, Any]:
    """Visitors' comments through the widget API (Waline stamps its own local time), replies
    two deep, an old comment imported as Waline's SQL export holds it (a Shanghai wall clock,
    no zone), one held for moderation and one marked as spam by the administrator."""
    ids: dict[str, Any] = {}
    first = waline.post_comment(
        "/posts/a/", "Visitors **write** Markdown", nick="Ann", link="https://ann.example"
    )
    ids["a"] = first["objectId"]
    ids["b"] = waline.post_comment(
        "/posts/a/", "Bob replies to Ann", nick="Bob", pid=ids["a"], rid=ids["a"]
    )["objectId"]
    ids["c"] = waline.post_comment(
        "/posts/a/", "Cy replies to Bob", nick="Cy", pid=ids["b"], rid=ids["a"]
    )["objectId"]
    wall = OLD.astimezone(ZoneInfo(waline.tz)).strftime("%Y-%m-%d %H:%M:%S")  # as SQL holds it
    ids["old"] = waline.insert(
        {
            "comment": "Imported years ago",
            "nick": "Old Timer",
            "url": "/posts/b/",
            "status": "approved",
            "like": 4,
            "insertedAt": wall,
            "createdAt": wall,
        }
    )
    ids["held"] = waline.post_comment("/posts/b/", "Waiting for a moderator", nick="Dee")[
        "objectId"
    ]
    ids["spam"] = waline.post_comment("/posts/b/", "Buy cheap things now", nick="Spammer")[
        "objectId"
    ]
    auth = waline.admin_auth()
    for key, status in (("held", "waiting"), ("spam", "spam")):
        answer = waline.session.put(
            f"{waline.url}/api/comment/{ids[key]}",
            json={"status": status},
            headers=auth,
            timeout=10,
        )
        assert answer.status_code == 200 and answer.json()["errno"] == 0, answer.text
    return ids


def read_all(source: WalineSource) -> tuple[dict[str, Comment], dict[str, str]]:
    comments: dict[str, Comment] = {}
    skipped: dict[str, str] = {}
    try:
        for page in source.pages():
            read = source.comments(page)
            comments.update({c.id: c for c in read.comments})
            skipped.update({s.event_id: s.reason for s in read.skipped})
    finally:
        source.close()
    return comments, skipped


def assert_read_as_stored(
    waline: WalineServer, ids: dict[str, Any], comments: dict[str, Comment], skipped: dict[str, str]
) -> None:
    shown = {
        str(c["objectId"]): c
        for key in ("/posts/a/", "/posts/b/")
        for c in waline.widget(key, admin=True)
    }
    sid = {k: str(v) for k, v in ids.items()}
    assert skipped == {sid["spam"]: "marked as spam in Waline"}
    assert set(comments) == {sid[k] for k in ("a", "b", "c", "old", "held")}
    assert comments[sid["b"]].parent_id == sid["a"]
    assert comments[sid["c"]].parent_id == sid["b"]  # its parent, not only its root
    assert comments[sid["held"]].status == "pending"
    assert comments[sid["old"]].created_at == OLD and comments[sid["old"]].likes == 4
    assert comments[sid["a"]].author.url == "https://ann.example"
    assert comments[sid["a"]].text == "Visitors **write** Markdown"
    for cid, comment in comments.items():
        assert int(comment.created_at.timestamp()) == shown[cid]["time"] // 1000


def test_the_server_source_reads_every_comment_with_its_instant(waline: WalineServer) -> None:
    ids = seed_waline(waline)
    comments, skipped = read_all(WalineSource(url=waline.url, token=waline.admin_token()))
    assert_read_as_stored(waline, ids, comments, skipped)


def test_an_export_file_read_in_the_server_s_zone(waline: WalineServer, tmp_path: Path) -> None:
    ids = seed_waline(waline)
    export = tmp_path / "waline-export.json"
    export.write_text(json.dumps(waline.export()), encoding="utf-8")
    comments, skipped = read_all(WalineSource(path=export, zone="Asia/Shanghai"))
    assert_read_as_stored(waline, ids, comments, skipped)
    # without the zone, the wall clock is read as UTC: eight hours off, as documented
    assert waline.tz == "Asia/Shanghai"
    utc_read, _ = read_all(WalineSource(path=export))
    old = str(ids["old"])
    assert utc_read[old].created_at - comments[old].created_at == timedelta(hours=8)


def test_a_file_that_is_no_waline_export_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"comments": []}', encoding="utf-8")
    with pytest.raises(SourceError, match="not a Waline export"):
        WalineSource(path=bad).rows()
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(SourceError, match="not JSON"):
        WalineSource(path=bad).rows()


def test_a_real_waline_into_jsonl(waline: WalineServer, tmp_path: Path) -> None:
    ids = seed_waline(waline)
    env = {"WALINE_TOKEN": waline.admin_token()}
    output = tmp_path / "out.jsonl"
    config = write_config(
        tmp_path,
        source={"type": "waline", "url": waline.url},
        target={"type": "jsonl", "output": str(output)},
    )
    code, _summary, stderr = run_json(config, env=env)
    assert code == 0, stderr
    records = {r["source"]["id"]: r for r in map(json.loads, output.read_text().splitlines())}
    assert str(ids["spam"]) not in records
    assert records[str(ids["c"])]["parent_id"] == records[str(ids["b"])]["id"]
    assert records[str(ids["old"])]["created_at"] == "2019-05-01T12:30:15Z"
    assert records[str(ids["a"])]["text"] == "Visitors **write** Markdown"
    assert invoke("verify", "-c", str(config), env=env).exit_code == 0
    rolled = invoke(
        "rollback", "-c", str(config), "--yes", "--backup", str(tmp_path / "b.jsonl"), env=env
    )
    assert rolled.exit_code == 0, rolled.output
    assert output.read_text() == ""
    assert len(waline.rows()) == len(ids)  # the source is only read


@pytest.mark.isso
def test_a_real_waline_into_isso(waline: WalineServer, isso: IssoServer, tmp_path: Path) -> None:
    ids = seed_waline(waline)
    env = {"WALINE_TOKEN": waline.admin_token()}
    config = write_config(
        tmp_path,
        source={"type": "waline", "url": waline.url},
        target={"type": "isso", "url": isso.url, "db_path": str(isso.db_path)},
    )
    code, _summary, stderr = run_json(config, env=env)
    assert code == 0, stderr
    held = {c["text"]: c for c in isso.comments("/posts/a/")}
    assert held["Bob replies to Ann"]["parent"] == held["Visitors **write** Markdown"]["id"]
    assert held["@Bob: Cy replies to Bob"]["parent"] == held["Visitors **write** Markdown"]["id"]
    assert "Buy cheap things now" not in {c["text"] for c in isso.comments("/posts/b/")}
    assert invoke("verify", "-c", str(config), env=env).exit_code == 0
    rolled = invoke(
        "rollback", "-c", str(config), "--yes", "--backup", str(tmp_path / "b.jsonl"), env=env
    )
    assert rolled.exit_code == 0, rolled.output
    assert isso.comments("/posts/a/") == [] and isso.comments("/posts/b/") == []
    assert len(waline.rows()) == len(ids)  # the source is only read


def test_the_export_file_target_round_trips_through_the_file_source(
    waline_factory: Any, tmp_path: Path
) -> None:
    """Server (in UTC this time) -> export file written page-atomically -> file source: the
    same comments, parents, times, statuses, links and likes; then the file imports into
    another Waline (Shanghai) through its admin endpoint and shows the same instants."""
    waline = waline_factory(tz="UTC")
    seed_waline(waline)
    env = {"WALINE_TOKEN": waline.admin_token()}
    output = tmp_path / "waline.json"
    config = write_config(
        tmp_path,
        source={"type": "waline", "url": waline.url},
        target={"type": "waline", "output": str(output)},
    )
    code, _summary, stderr = run_json(config, env=env)
    assert code == 0, stderr
    original, _ = read_all(WalineSource(url=waline.url, token=waline.admin_token()))
    back, skipped = read_all(WalineSource(path=output))
    assert skipped == {}
    assert len(back) == len(original)

    def shape(comments: dict[str, Comment]) -> set[tuple[Any, ...]]:
        text = {cid: c.text for cid, c in comments.items()}
        return {
            (
                c.page_id,
                c.text,
                c.author.name,
                c.author.url,
                c.created_at,
                c.status,
                c.likes,
                text.get(c.parent_id or ""),
            )
            for c in comments.values()
        }

    assert shape(back) == shape(original)
    document = json.loads(output.read_text())
    assert document["type"] == "waline" and document["version"] == 1
    rows = {r["comment"]: r for r in document["data"]["Comment"]}
    assert rows["Cy replies to Bob"]["rid"] == rows["Visitors **write** Markdown"]["objectId"]
    assert rows["Cy replies to Bob"]["pid"] == rows["Bob replies to Ann"]["objectId"]

    other = waline_factory(tz="Asia/Shanghai")
    for row in document["data"]["Comment"]:
        if row["pid"] is None:  # roots only: their ids are the other server's own
            other.insert({k: v for k, v in row.items() if k != "objectId"})
    times = {c["orig"]: c["time"] for c in other.widget("/posts/b/", admin=True)}
    assert times["Imported years ago"] == int(OLD.timestamp() * 1000)


def test_one_type_a_server_or_a_file_never_both(tmp_path: Path) -> None:
    isso_db = tmp_path / "comments.db"
    neither = write_config(
        tmp_path, source={"type": "isso", "db_path": str(isso_db)}, target={"type": "waline"}
    )
    checked = invoke("check", "-c", str(neither))
    assert checked.exit_code == 2 and "key target.url is required" in checked.output
    both = write_config(
        tmp_path,
        source={"type": "waline", "url": "http://127.0.0.1:9", "path": "x.json"},
        target={"type": "jsonl", "output": str(tmp_path / "o.jsonl")},
    )
    checked = invoke("check", "-c", str(both))
    assert "[source] has both url and path" in checked.output
    assert checked.exit_code != 0
