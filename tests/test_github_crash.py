"""SIGKILL at random moments while a site moves into GitHub Discussions: every comment once,
under its thread, every page's discussion found by giscus's own term and hash, the secondary
limit hit and ridden out on the way.

Against the STAND-IN for GitHub (tests/servers/github.py; GitHub cannot run here): it checks
every query against GitHub's published schema and kills the migration right after it stored
the n-th creation, before answering, the window the exactly-once protocol must close. Other
rounds kill on a timer, at any instant. Three sites: a real Disqus export through the disqus
source; a Disqus-shaped site through the archive source (`disqus_shaped_site`: absolute
`.html` permalinks, guests with and without profile links, replies nested deeper than GitHub
keeps); a real Synapse, Cactus-style.
"""

from __future__ import annotations

import random
import signal
from pathlib import Path
from typing import Any

import pytest

from migrate.model import Comment, Page
from migrate.pages import keyed_source
from migrate.systems.disqus.source import DisqusSource
from migrate.systems.github import giscus
from migrate.systems.matrix import MatrixCommentExtractor
from migrate.testing.exports import write_disqus_export
from migrate.testing.factories import disqus_shaped_site, make_archive, threaded_site
from tests.migration_helpers import invoke, start_run, subprocess_env, write_config
from tests.servers.github import GITHUB_STANDIN_TOKEN, GitHubStandIn
from tests.servers.synapse import SynapseServer
from tests.test_crash import kill_later
from tests.test_target_github import assert_discussions_hold, target_section
from utils.checkpoint_manager import read_checkpoint

pytestmark = pytest.mark.github


def crash_until_done(config: Path, server: GitHubStandIn, rng: random.Random, kills: int) -> int:
    """Run, killing each run at a new moment, until `kills` kills happened and a run ends by
    itself with 0. Returns the number of kills."""
    env = subprocess_env(GITHUB_TOKEN=GITHUB_STANDIN_TOKEN)
    killed = 0
    for round_no in range(100):
        proc = start_run(config, env=env)
        timer = None
        if killed < kills:
            if round_no % 3 == 2:
                timer = kill_later(proc.pid, rng.uniform(0.3, 1.5))  # any instant
            else:
                server.kill_after_creations(proc.pid, rng.randint(1, 6))  # after a store
        _, stderr = proc.communicate(timeout=300)
        server.disarm()
        if timer is not None:
            timer.cancel()
        if proc.returncode == -signal.SIGKILL:
            killed += 1
            continue
        assert proc.returncode == 0, f"round {round_no}: exit {proc.returncode}\n{stderr}"
        assert killed >= kills, f"finished after only {killed} kills: the site is too small"
        return killed
    raise AssertionError("the migration never finished")


def limited_standin(github_schema: Path) -> GitHubStandIn:
    # 20 creations a (1-second) minute: a run at the pace configured below hits it often
    return GitHubStandIn(
        token=GITHUB_STANDIN_TOKEN, schema=github_schema, per_minute=20, minute=1.0,
        secondary_answers=("403", "graphql", "429"),
    )  # fmt: skip


def test_a_disqus_shaped_site_survives_sigkills_and_the_secondary_limit(
    tmp_path: Path, github_schema: Path
) -> None:
    site = disqus_shaped_site(pages=4, per_page=40, seed=11)
    archive = make_archive(tmp_path / "site.jsonl", site)
    with limited_standin(github_schema) as server:
        config = write_config(
            tmp_path, archive=archive, target=target_section(server, per_minute=3000),
            run={"workers": 3},
        )  # fmt: skip
        kills = crash_until_done(config, server, random.Random(5), kills=12)
        assert kills >= 12 and server.kills >= 6
        assert server.secondary_hits > 0 and server.invalid == []
        assert_discussions_hold(server, site)
        assert len(server.store.discussions) == len(site)
        assert invoke("checkpoint", "validate", str(tmp_path / "checkpoint.json")).exit_code == 0
        # and all of it can be taken back: comments, then the discussions this tool made
        env = {"GITHUB_TOKEN": GITHUB_STANDIN_TOKEN}
        result = invoke("rollback", "-c", str(config), "--yes", env=env)
        assert result.exit_code == 0, result.stderr
        assert not server.store.comments and not server.store.discussions


SITE = "ghsite"
SECTIONS = ("first-post", "second-post")


