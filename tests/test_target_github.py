"""The GitHub Discussions target against a STAND-IN for GitHub (tests/servers/github.py):
GitHub cannot run here, so a local GraphQL server validates and runs every query against
GitHub's published schema, keeps discussions in memory and answers limits as GitHub
documents them. What is proven here is our side: the documents GitHub's schema accepts,
giscus's terms and hashes, two levels, markers, pacing and waits, verify, rollback, check.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

from migrate.abilities import CheckFailed
from migrate.model import Comment, Page
from migrate.systems.github import GitHubTarget, giscus
from migrate.testing.factories import disqus_shaped_site, make_archive, threaded_site
from tests.migration_helpers import expected_parents, invoke, run_json, write_config
from tests.servers.github import GITHUB_STANDIN_TOKEN, GitHubStandIn
from tests.servers.killproxy import KillProxy

pytestmark = pytest.mark.github

# giscus's own lookup, as its widget sends it (fields it reads; `last: 1` like giscus)
GISCUS_SEARCH = """
query($query: String!) {
  search(type: DISCUSSION, last: 1, query: $query) {
    discussionCount
    nodes { ... on Discussion { id title body comments(first: 0) { totalCount } } }
  }
}"""


def giscus_finds(server: GitHubStandIn, term: str, *, strict: bool) -> dict[str, Any]:
    query = giscus.search_query("Owner/Site", "Comments", term, strict=strict)
    answer = requests.post(
        server.url,
        json={"query": GISCUS_SEARCH, "variables": {"query": query}},
        headers={"Authorization": f"Bearer {GITHUB_STANDIN_TOKEN}"},
        timeout=10,
    ).json()
    result: dict[str, Any] = answer["data"]["search"]
    return result


def target_section(server: GitHubStandIn | str, **extra: Any) -> dict[str, Any]:
    url = server if isinstance(server, str) else server.url
    return {"type": "github", "repo": "owner/site", "category": "Comments", "api_url": url,
            "per_minute": 100000, "per_hour": 1000000, **extra}  # fmt: skip


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", GITHUB_STANDIN_TOKEN)


def held_by_source(server: GitHubStandIn) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for comment in server.store.comments.values():
        source = giscus.parse_body(comment.body).source_id
        assert source is not None, f"a comment without a marker: {comment.body!r}"
        found.setdefault(source, []).append(comment)
    return found


def assert_discussions_hold(server: GitHubStandIn, site: dict[Page, list[Comment]]) -> None:
    """Every source comment once, in its page's discussion, under the comment the two-level
    rule predicts; every page's discussion found by giscus's term and, strictly, its hash."""
    held = held_by_source(server)
    twice = {k: len(v) for k, v in held.items() if len(v) > 1}
    assert not twice, f"comments sent twice: {twice}"
    expected = {c.id for comments in site.values() for c in comments}
    assert set(held) == expected, f"missing {expected - set(held)}, extra {set(held) - expected}"
    to_source = {v[0].id: k for k, v in held.items()}
    for page, comments in site.items():
        term = giscus.term_for("pathname", key=page.key, title=page.title, url=None)
        assert term is not None
        strict = giscus_finds(server, term, strict=True)
        assert strict["discussionCount"] == 1, f"{page.id}: {strict['discussionCount']} by hash"
        (found,) = strict["nodes"]
        assert found["title"] == term and giscus.has_term_hash(found["body"], term)
        loose = giscus_finds(server, term, strict=False)
        assert loose["discussionCount"] >= 1 and found["title"] == term
        for cid, parent in expected_parents(comments, max_depth=1).items():
            (stored,) = held[cid]
            assert stored.discussion_id == found["id"], f"{cid} is not in {page.id}'s discussion"
            actual = to_source[stored.reply_to] if stored.reply_to else None
            assert actual == parent, f"{cid}: under {actual}, expected {parent}"


def test_a_disqus_shaped_site_lands_in_discussions_giscus_finds(
    tmp_path: Path, github_standin: GitHubStandIn
) -> None:
    site = disqus_shaped_site(pages=3, per_page=20)
    archive = make_archive(tmp_path / "site.jsonl", site)
    config = write_config(tmp_path, archive=archive, target=target_section(github_standin))
    code, summary, stderr = run_json(config)
    assert code == 0, stderr
    assert summary["comments_imported"] == 60
    assert_discussions_hold(github_standin, site)
    assert len(github_standin.store.discussions) == 3

    bodies = [c.body for c in github_standin.store.comments.values()]
    # the author and the date lead every body; a name with Markdown in it stays a name
    assert any(b.startswith("**\\*stars\\*** wrote on 2021-03-") for b in bodies)
    assert any(b.startswith("**[Ann](<https://people.example.org/") for b in bodies) or any(
        "](<https://people.example.org/" in b.splitlines()[0] for b in bodies
    )
    # "@torvalds" as an author or in a text would notify that GitHub user: never a mention
    assert not any("@torvalds" in b or "@Ann " in b for b in bodies)
    assert any("@\u200bAnn" in b for b in bodies)
    # deeper replies hang under their thread's top comment, naming whom they answered
    assert any(giscus.parse_body(b).text.startswith("@") for b in bodies)

    # a rerun sends nothing; verify compares the visible text and says what GitHub cannot hold
    code, summary, _ = run_json(config)
    assert code == 0 and summary["comments_imported"] == 0
    result = invoke("verify", "-c", str(config), "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == 0 and report["ok"], result.stdout
    assert {limit["aspect"] for limit in report["limits"]} >= {"time", "author", "depth"}


def test_verify_sees_a_changed_comment(tmp_path: Path, github_standin: GitHubStandIn) -> None:
    site = threaded_site(pages=1, per_page=4, depth=2)
    config = write_config(
        tmp_path, archive=make_archive(tmp_path / "s.jsonl", site),
        target=target_section(github_standin),
    )  # fmt: skip
    assert run_json(config)[0] == 0
    comment = next(iter(github_standin.store.comments.values()))
    comment.body = comment.body.replace("comment", "c0mment", 1)
    result = invoke("verify", "-c", str(config), "--json")
    report = json.loads(result.stdout)
    assert result.exit_code != 0 and not report["ok"]
    assert report["pages"][0]["changed_text"], report


def test_a_discussion_giscus_made_is_used_and_survives_rollback(
    tmp_path: Path, github_standin: GitHubStandIn
) -> None:
    site = threaded_site(pages=2, per_page=5, depth=3)
    store = github_standin.store
    term = "post0/"  # giscus's pathname term of /post0/
    made = store.create_discussion(
        {"repositoryId": store.repo_id, "categoryId": "DIC_2", "title": term,
         "body": f"# {term}\n\n\n\nhttps://blog.example.org/post0/\n\n<!-- sha1: "
                 f"{hashlib.sha1(term.encode()).hexdigest()} -->"}  # noqa: S324
    )  # fmt: skip
    store.add_comment({"discussionId": made["id"], "body": "a visitor's own comment"})
    config = write_config(
        tmp_path, archive=make_archive(tmp_path / "s.jsonl", site),
        target=target_section(github_standin),
    )  # fmt: skip
    code, _, stderr = run_json(config)
    assert code == 0, stderr
    assert len(store.discussions) == 2  # one made for post1 only
    assert len(store.discussions[made["id"]].comments) == 1 + 2  # the visitor's + 2 threads

    result = invoke("rollback", "-c", str(config), "--yes", "--backup", str(tmp_path / "b.jsonl"))
    assert result.exit_code == 0, result.stderr
    # giscus's discussion stays with the visitor's comment; the one this tool made is gone
    assert list(store.discussions) == [made["id"]]
    assert [c.body for c in store.comments.values()] == ["a visitor's own comment"]
    backup = (tmp_path / "b.jsonl").read_text().splitlines()
    assert len(backup) == 10 and all(json.loads(line)["present"] for line in backup)


def test_the_secondary_limit_is_hit_in_all_three_forms_and_ridden_out(
    tmp_path: Path, github_schema: Path
) -> None:
    site = disqus_shaped_site(pages=2, per_page=15, seed=3)
    with GitHubStandIn(
        token=GITHUB_STANDIN_TOKEN, schema=github_schema, per_minute=8, minute=1.0,
        secondary_answers=("403", "429", "graphql"),
    ) as server:  # fmt: skip
        config = write_config(
            tmp_path, archive=make_archive(tmp_path / "s.jsonl", site),
            target=target_section(server), run={"workers": 2},
        )  # fmt: skip
        code, _, stderr = run_json(config)
        assert code == 0, stderr
        assert server.secondary_kinds.keys() == {"403", "429", "graphql"}
        assert_discussions_hold(server, site)
        assert server.invalid == []


def test_spent_hourly_points_are_waited_out_not_hammered(
    tmp_path: Path, github_schema: Path
) -> None:
    site = threaded_site(pages=2, per_page=8, depth=3)
    # an hour of 3 s with 12 points: the run needs about 24 requests, so two resets
    with GitHubStandIn(
        token=GITHUB_STANDIN_TOKEN, schema=github_schema, points_per_hour=12, minute=0.05
    ) as server:
        server.points_used = 12  # spent by someone else: the first answer is the limit
        config = write_config(
            tmp_path, archive=make_archive(tmp_path / "s.jsonl", site),
            target=target_section(server), run={"workers": 1},
        )  # fmt: skip
        code, _, stderr = run_json(config)
        assert code == 0, stderr
        # told once, then it waits for each reset (x-ratelimit-remaining: 0) before sending
        assert server.primary_hits == 1, server.primary_hits
        held = held_by_source(server)
        assert sorted(len(v) for v in held.values()) == [1] * 16


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _outgoing(site: dict[Page, list[Comment]], target: GitHubTarget) -> list[Any]:
    from migrate.pipeline.transform import CommentTransformer, PagePlan

    ((page, comments),) = site.items()
    plan = PagePlan(CommentTransformer(target.capabilities, system="disqus"), page, comments)
    return [plan.outgoing(c, lambda _: None, lambda _: None) for c in plan.order]


def test_without_retry_after_a_secondary_limit_waits_a_minute(github_schema: Path) -> None:
    fake = FakeTime()
    with GitHubStandIn(
        token=GITHUB_STANDIN_TOKEN, schema=github_schema, per_minute=3, retry_after=False,
        clock=fake.clock,
    ) as server:  # fmt: skip
        target = GitHubTarget("owner/site", "Comments", token=GITHUB_STANDIN_TOKEN,
                              api_url=server.url, per_minute=1000, clock=fake.clock,
                              sleep=fake.sleep)  # fmt: skip
        site = threaded_site(pages=1, per_page=4, depth=1)
        for out in _outgoing(site, target):
            target.create(out)  # 1 discussion + 4 comments: the 4th creation is refused once
        target.close()
        assert server.secondary_hits == 1
        assert 59.0 <= sum(s for s in fake.slept if s > 0.1) <= 61.0
        assert len(server.store.comments) == 4


def test_the_budget_a_query_reads_in_rate_limit_is_respected_too(github_schema: Path) -> None:
    """Without x-ratelimit-* headers, `rateLimit { remaining resetAt }` in a query says the
    hour's points are spent: the next request waits for the reset instead of being refused."""
    fake = FakeTime()
    with GitHubStandIn(
        token=GITHUB_STANDIN_TOKEN, schema=github_schema, points_per_hour=2,
        rate_headers=False, clock=fake.clock,
    ) as server:  # fmt: skip
        target = GitHubTarget("owner/site", "Comments", token=GITHUB_STANDIN_TOKEN,
                              api_url=server.url, clock=fake.clock, sleep=fake.sleep)  # fmt: skip
        target.probe()
        assert fake.slept == []
        target.probe()  # the second point: `remaining` is 0 now
        target.probe()
        target.close()
    assert server.primary_hits == 0
    assert 3600 <= sum(fake.slept) <= 3602


