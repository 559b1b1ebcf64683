"""The page-key rule (migrate/pages.py): the default, twins, [pages] rewrite and map,
collisions, and `check` fetching each page under its key."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from migrate.config import load_config
from migrate.errors import ConfigError
from migrate.migration import Migration
from migrate.model import Author, Comment, Page, PageComments
from migrate.pages import (
    PageKeyError,
    PageRule,
    assign_keys,
    default_key,
    keyed_source,
    twin_id,
)
from tests.migration_helpers import invoke, write_config
from tests.test_check import StaticSite, items

DISQUS = Path(__file__).parent / "fixtures" / "exports" / "disqus.xml"


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://www.example.org/post/?utm_source=x&utm_medium=y#c1", "/post/"),
        ("https://example.org/?p=4", "/?p=4"),
        ("https://example.org/?p=6&fbclid=abc", "/?p=6"),
        ("https://example.org/caf%c3%a9/%7euser", "/caf%C3%A9/~user"),
        ("/bare/path/", "/bare/path/"),
    ],
)
def test_default_key(url: str, key: str) -> None:
    assert default_key(url) == key


@pytest.mark.parametrize(
    ("a", "b", "twins"),
    [
        ("https://example.org/a/", "http://www.example.org/a", True),
        ("https://example.org/a/?gclid=1", "https://example.org/a", True),
        ("https://example.org/a/", "https://example.org/b/", False),
        ("https://example.org/?p=4", "https://example.org/?p=6", False),
        ("https://example.org/a/", "https://other.example/a/", False),  # another site
    ],
)
def test_twins(a: str, b: str, twins: bool) -> None:
    assert (twin_id(a) == twin_id(b)) is twins


def page(pid: str, url: str | None, key: str = "/x/") -> Page:
    return Page(id=pid, key=key, url=url)


def test_map_wins_then_rewrite_then_default() -> None:
    rule = PageRule(
        rewrite=((re.compile(r"^/blog/(.*)$"), r"/posts/\1"),),
        mapping={"https://example.org/old/": "/new/", "/legacy/": "/kept/"},
    )
    assert rule.key_for(page("1", "https://example.org/old/")) == "/new/"  # by URL
    assert rule.key_for(page("2", "http://www.example.org/legacy/")) == "/kept/"  # by key
    assert rule.key_for(page("3", "https://example.org/blog/a/?utm_source=z")) == "/posts/a/"
    assert rule.key_for(page("4", "https://example.org/other/")) == "/other/"
    assert rule.key_for(page("5", None, key="/blog/b/")) == "/posts/b/"  # a source's own key


def test_a_collision_names_both_pages() -> None:
    rule = PageRule(rewrite=((re.compile(r"^/(a|b)/$"), "/same/"),))
    with pytest.raises(PageKeyError) as caught:
        assign_keys([page("1", "https://e.org/a/"), page("2", "https://e.org/b/")], rule)
    assert "'/same/'" in caught.value.message
    assert "https://e.org/a/" in caught.value.message and "https://e.org/b/" in caught.value.message
    # two sites' pages with one path are two pages too
    with pytest.raises(PageKeyError, match=re.escape("https://one.example/a/ and https://two.")):
        assign_keys(
            [page("1", "https://one.example/a/"), page("2", "https://two.example/a/")], PageRule()
        )


class TwoTwins:
    """A source whose two pages are twins, each with a comment."""

    system = "fake"

    def pages(self) -> list[Page]:
        return [page("a", "https://e.org/p/"), page("b", "http://www.e.org/p")]

    def comments(self, p: Page) -> PageComments:
        when = datetime(2020, 1, 1, tzinfo=UTC) if p.id == "b" else datetime(2019, 1, 1, tzinfo=UTC)
        parent = "ca" if p.id == "b" else None
        comment = Comment(f"c{p.id}", p.id, parent, Author("A", "a"), "hi", when)
        return PageComments(p, [comment], orphans=["cb"] if p.id == "b" else [])

    def identity(self) -> dict[str, str]:
        return {}

    def close(self) -> None:
        pass


def test_twins_are_merged_for_any_source() -> None:
    source = keyed_source(TwoTwins())  # type: ignore[arg-type]
    (merged,) = list(source.pages())
    assert (merged.id, merged.key) == ("a", "/p/")
    got = source.comments(merged)
    assert [(c.id, c.page_id, c.parent_id) for c in got.comments] == [
        ("ca", "a", None),
        ("cb", "a", "ca"),
    ]
    assert got.orphans == []  # its parent is on the twin


def toml_config(tmp_path: Path, pages: str, target: str = "") -> Path:
    config = tmp_path / "migration.toml"
    config.write_text(
        f'[source]\ntype = "disqus"\npath = "{DISQUS}"\n'
        f'[target]\ntype = "jsonl"\noutput = "{tmp_path / "out.jsonl"}"\n{target}'
        f'[run]\ncheckpoint = "{tmp_path / "cp.json"}"\n{pages}',
        encoding="utf-8",
    )
    return config


def run_keys(config: Path) -> dict[str, str]:
    result = invoke("-q", "run", "-c", str(config))
    assert result.exit_code == 0, result.output
    out = config.parent / "out.jsonl"
    return {
        json.loads(line)["source"]["id"]: json.loads(line)["page"]["uri"]
        for line in out.read_text("utf-8").splitlines()
    }


def test_rewrite_and_map_from_the_configuration(tmp_path: Path) -> None:
    (tmp_path / "pages.csv").write_text(
        "source,target\nhttps://blog.example.org/about/,/about-us/\n/legacy-7/,/archive/7/\n",
        encoding="utf-8",
    )
    config = toml_config(
        tmp_path,
        '[pages]\nrewrite = [["^/posts/(.*)$", "/blog/\\\\1"]]\nmap = "pages.csv"\n',
    )
    keys = run_keys(config)
    assert keys["9001"] == keys["9002"] == "/blog/hello/"
    assert keys["9004"] == "/about-us/"  # mapped by the URL (tracking parameters and all)
    assert keys["9012"] == "/archive/7/"  # mapped by its key
    assert keys["9014"] == "/?p=4"


def test_the_rule_is_part_of_the_migration(tmp_path: Path) -> None:
    plain = Migration.from_config(load_config(toml_config(tmp_path, "")))
    rewritten = Migration.from_config(
        load_config(toml_config(tmp_path, '[pages]\nrewrite = [["^/a", "/b"]]\n'))
    )
    assert not any("pages" in key for key in plain.identity)  # older checkpoints stand
    assert plain.digest != rewritten.digest
    plain.close()
    rewritten.close()


def test_a_collision_stops_the_run_with_exit_2(tmp_path: Path) -> None:
    config = toml_config(tmp_path, '[pages]\nrewrite = [["^/\\\\?p=\\\\d+$", "/post/"]]\n')
    result = invoke("run", "-c", str(config))
    assert result.exit_code == 2
    assert "https://blog.example.org/?p=4" in result.output
    assert "https://blog.example.org/?p=6" in result.output
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize(
    ("pages", "message"),
    [
        ('[pages]\nrewrite = [["(unclosed", "/x"]]\n', r"key pages.rewrite\[0\]"),
        ('[pages]\nrewrite = [["^/a", "/\\\\2"]]\n', r"key pages.rewrite\[0\]"),
        ('[pages]\nrewrite = [["^/a"]]\n', "key pages.rewrite.0"),
        ('[pages]\nmap = "absent.csv"\n', "key pages.map: .*absent.csv does not exist"),
        ('[pages]\nmaps = "x.csv"\n', "key pages.maps is not a known key"),
    ],
)
def test_configuration_errors_name_the_file_and_key(
    tmp_path: Path, pages: str, message: str
) -> None:
    config = toml_config(tmp_path, pages)
    with pytest.raises(ConfigError, match=re.escape(str(config)) + ": " + message):
        load_config(config)


def test_a_bad_map_row_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "pages.csv").write_text("/a/,/b/\n/c/,no-slash\n", encoding="utf-8")
    with pytest.raises(PageKeyError, match=r"pages.csv:2: expected two columns"):
        load_config(toml_config(tmp_path, '[pages]\nmap = "pages.csv"\n'))


def test_check_fetches_each_page_under_its_key(tmp_path: Path) -> None:
    site = dict.fromkeys(("/blog/hello/", "/about/", "/legacy-7/", "/removed/"), "<p>a page</p>")
    with StaticSite(site) as web:  # "/" answers 404: both plain permalinks are missing
        config = write_config(
            tmp_path,
            source={"type": "disqus", "path": str(DISQUS)},
            target={"type": "jsonl", "output": str(tmp_path / "out.jsonl"), "site_url": web.url},
        )
        text = config.read_text("utf-8")
        config.write_text(text + '[pages]\nrewrite = [["^/posts/(.*)$", "/blog/\\\\1"]]\n')
        result = invoke("-q", "check", "-c", str(config), "--json")
        requested = sorted(web.requests)
    document = json.loads(result.stdout.strip().splitlines()[-1])
    found = items(document)
    assert result.exit_code == 3
    assert {name for name, item in found.items() if not item["ok"]} == {"page 7007", "page 7008"}
    assert "404" in found["page 7007"]["detail"] and "/?p=4" in found["page 7007"]["fix"]
    assert found["page 7001"]["ok"] and "/blog/hello/ answers 200" in found["page 7001"]["detail"]
    assert requested == sorted([*site, "/", "/"])  # each page once, under its key
    assert not (tmp_path / "out.jsonl").exists()  # nothing written before the run
