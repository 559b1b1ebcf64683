"""`sync` (the cutover) on a real Synapse: after a complete run, what was posted, edited and
redacted since is handled by one sync, into the HTTP contract server, a real Isso over its
API, WXR (a delta file), and an Isso that imported the WXR; a second sync is cheap and
imports nothing; SIGKILL during a sync and a rerun leave nothing doubled."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from migrate.model import Comment, Page
from migrate.systems.isso.match import visible_text
from migrate.systems.matrix import MatrixCommentExtractor
from tests.migration_helpers import (
    assert_http_target_holds,
    invoke,
    run_json,
    subprocess_env,
    write_config,
)
from tests.servers.contract import ContractServer
from tests.servers.isso import IssoServer
from tests.servers.killproxy import KillProxy
from tests.servers.synapse import SynapseServer
from tests.test_crash import expected_isso_shape, isso_shape

pytestmark = [pytest.mark.synapse]

BASE_TS = 1_600_000_000_000  # September 2020


@dataclass
class Site:
    """A Cactus site on the real homeserver, and the events tests change later."""

    name: str
    homeserver: str  # what the migration talks to (the counting proxy)
    pages_file: Path
    rooms: dict[str, str] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=dict)
    ts: int = BASE_TS

    def source(self, synapse: SynapseServer) -> dict[str, object]:
        return {
            "type": "matrix",
            "homeserver": self.homeserver,
            "server_name": synapse.server_name,
            "site": self.name,
            "pages_file": str(self.pages_file),
        }


def _send(
    synapse: SynapseServer,
    site: Site,
    section: str,
    body: str,
    user: str,
    parent: str | None = None,
) -> str:
    site.ts += 60_000
    content: dict[str, object] = {"msgtype": "m.text", "body": body}
    if parent is not None:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": parent}}
    return synapse.send_message(site.rooms[section], content, user, site.ts)


def _users(synapse: SynapseServer) -> tuple[str, str]:
    ann, bob = synapse.user_id("cactus_sann"), synapse.user_id("cactus_sbob")
    synapse.set_displayname(ann, "Ann")
    synapse.set_displayname(bob, "Bob")
    return ann, bob


def seed(synapse: SynapseServer, tmp_path: Path, name: str, homeserver: str) -> Site:
    """Two pages: on `a`, a thread two deep, a comment to delete, a comment deleted later
    that has a reply (a tombstone), and one edited later; `b` never changes."""
    ann, bob = _users(synapse)
    site = Site(name, homeserver, tmp_path / "pages.csv")
    for section in ("a", "b"):
        site.rooms[section] = synapse.create_comment_room(name, section)
        top = _send(synapse, site, section, f"{section}: first comment", ann)
        site.events[f"{section}.top"] = top
        site.events[f"{section}.reply"] = _send(
            synapse, site, section, f"{section}: a reply to the first", bob, top
        )
    ev = site.events
    ev["a.leaf"] = _send(synapse, site, "a", "a: regret this one", bob)
    ev["a.answered"] = _send(synapse, site, "a", "a: deleted later, but answered", ann)
    ev["a.answer"] = _send(synapse, site, "a", "a: an answer to it", bob, ev["a.answered"])
    ev["a.typo"] = _send(synapse, site, "a", "a: teh typo", ann)
    site.pages_file.write_text("a,/blog/a/,Post a\nb,/blog/b/,Post b\n", encoding="utf-8")
    return site


def change_site(synapse: SynapseServer, site: Site, *, leaf: bool = True) -> None:
    """What happens on the live site after the run: new comments (one answering a reply
    migrated long ago), an edit, redactions, a new page."""
    ann, bob = _users(synapse)
    ev = site.events
    ev["a.new"] = _send(synapse, site, "a", "a: posted after the run", bob)
    ev["a.late"] = _send(synapse, site, "a", "a: a late answer to the reply", ann, ev["a.reply"])
    site.ts += 60_000
    synapse.send_message(
        site.rooms["a"],
        {
            "msgtype": "m.text",
            "body": "* a: the typo",
            "m.new_content": {"msgtype": "m.text", "body": "a: the typo"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": ev["a.typo"]},
        },
        ann,
        site.ts,
    )
    synapse.redact(site.rooms["a"], ev["a.answered"], user_id=ann)
    if leaf:
        synapse.redact(site.rooms["a"], ev["a.leaf"], user_id=bob)
    site.rooms["c"] = synapse.create_comment_room(site.name, "c")
    ev["c.top"] = _send(synapse, site, "c", "c: a new page", bob)
    ev["c.reply"] = _send(synapse, site, "c", "c: and a reply", ann, ev["c.top"])
    with site.pages_file.open("a", encoding="utf-8") as handle:
        handle.write("c,/blog/c/,Post c\n")


def current(synapse: SynapseServer, site: Site) -> dict[Page, list[Comment]]:
    source = MatrixCommentExtractor(
        homeserver=synapse.url,
        site=site.name,
        server_name=synapse.server_name,
        pages_file=site.pages_file,
    )
    try:
        return {page: source.comments(page).comments for page in source.pages()}
    finally:
        source.close()


def sync_json(config: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    result = invoke("-q", "sync", "-c", str(config), "--json", *extra)
    out = result.stdout.strip().splitlines()
    return result.exit_code, json.loads(out[-1]) if out else {}, result.stderr


@pytest.fixture
def proxy(synapse: SynapseServer) -> Iterator[KillProxy]:
    """Counts what the migration asks the homeserver."""
    counting = KillProxy(synapse.url).start()
    try:
        yield counting
    finally:
        counting.stop()


def _kinds(summary: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    return {c["source_id"]: (c["kind"], c["applied"]) for c in summary["changes"]}


def test_sync_into_http_applies_news_edits_and_deletions_then_costs_one_read_per_page(
    synapse: SynapseServer,
    proxy: KillProxy,
    contract_server: ContractServer,
    tmp_path: Path,
) -> None:
    site = seed(synapse, tmp_path, "synchttp", proxy.url)
    config = write_config(
        tmp_path, source=site.source(synapse), target={"type": "http", "url": contract_server.url}
    )
    code, summary, stderr = run_json(config)
    assert code == 0, stderr
    assert summary["comments_imported"] == 8

    change_site(synapse, site)
    code, summary, stderr = sync_json(config)
    assert code == 0, stderr
    ev = site.events
    # two new comments on `a` (one under a reply migrated by the run), the new page's two
    assert summary["comments_imported"] == 4
    assert summary["pages_complete"] == 3
    assert _kinds(summary) == {
        ev["a.typo"]: ("edit", True),
        ev["a.leaf"]: ("delete", True),
        ev["a.answered"]: ("tombstone", True),
    }
    assert_http_target_holds(contract_server, current(synapse, site))
    by_source = {c["source"]["id"]: c for c in contract_server.comments}
    assert by_source[ev["a.typo"]]["text"] == "a: the typo"
    assert by_source[ev["a.typo"]]["edited_at"] is not None
    assert by_source[ev["a.answered"]]["text"] == "[deleted]"
    assert by_source[ev["a.late"]]["parent_id"] == by_source[ev["a.reply"]]["id"]

    # nothing changed since: nothing sent, and about one small read per page
    posts, patches = contract_server.posts, contract_server.patches
    proxy.log.clear()
    code, summary, stderr = sync_json(config)
    assert code == 0, stderr
    assert summary["comments_imported"] == 0 and summary["changes"] == []
    assert summary["pages_unchanged"] == 3
    assert (contract_server.posts, contract_server.patches) == (posts, patches)
    per_page = [path for _, path in proxy.log if "/rooms/" in path or "/directory/" in path]
    assert len(per_page) <= 2 * 3, proxy.log
    assert len(proxy.log) <= 2 * 3 + 2, proxy.log  # + a guest registration and whoami

    status = invoke("status", "-c", str(config), "--json")
    report = json.loads(status.stdout)
    assert [s["comments_imported"] for s in report["syncs"]] == [4, 0]
    assert report["last_sync"]["changes_applied"] == 0
    assert "last sync:" in invoke("status", "-c", str(config)).stdout


def test_sync_dry_run_sends_and_records_nothing(
    synapse: SynapseServer,
    contract_server: ContractServer,
    tmp_path: Path,
) -> None:
    site = seed(synapse, tmp_path, "syncdry", synapse.url)
    config = write_config(
        tmp_path, source=site.source(synapse), target={"type": "http", "url": contract_server.url}
    )
    assert run_json(config)[0] == 0
    change_site(synapse, site)
    held = [dict(c) for c in contract_server.comments]
    requests = contract_server.requests
    code, summary, stderr = sync_json(config, "--dry-run")
    assert code == 0, stderr
    assert summary["dry_run"] is True
    assert summary["comments_imported"] == 4  # what a sync would send
    assert len(summary["changes"]) == 3 and not any(c["applied"] for c in summary["changes"])
    assert contract_server.requests == requests and contract_server.comments == held
    assert json.loads(invoke("status", "-c", str(config), "--json").stdout)["syncs"] == []
    # the real sync after it still has everything to do
    code, summary, _ = sync_json(config)
    assert code == 0 and summary["comments_imported"] == 4


@pytest.mark.isso
def test_sync_into_isso_over_its_api(
    synapse: SynapseServer,
    isso: IssoServer,
    tmp_path: Path,
) -> None:
    site = seed(synapse, tmp_path, "syncisso", synapse.url)
    config = write_config(
        tmp_path,
        source=site.source(synapse),
        target={"type": "isso", "url": isso.url, "db_path": str(isso.db_path)},
    )
    assert run_json(config)[0] == 0
    change_site(synapse, site)
    code, summary, stderr = sync_json(config)
    assert code == 0, stderr
    assert summary["comments_imported"] == 4
    assert all(applied for _, applied in _kinds(summary).values()), summary["changes"]
    now = current(synapse, site)
    assert isso_shape(isso, list(now)) == expected_isso_shape(now)
    code, summary, _ = sync_json(config)
    assert code == 0 and summary["comments_imported"] == 0 and summary["changes"] == []
    assert isso_shape(isso, list(now)) == expected_isso_shape(now)


@pytest.mark.isso
def test_sync_without_isso_database_reports_what_it_cannot_apply(
    synapse: SynapseServer,
    isso: IssoServer,
    tmp_path: Path,
) -> None:
    site = seed(synapse, tmp_path, "syncissonodb", synapse.url)
    config = write_config(
        tmp_path, source=site.source(synapse), target={"type": "isso", "url": isso.url}
    )
    assert run_json(config)[0] == 0
    change_site(synapse, site)
    result = invoke("sync", "-c", str(config), "--json")
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.exit_code == 0
    changes = summary["changes"]
    assert len(changes) == 3 and not any(c["applied"] for c in changes)
    notes = {c["kind"]: c["note"] for c in changes}
    assert "db_path" in notes["edit"] and "db_path" in notes["tombstone"]
    assert "cannot delete" in notes["delete"]
    assert "that the target cannot apply" in result.stderr
    assert site.events["a.typo"] in result.stderr
    # kept in the sync's history for whoever applies them by hand
    report = json.loads(invoke("status", "-c", str(config), "--json").stdout)
    kept = report["last_sync"]["not_applied"]
    assert {c["source_id"] for c in kept} == {c["source_id"] for c in changes}
    assert report["last_sync"]["changes_not_applied"] == 3


def test_sync_into_wxr_writes_a_delta_file_and_never_rewrites_the_output(
    synapse: SynapseServer,
    tmp_path: Path,
) -> None:
    site = seed(synapse, tmp_path, "syncwxr", synapse.url)
    wxr = tmp_path / "comments.wxr"
    config = write_config(
        tmp_path, source=site.source(synapse), target={"type": "wxr", "output": str(wxr)}
    )
    assert run_json(config)[0] == 0
    before = wxr.read_bytes()
    change_site(synapse, site)
    code, summary, stderr = sync_json(config)
    assert code == 0, stderr
    delta = Path(summary["output"])
    assert delta.parent == tmp_path and delta.name.startswith("comments.sync-")
    assert delta.suffix == ".wxr" and wxr.read_bytes() == before
    text = delta.read_text(encoding="utf-8")
    assert text.count("<wp:comment>") == 4
    for new in ("a: posted after the run", "a: a late answer", "c: a new page", "c: and a"):
        assert new in text
    assert "first comment" not in text  # nothing already imported
    # the late answer names its parent in the first file: ids go on after the output's
    reply_id = _wxr_id(before.decode(), "a: a reply to the first")
    assert f"<wp:comment_parent>{reply_id}</wp:comment_parent>" in text
    assert _kinds(summary) == {
        site.events["a.typo"]: ("edit", False),
        site.events["a.leaf"]: ("delete", False),
        site.events["a.answered"]: ("tombstone", False),
    }
    time.sleep(1.1)  # a second sync in another second would name another file
    code, summary, _ = sync_json(config)
    assert code == 0 and summary["comments_imported"] == 0 and summary["output"] is None
    assert sorted(p.name for p in tmp_path.glob("comments.sync-*.wxr")) == [delta.name]


def visible(shape: Counter[tuple[str, str, str, str | None]]) -> Counter[tuple[str, ...]]:
    """An Isso shape with texts as a reader sees them (the import keeps the WXR's HTML)."""
    out: Counter[tuple[str, ...]] = Counter()
    for (page, author, text, parent), n in shape.items():
        out[(page, author, visible_text(text), visible_text(parent or ""))] += n
    return out


def _wxr_id(document: str, text: str) -> str:
    head = document[: document.index(text)]
    return head.rsplit("<wp:comment_id>", 1)[1].split("<", 1)[0]


@pytest.mark.isso
def test_wxr_imported_into_isso_then_synced_over_its_api_sends_only_what_is_new(
    synapse: SynapseServer,
    isso: IssoServer,
    tmp_path: Path,
) -> None:
    site = seed(synapse, tmp_path, "syncimport", synapse.url)
    wxr = tmp_path / "comments.wxr"
    bulk = write_config(
        tmp_path,
        source=site.source(synapse),
        name="bulk.toml",
        target={"type": "wxr", "output": str(wxr)},
        run={"checkpoint": str(tmp_path / "bulk.checkpoint.json")},
    )
    assert run_json(bulk)[0] == 0
    assert isso.import_wxr(wxr).returncode == 0
    imported = len(isso.rows())
    assert imported == 8

    change_site(synapse, site, leaf=False)
    api = write_config(
        tmp_path,
        source=site.source(synapse),
        name="api.toml",
        target={"type": "isso", "url": isso.url, "db_path": str(isso.db_path)},
    )
    code, summary, stderr = sync_json(api)
    assert code == 0, stderr
    assert summary["comments_adopted"] == 8  # every imported comment, recognised
    assert summary["comments_imported"] == 4
    assert len(isso.rows()) == imported + 4  # 48 did not become 91
    applied = _kinds(summary)
    assert applied[site.events["a.typo"]] == ("edit", True)
    assert applied[site.events["a.answered"]] == ("tombstone", True)
    now = current(synapse, site)
    assert visible(isso_shape(isso, list(now))) == visible(expected_isso_shape(now))

    # followed from now on: a redaction after the first sync is applied by the next
    synapse.redact(site.rooms["a"], site.events["a.leaf"])
    code, summary, _ = sync_json(api)
    assert code == 0 and summary["comments_imported"] == 0
    assert _kinds(summary) == {site.events["a.leaf"]: ("delete", True)}
    now = current(synapse, site)
    assert visible(isso_shape(isso, list(now))) == visible(expected_isso_shape(now))


def test_sigkill_during_a_sync_then_a_rerun_leaves_nothing_doubled(
    synapse: SynapseServer,
    contract_server: ContractServer,
    tmp_path: Path,
) -> None:
    site = seed(synapse, tmp_path, "synckill", synapse.url)
    killer = KillProxy(contract_server.url).start()
    try:
        config = write_config(
            tmp_path,
            source=site.source(synapse),
            target={"type": "http", "url": killer.url},
            run={"workers": 1},
        )
        assert run_json(config)[0] == 0
        change_site(synapse, site)
        child = subprocess.Popen(
            [sys.executable, "-m", "migrate", "-q", "sync", "-c", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env=subprocess_env(),
        )
        killer.arm(child.pid, after_posts=2)  # the second new comment is stored, unheard
        child.communicate(timeout=120)
        assert child.returncode == -9 and killer.kills == 1
        assert 0 < len(contract_server.comments) - 8 < 4
        code, summary, stderr = sync_json(config)
        assert code == 0, stderr
        assert summary["comments_imported"] + summary["comments_adopted"] >= 2
        assert_http_target_holds(contract_server, current(synapse, site))
        assert sync_json(config)[1]["comments_imported"] == 0
    finally:
        killer.stop()


def test_a_sync_of_an_archive_says_it_cannot_change(tmp_path: Path) -> None:
    """An archive is a snapshot: "0 of N pages unchanged" and "Migration finished" would
    say the opposite of what happened."""
    from tests.factories import make_archive, threaded_site

    archive = make_archive(tmp_path / "a.jsonl", threaded_site(pages=2, per_page=3))
    config = write_config(tmp_path, archive=archive, target={"type": "jsonl", "output": "o.jsonl"})
    assert invoke("run", "-c", str(config)).exit_code == 0
    result = invoke("sync", "-c", str(config))
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("Sync finished")
    assert "snapshot" in result.stderr and "run `comment-migrate extract` again" in result.stderr
    assert "pages unchanged" not in result.stderr