def test_an_answer_lost_after_github_stored_the_comment_is_not_sent_again(
    tmp_path: Path, github_standin: GitHubStandIn
) -> None:
    site = threaded_site(pages=2, per_page=10, depth=3)
    proxy = KillProxy(github_standin.url.rsplit("/", 1)[0]).start()
    proxy.drop_posts = {3, 7, 12, 20, 26}
    try:
        config = write_config(
            tmp_path, archive=make_archive(tmp_path / "s.jsonl", site),
            target=target_section(proxy.url + "/graphql"), run={"workers": 1},
        )  # fmt: skip
        code, _, stderr = run_json(config)
    finally:
        proxy.stop()
    assert code == 0, stderr
    assert proxy.dropped == 5
    assert_discussions_hold(github_standin, site)
    assert len(github_standin.store.discussions) == 2


def test_check_proves_token_repository_discussions_and_category_writing_nothing(
    tmp_path: Path, github_schema: Path
) -> None:
    with GitHubStandIn(token=GITHUB_STANDIN_TOKEN, schema=github_schema) as server:

        def probe(**changes: Any) -> str:
            options: dict[str, Any] = {"token": GITHUB_STANDIN_TOKEN, "api_url": server.url,
                                       **changes}  # fmt: skip
            repo = options.pop("repo", "owner/site")
            category = options.pop("category", "Comments")
            return GitHubTarget(repo, category, **options).probe()

        assert "has Discussions and the category 'Comments'" in probe()
        for changes, words in (
            ({"token": "ghp_wrong_token_000000"}, "refused the token"),
            ({"token": None}, "no token"),
            ({"repo": "owner/elsewhere"}, "not found"),
            ({"category": "Ideas"}, "no discussion category 'Ideas'"),
        ):
            with pytest.raises(CheckFailed, match=words):
                probe(**changes)
        server.store.discussions_enabled = False
        with pytest.raises(CheckFailed, match="Discussions turned off"):
            probe()
        assert (
            server.operations["createDiscussion"] == server.operations["addDiscussionComment"] == 0
        )
        config = write_config(tmp_path, archive=tmp_path / "none.jsonl",
                              target=target_section(server))  # fmt: skip
        make_archive(tmp_path / "none.jsonl", threaded_site(pages=1, per_page=1))
        server.store.discussions_enabled = True
        result = invoke("check", "-c", str(config))
        assert "has Discussions" in result.stdout + result.stderr
        assert not server.store.discussions


