"""Waline as a target, on a real Waline (npm @waline/vercel, SQLite, in Asia/Shanghai): a real
Synapse site under SIGKILL at random moments, then verify and rollback; a lost answer; a
visitor's comment that must survive everything; sync's edits."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from migrate.model import Comment, Page
from migrate.testing.factories import make_archive, threaded_site
from migrate.testing.waline import WalineServer
from tests.migration_helpers import expected_parents, invoke, run_json, write_config
from tests.servers.killproxy import KillProxy
from tests.servers.synapse import SynapseServer
from tests.synapse_site import matrix_source, read_site, seed_threaded_site
from tests.test_crash import MIN_KILLS, crash_until_done

pytestmark = [pytest.mark.waline, pytest.mark.synapse]

SITE = "walinesite"
SECTIONS = ("one", "two", "three", "four")
BASE_TS = 1_400_000_000_000  # May 2014: the originals' times must survive, in any zone


@pytest.fixture(scope="module")
def synapse_site(synapse: SynapseServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four pages of 30 threaded comments (replies four deep) on the real homeserver."""
    return seed_threaded_site(
        synapse,
        tmp_path_factory.mktemp("waline-site"),
        site=SITE,
        sections=SECTIONS,
        users={"cactus_wla": "Lin", "cactus_wlb": "Mei", "cactus_wlc": "Noor"},
        per_page=30,
        depth=5,
        base_ts=BASE_TS,
        step_ms=3_600_000 + 1234,  # milliseconds too
        body="{section} says *{i}*",
    )


def source_site(synapse: SynapseServer, pages_file: Path) -> dict[Page, list[Comment]]:
    return read_site(synapse, SITE, pages_file)


def assert_waline_shows(waline: WalineServer, site: dict[Page, list[Comment]]) -> None:
    """As the widget serves it: every comment once, under its parent (and its root), with its
    original time to the millisecond."""
    for page, comments in site.items():
        shown = waline.widget(page.key)
        by_text = Counter(c["orig"] for c in shown)
        assert by_text == Counter(c.text for c in comments), f"{page.key}: once each"
        held = {c["orig"]: c for c in shown}
        by_id = {c["objectId"]: c for c in shown}
        parents = expected_parents(comments, None)
        texts = {c.id: c.text for c in comments}
        for comment in comments:
            item = held[comment.text]
            assert item["time"] == int(comment.created_at.timestamp() * 1000)
            assert item["nick"] == comment.author.name
            parent = parents[comment.id]
            if parent is None:
                assert item["pid"] is None and item["rid"] is None
                continue
            assert by_id[item["pid"]]["orig"] == texts[parent]
            root = by_id[item["pid"]]
            while root["rid"] is not None:
                root = by_id[root["pid"]]
            assert item["rid"] == root["objectId"]


