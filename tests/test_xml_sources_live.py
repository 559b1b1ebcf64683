"""The Disqus and WordPress sources into real targets: Isso over its API, a real
`isso import` of the WXR this tool writes, and the Worker on workerd, with SIGKILL at random
instants of a Disqus export's run. Every comment once, under its parent, author (and time
where the target keeps it) and visible text kept, spam left out, pages under the rule's keys.
"""

from __future__ import annotations

import html
import random
import re
from pathlib import Path

import pytest

from migrate.content import visible_html, visible_markdown
from migrate.model import Comment, Page, PageComments
from migrate.pages import PageRule, keyed_source
from migrate.systems.disqus import DisqusSource
from migrate.systems.wordpress import WordPressSource
from migrate.testing.exports import write_disqus_export
from tests.migration_helpers import expected_parents, invoke, subprocess_env, write_config
from tests.servers.isso import IssoServer
from tests.servers.killproxy import KillProxy
from tests.servers.workerd import WorkerServer
from tests.test_worker import MIN_KILLS, assert_worker_holds, crash_until_done

FIXTURES = Path(__file__).parent / "fixtures" / "exports"
EXPORTS = {"disqus": FIXTURES / "disqus.xml", "wordpress": FIXTURES / "wordpress.xml"}


def source_of(system: str, path: Path) -> DisqusSource | WordPressSource:
    return DisqusSource(path) if system == "disqus" else WordPressSource(path)


def read_site(system: str, path: Path, rule: PageRule | None = None) -> dict[Page, list[Comment]]:
    """What should arrive: per page, the comments the source gives (pending ones left out:
    none of these targets holds a comment as pending)."""
    source = keyed_source(source_of(system, path), rule)
    try:
        site: dict[Page, list[Comment]] = {}
        for page in source.pages():
            extracted: PageComments = source.comments(page)
            site[page] = [c for c in extracted.comments if c.status == "approved"]
        return site
    finally:
        source.close()


def visible(comment: Comment) -> str:
    return visible_html(comment.html or "").text


def flattened(comment: Comment, comments: list[Comment]) -> str:
    """What a reader sees of a comment in a two-level target: a reply to a reply hangs
    under the top-level comment and says whom it answered."""
    by_id = {c.id: c for c in comments}
    parent = by_id.get(comment.parent_id or "")
    if parent is not None and expected_parents(comments, 1)[comment.id] != parent.id:
        return f"@{parent.author.name}: {visible(comment)}"
    return visible(comment)


@pytest.mark.isso
@pytest.mark.parametrize("system", ["disqus", "wordpress"])
def test_into_isso_over_its_api(tmp_path: Path, isso: IssoServer, system: str) -> None:
    config = write_config(
        tmp_path,
        source={"type": system, "path": str(EXPORTS[system])},
        target={"type": "isso", "url": isso.url},
    )
    result = invoke("-q", "run", "-c", str(config))
    assert result.exit_code == 0, result.output
    for page, comments in read_site(system, EXPORTS[system]).items():
        held = isso.comments(page.key)
        # every comment once, its author and what a reader sees
        assert sorted(
            (html.unescape(c["author"]), visible_markdown(c["text"]).text) for c in held
        ) == sorted((c.author.name, flattened(c, comments)) for c in comments), page.key
        assert not any("spam" in visible_markdown(c["text"]).text.lower() for c in held)
        # Isso keeps two levels: a reply hangs under its top-level ancestor
        tops = {c["id"] for c in isso.threads(page.key)["replies"]}
        by_text = {visible_markdown(c["text"]).text: c for c in held}
        parents = expected_parents(comments, 1)
        for c in comments:
            mine = by_text[flattened(c, comments)] if not c.deleted else None
            if mine is None or parents[c.id] is None:
                continue
            assert mine["parent"] in tops