def test_status_shows_the_expected_end_of_a_paced_run(
    tmp_path: Path, github_standin: GitHubStandIn
) -> None:
    site = threaded_site(pages=4, per_page=6, depth=2)
    config = write_config(
        tmp_path, archive=make_archive(tmp_path / "s.jsonl", site),
        target=target_section(github_standin, per_minute=80, per_hour=500),
    )  # fmt: skip
    code, _, stderr = run_json(config, "--page", "post0")
    assert code == 0, stderr
    result = invoke("status", "-c", str(config), "--json")
    pace = json.loads(result.stdout)["pace"]
    assert pace["sent_last_hour"] == 7  # a discussion and 6 comments
    # 3 pages left: about 3 x 6 comments and 3 discussions, at 80 a minute
    assert pace["sends_left_estimate"] == 21 and pace["expected_end"]
    text = invoke("status", "-c", str(config)).stdout
    assert "expected end:" in text and "80 per 61.2 s" in text


def test_terms_are_giscus_terms() -> None:
    def pathname(key: str) -> str | None:
        return giscus.term_for("pathname", key=key, title=None, url=None)

    assert pathname("/") == "index"
    assert pathname("/2019/05/post-1.html?lang=en") == "2019/05/post-1"
    assert pathname("/blog/post/") == "blog/post/"
    url = "https://Blog.example.org/p/?a=1&giscus=xyz&b=x%20y~#c3"
    assert giscus.term_for("url", key="/", title=None, url=url) == (
        "https://blog.example.org/p/?a=1&b=x+y%7E"
    )
    assert giscus.term_for("title", key="/", title="Hi", url=None, title_format="{title} | B") == (
        "Hi | B"
    )
    assert giscus.term_for("specific", key="/k/", title=None, url=None) == "/k/"
    assert giscus.term_hash("index") == hashlib.sha1(b"index").hexdigest()  # noqa: S324
    assert giscus.search_query("O/R", "Q&A", 'a "b"', strict=False) == (
        'repo:o/r category:"Q&A" in:title "a \\"b\\""'
    )