def test_a_synapse_site_survives_sigkill_into_waline_then_verifies_and_rolls_back(
    synapse: SynapseServer,
    synapse_site: Path,
    waline: WalineServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site = source_site(synapse, synapse_site)
    assert sum(len(c) for c in site.values()) == 120
    monkeypatch.setenv("WALINE_TOKEN", waline.admin_token())  # the killed runs inherit it
    proxy = KillProxy(waline.url).start()
    try:
        config = write_config(
            tmp_path,
            source=matrix_source(synapse, SITE, synapse_site),
            target={"type": "waline", "url": proxy.url},
        )
        kills = crash_until_done(config, proxy, random.Random(23))
        assert kills >= MIN_KILLS and proxy.kills >= MIN_KILLS // 2
        # one write per comment: every POST the target made is one row (none to fix parents)
        posts = [path for method, path in proxy.log if method in ("POST", "PUT")]
        assert all(path.startswith("/api/db?table=Comment") for path in posts)
        assert len(waline.rows()) == 120
        assert_waline_shows(waline, site)

        verified = invoke("verify", "-c", str(config))
        assert verified.exit_code == 0, verified.output
        rolled = invoke(
            "rollback", "-c", str(config), "--yes", "--backup", str(tmp_path / "backup.jsonl")
        )
        assert rolled.exit_code == 0, rolled.output
    finally:
        proxy.stop()
    assert waline.rows() == []
    backup = [json.loads(line) for line in (tmp_path / "backup.jsonl").read_text().splitlines()]
    assert len(backup) == 120


def test_an_answer_lost_in_transit_is_not_inserted_twice(
    synapse: SynapseServer, synapse_site: Path, waline: WalineServer, tmp_path: Path
) -> None:
    site = source_site(synapse, synapse_site)
    proxy = KillProxy(waline.url).start()
    proxy.drop_posts = {1, 2, 7, 30, 31, 90}
    try:
        config = write_config(
            tmp_path,
            source=matrix_source(synapse, SITE, synapse_site),
            target={"type": "waline", "url": proxy.url},
            run={"workers": 1},
        )
        code, _summary, stderr = run_json(config, env={"WALINE_TOKEN": waline.admin_token()})
    finally:
        proxy.stop()
    assert code == 0, stderr
    assert proxy.dropped == 6
    assert len(waline.rows()) == 120
    assert_waline_shows(waline, site)


def first_comment(waline: WalineServer, key: str) -> dict[str, Any]:
    return next(c for c in waline.widget(key) if c["pid"] is None and c["nick"] != "Visitor")


def test_a_visitor_s_reply_under_a_migrated_comment_survives_rollback(
    synapse: SynapseServer, synapse_site: Path, waline: WalineServer, tmp_path: Path
) -> None:
    """Waline deletes a comment's replies with it: the migrated comment a visitor answered
    is kept (and named), everything else the migration made goes."""
    env = {"WALINE_TOKEN": waline.admin_token()}
    config = write_config(
        tmp_path,
        source=matrix_source(synapse, SITE, synapse_site),
        target={"type": "waline", "url": waline.url},
    )
    code, _, stderr = run_json(config, env=env)
    assert code == 0, stderr
    answered = first_comment(waline, "/blog/two/")
    reply = waline.post_comment(
        "/blog/two/",
        "A visitor answers after the move",
        nick="Visitor",
        pid=answered["objectId"],
        rid=answered["objectId"],
    )
    rolled = invoke(
        "rollback", "-c", str(config), "--yes", "--backup", str(tmp_path / "b.jsonl"), env=env
    )
    assert rolled.exit_code != 0
    assert f"Waline comment {answered['objectId']} was kept" in rolled.output
    left = {row["id"]: row for row in waline.rows()}
    assert set(left) == {answered["objectId"], reply["objectId"]}
    assert left[reply["objectId"]]["comment"] == "A visitor answers after the move"


def test_sync_applies_an_edit_through_waline_s_api(waline: WalineServer, tmp_path: Path) -> None:
    """UpdatableTarget: the comment's text changes in place, its id and time stay."""
    from datetime import UTC, datetime

    from migrate.model import Author, OutgoingComment
    from migrate.systems.waline import WalineTarget

    page = Page("p", "/edit/")
    original = Comment(
        "c1", "p", None, Author("Zed", ""), "before", datetime(2015, 3, 1, 12, 0, 5, tzinfo=UTC)
    )
    target = WalineTarget(waline.url, token=waline.admin_token())
    try:
        out = OutgoingComment(original, page, None, None, "before", None, "t:c1")
        created = target.create(out)
        edited = OutgoingComment(original, page, None, None, "after the edit", None, "t:c1")
        assert target.update(created.target_id, edited)
        assert not target.update("999999", edited)
    finally:
        target.close()
    (shown,) = waline.widget("/edit/")
    assert shown["orig"] == "after the edit" and shown["time"] == 1425211205000


def test_without_or_with_a_wrong_token_nothing_is_written_and_the_variable_is_named(
    waline: WalineServer, tmp_path: Path
) -> None:
    archive = make_archive(tmp_path / "a.jsonl", threaded_site(pages=1, per_page=3, depth=2))
    config = write_config(tmp_path, archive=archive, target={"type": "waline", "url": waline.url})
    for env, said in (
        ({}, "$WALINE_TOKEN is not set"),
        ({"WALINE_TOKEN": "forged"}, "does not take"),
    ):
        checked = invoke("check", "-c", str(config), env=env)
        assert checked.exit_code != 0 and said in checked.output
        assert "export WALINE_TOKEN=" in checked.output
        code, _, stderr = run_json(config, env=env)
        assert code == 3
    assert "no valid administrator's token" in stderr
    assert waline.rows() == []


def test_the_test_waline_listens_on_loopback_only(waline: WalineServer) -> None:
    """ThinkJS listens on every interface unless told otherwise (serve.js tells it)."""
    listening = [
        line.split()[1]
        for table in ("/proc/net/tcp", "/proc/net/tcp6")
        for line in Path(table).read_text().splitlines()[1:]
        if line.split()[3] == "0A"  # LISTEN
    ]
    port = f"{waline.port:04X}"
    mine = [address for address in listening if address.endswith(f":{port}")]
    assert mine == [f"0100007F:{port}"]