@pytest.fixture(scope="module")
def cactus_site(synapse: SynapseServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two Cactus pages on the real homeserver with chains four deep; their pages.csv."""
    synapse.create_comment_room(SITE, None)
    users = [synapse.user_id(n) for n in ("gh_ann", "gh_bob", "gh_cy")]
    for user, name in zip(users, ("Ann", "Bob", "Cy"), strict=True):
        synapse.set_displayname(user, name)
    ts = 1_500_000_000_000
    for section in SECTIONS:
        room = synapse.create_comment_room(SITE, section)
        chain: list[str] = []
        for i in range(30):
            ts += 60_000
            content: dict[str, Any] = {"msgtype": "m.text", "body": f"{section} #{i}: hello"}
            level = i % 5
            if level and chain:
                content["m.relates_to"] = {"m.in_reply_to": {"event_id": chain[-1]}}
            event = synapse.send_message(room, content, users[i % 3], ts)
            chain = [*chain[:level], event] if level else [event]
    folder = tmp_path_factory.mktemp("ghsite")
    (folder / "pages.csv").write_text(
        "".join(f"{s},/blog/{s}/,Post {s}\n" for s in SECTIONS), encoding="utf-8"
    )
    return folder / "pages.csv"


@pytest.mark.synapse
def test_a_synapse_site_survives_sigkills_into_discussions(
    tmp_path: Path, github_schema: Path, synapse: SynapseServer, cactus_site: Path
) -> None:
    source = {"type": "matrix", "homeserver": synapse.url, "server_name": synapse.server_name,
              "site": SITE, "pages_file": str(cactus_site)}  # fmt: skip
    extractor = MatrixCommentExtractor(
        homeserver=synapse.url, site=SITE, server_name=synapse.server_name, pages_file=cactus_site
    )
    try:
        site: dict[Page, list[Comment]] = {
            page: extractor.comments(page).comments for page in extractor.pages()
        }
    finally:
        extractor.close()
    assert sum(len(c) for c in site.values()) == 60
    with limited_standin(github_schema) as server:
        config = write_config(
            tmp_path, source=source, target=target_section(server, per_minute=3000),
            run={"workers": 2},
        )  # fmt: skip
        kills = crash_until_done(config, server, random.Random(8), kills=8)
        assert kills >= 8 and server.secondary_hits > 0
        assert_discussions_hold(server, site)
        env = {"GITHUB_TOKEN": GITHUB_STANDIN_TOKEN}
        assert invoke("verify", "-c", str(config), env=env).exit_code == 0


def test_a_disqus_export_survives_sigkills_and_the_secondary_limit(
    tmp_path: Path, github_schema: Path
) -> None:
    """A real Disqus export (in Disqus's shape: twins, spam, deleted posts, shuffled) read by
    the disqus source, into the stand-in with kills at random moments."""
    export = tmp_path / "disqus.xml.gz"
    write_disqus_export(export, threads=4, posts=120, seed=3, compress=True, words=12)
    source = keyed_source(DisqusSource(export))
    try:
        site = {page: source.comments(page).comments for page in source.pages()}
    finally:
        source.close()
    assert sum(len(c) for c in site.values()) > 100
    with limited_standin(github_schema) as server:
        config = write_config(
            tmp_path,
            source={"type": "disqus", "path": str(export)},
            target=target_section(server, per_minute=3000),
            run={"workers": 3},
        )
        kills = crash_until_done(config, server, random.Random(9), kills=10)
        assert kills >= 10 and server.secondary_hits > 0 and server.invalid == []
        assert_discussions_hold(server, site)
        assert len(server.store.discussions) == len(site)


def giscus_made(server: GitHubStandIn, term: str) -> str:
    """A discussion as giscus makes it for `term` (no mark of ours), with a visitor's comment."""
    store = server.store
    body = f"# {term}\n\nhttps://blog.example.org/{term}\n\n<!-- sha1: {giscus.term_hash(term)} -->"
    made = store.create_discussion(
        {"repositoryId": store.repo_id, "categoryId": "DIC_2", "title": term, "body": body}
    )
    store.add_comment({"discussionId": made["id"], "body": "a visitor's own comment"})
    return str(made["id"])


@pytest.mark.parametrize(
    ("creations", "visitor"),
    [(1, False), (2, False), (1, True)],
    ids=["after-the-discussion", "after-its-first-comment", "visitor-commented-since"],
)
def test_rollback_after_a_kill_right_after_a_discussion_was_made_needs_no_rerun(
    tmp_path: Path, github_standin: GitHubStandIn, creations: int, visitor: bool
) -> None:
    """The run is killed right after it made post1's discussion (and, with 2, its first
    comment), before the answer came back: nothing of that page is journaled. `rollback`,
    with no `run` between, removes the discussion and the comment; giscus's discussion of
    post0, a visitor's comment in it and the migration's comments taken out of it, and a
    discussion of ours a visitor has commented in since, are handled as a person expects."""
    server, store = github_standin, github_standin.store
    site = threaded_site(pages=3, per_page=3, depth=2)
    theirs = giscus_made(server, "post0/")
    config = write_config(
        tmp_path, archive=make_archive(tmp_path / "s.jsonl", site),
        target=target_section(server), run={"workers": 1},
    )  # fmt: skip
    proc = start_run(config, env=subprocess_env(GITHUB_TOKEN=GITHUB_STANDIN_TOKEN))
    server.kill_after_creations(proc.pid, creations, counting_from="createDiscussion")
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, stderr
    (ours,) = [d for d in store.discussions.values() if giscus.DISCUSSION_MARKER in d.body]
    assert ours.title == "post1/" and len(ours.comments) == creations - 1
    state = read_checkpoint(tmp_path / "checkpoint.json")
    assert state.get_page_mappings("post1") == []  # nothing of post1 was journaled
    assert state.get_page_mappings("post0"), "post0 was not migrated before the kill"
    if visitor:
        store.add_comment({"discussionId": ours.id, "body": "a visitor, since"})

    env = {"GITHUB_TOKEN": GITHUB_STANDIN_TOKEN}
    result = invoke("rollback", "-c", str(config), "--yes", env=env)
    assert result.exit_code == 0, result.stderr
    assert not [c for c in store.comments.values() if giscus.parse_body(c.body).source_id]
    left = {d.id: [store.comments[c].body for c in d.comments] for d in store.discussions.values()}
    expected = {theirs: ["a visitor's own comment"]}
    if visitor:  # someone else's words are in it now: it stays, with them
        expected[ours.id] = ["a visitor, since"]
    assert left == expected
    kept = int(visitor)
    assert f"Discussions this tool made: {1 - kept} removed, {kept} kept" in result.stderr