def test_a_body_reads_back_as_it_was_sent_and_a_planted_marker_changes_nothing() -> None:
    site = disqus_shaped_site(pages=1, per_page=12)
    target = GitHubTarget("owner/site", "Comments", api_url="http://127.0.0.1:9/")
    seen: Counter[bool] = Counter()
    for out in _outgoing(site, target):
        parsed = giscus.parse_body(giscus.comment_body(out))
        assert parsed.source_id == out.source.id
        assert parsed.author == " ".join(out.source.author.name.split())
        assert parsed.text == out.text.strip()
        seen[out.source.author.url is not None] += 1
    assert seen[True] and seen[False]
    planted = _outgoing(site, target)[0]
    sneaky = type(planted)(**{**planted.__dict__,
                              "text": "hi\n\n<!-- comment-migrate source=400001 -->"})  # fmt: skip
    assert giscus.parse_body(giscus.comment_body(sneaky)).source_id == planted.source.id


def test_mapping_url_titles_each_discussion_with_the_page_url_and_needs_site_url(
    tmp_path: Path, github_standin: GitHubStandIn
) -> None:
    site = threaded_site(pages=2, per_page=2, depth=1)
    archive = make_archive(tmp_path / "s.jsonl", site)
    config = write_config(
        tmp_path, archive=archive, target=target_section(github_standin, mapping="url")
    )
    code, _, stderr = run_json(config)
    assert code == 2 and "site_url" in stderr
    config = write_config(
        tmp_path, archive=archive,
        target=target_section(github_standin, mapping="url", site_url="https://Blog.example.org"),
    )  # fmt: skip
    code, _, stderr = run_json(config)
    assert code == 0, stderr
    titles = sorted(d.title for d in github_standin.store.discussions.values())
    assert titles == ["https://blog.example.org/post0/", "https://blog.example.org/post1/"]
    for d in github_standin.store.discussions.values():
        assert giscus.has_term_hash(d.body, d.title) and f"\n{d.title}\n" in d.body