@pytest.mark.isso
@pytest.mark.parametrize("system", ["disqus", "wordpress"])
def test_isso_imports_the_wxr_written_from_each_source(
    tmp_path: Path, isso: IssoServer, system: str
) -> None:
    output = tmp_path / "comments.wxr"
    config = write_config(
        tmp_path,
        source={"type": system, "path": str(EXPORTS[system])},
        target={"type": "wxr", "output": str(output)},  # the importer Isso by default
    )
    result = invoke("-q", "run", "-c", str(config))
    assert result.exit_code == 0, result.output
    isso.import_wxr(output)
    for page, comments in read_site(system, EXPORTS[system]).items():
        held = isso.comments(page.key)
        # a "<" that would open a tag is written as U+2039 for Isso (formats.isso_markdown)
        rows = sorted(
            (
                html.unescape(c["author"] or ""),
                visible_markdown(c["text"]).text.replace("\u2039", "<"),
                int(c["created"]),
            )
            for c in held
        )
        assert rows == sorted(
            (c.author.name, visible(c), int(c.created_at.timestamp())) for c in comments
        ), page.key


def assert_worker_has(worker: WorkerServer, site: dict[Page, list[Comment]]) -> None:
    """Every comment once, under its parent, its time kept, the public thread of the
    source's shape (tests/test_worker.py), and its author, page key and visible text."""
    assert_worker_holds(worker, site)
    for page, comments in site.items():
        held = {item["source"]["id"]: item for item in worker.list_page(page.id)}
        for c in comments:
            item = held[c.id]
            assert item["author"]["name"] == c.author.name
            assert item["page"]["uri"] == page.key
            assert visible_html(item["html"]).text == visible(c)


@pytest.mark.workerd
@pytest.mark.parametrize("system", ["disqus", "wordpress"])
def test_into_the_worker(tmp_path: Path, worker: WorkerServer, system: str) -> None:
    config = write_config(
        tmp_path,
        source={"type": system, "path": str(EXPORTS[system])},
        target={"type": "http", "url": worker.url, "token_env": "TARGET_TOKEN"},
    )
    # the session's one Worker holds both exports: each under a folder of its own, by the rule
    with config.open("a", encoding="utf-8") as handle:
        handle.write(f'[pages]\nrewrite = [["^/(.*)$", "/{system}/\\\\1"]]\n')
    env = {"TARGET_TOKEN": worker.token}
    result = invoke("-q", "run", "-c", str(config), env=env)
    assert result.exit_code == 0, result.output
    rule = PageRule(rewrite=((re.compile("^/(.*)$"), f"/{system}/\\1"),))
    site = read_site(system, EXPORTS[system], rule)
    assert sum(map(len, site.values())) >= 5
    assert all(page.key.startswith(f"/{system}/") for page in site)
    assert_worker_has(worker, site)
    verified = invoke("verify", "-c", str(config), env=env)
    assert verified.exit_code == 0, verified.output


@pytest.mark.workerd
def test_a_disqus_export_into_the_worker_survives_sigkill(
    tmp_path: Path, worker: WorkerServer
) -> None:
    export = write_disqus_export(
        tmp_path / "export.xml.gz", threads=6, posts=180, seed=22, compress=True, first_thread=52001
    )
    site = read_site("disqus", export.path)
    assert sum(map(len, site.values())) > 150
    env = {"TARGET_TOKEN": worker.token}
    proxy = KillProxy(worker.url).start()
    try:
        config = write_config(
            tmp_path,
            source={"type": "disqus", "path": str(export.path)},
            target={"type": "http", "url": proxy.url, "token_env": "TARGET_TOKEN", "batch_size": 0},
        )
        kills = crash_until_done(config, proxy, subprocess_env(**env), random.Random(22))
        assert kills >= MIN_KILLS
        assert_worker_has(worker, site)
        verified = invoke("verify", "-c", str(config), env=env)
        assert verified.exit_code == 0, verified.output
    finally:
        proxy.stop()
