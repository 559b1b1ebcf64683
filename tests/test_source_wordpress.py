"""The WordPress source on a WXR written in WordPress's shape
(tests/fixtures/exports/wordpress.xml): pages, states, pingbacks, threads, content, authors."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from migrate.abilities import Source
from migrate.errors import InputError
from migrate.model import PageComments
from migrate.pages import keyed_source
from migrate.systems.wordpress import WordPressSource
from tests.test_source_disqus import BILLION_LAUGHS

WXR = Path(__file__).parent / "fixtures" / "exports" / "wordpress.xml"


def read_site(path: Path = WXR, *, pingbacks: bool = False) -> dict[str, PageComments]:
    source = keyed_source(WordPressSource(path, pingbacks=pingbacks))
    try:
        assert isinstance(source, Source) and source.system == "wordpress"
        return {page.key: source.comments(page) for page in source.pages()}
    finally:
        source.close()


def test_plain_permalinks_are_two_pages_and_items_without_comments_none() -> None:
    site = read_site()
    assert {key: pc.page.id for key, pc in site.items()} == {
        "/?p=4": "4",
        "/?p=6": "6",
        "/?p=40": "40",
    }
    assert site["/?p=4"].page.title == "Hello world!"


def test_states_threads_and_orphans() -> None:
    hello = read_site()["/?p=4"]
    by_id = {c.id: c for c in hello.comments}
    assert set(by_id) == {"1", "7", "8", "9", "14"}
    assert by_id["9"].status == "pending" and by_id["1"].status == "approved"
    assert by_id["7"].parent_id == "8" and by_id["8"].parent_id == "1"  # 7 comes first
    order = [c.id for c in hello.comments]
    assert order.index("8") < order.index("7")
    assert hello.orphans == ["14"]  # its parent 5 is not in the export
    assert {s.event_id: s.reason for s in hello.skipped} == {
        "10": "spam",
        "11": "trash",
        "12": "pingback (set pingbacks = true to keep them)",
        "13": "trackback (set pingbacks = true to keep them)",
    }
    binned = read_site()["/?p=40"]
    assert binned.comments == [] and [s.reason for s in binned.skipped] == ["post-trashed"]


def test_pingbacks_on_request() -> None:
    hello = read_site(pingbacks=True)["/?p=4"]
    kept = {c.id for c in hello.comments}
    assert {"12", "13"} <= kept and not {"10", "11"} & kept


def test_authors_times_and_content() -> None:
    site = read_site()
    first = next(c for c in site["/?p=4"].comments if c.id == "1")
    assert first.author.name == "A WordPress Commenter"
    assert first.author.email == "wapuu@wordpress.example"
    assert first.author.url == "https://wordpress.example/"
    assert first.author.ip == "192.0.2.10"  # a target gets it only with keep_ip
    assert first.created_at == datetime(2020, 3, 1, 10, 20, 5, tzinfo=UTC)  # the GMT date
    # WordPress's paragraphs and line breaks, as its readers saw them
    assert first.html is not None and first.html.count("<p>") == 2 and "<br>" in first.html
    assert first.text.split("\n\n")[1] == "Commenter avatars come from **Gravatar**."
    assert "[the support pages](https://wordpress.example/support/)" in first.text
    sam = next(c for c in site["/?p=4"].comments if c.id == "8")
    assert sam.author.source_id == "user-2"  # a registered user; guests have none
    old = site["/?p=6"].comments[0]
    assert old.created_at == datetime(2012, 6, 1, 12, 34, 56, tzinfo=UTC)  # zero GMT date
    assert old.author.url is None  # javascript: is no link
    assert "<script" not in (old.html or "") and "alert" not in old.text
    assert old.author.name == "Wyn <b>bold</b>"  # plain text, escaped by each target


def test_gzip_and_unsafe_xml(tmp_path: Path) -> None:
    packed = tmp_path / "export.wxr"
    packed.write_bytes(gzip.compress(WXR.read_bytes()))
    assert {k: [c.id for c in v.comments] for k, v in read_site(packed).items()} == {
        k: [c.id for c in v.comments] for k, v in read_site().items()
    }
    evil = tmp_path / "evil.wxr"
    evil.write_text(BILLION_LAUGHS, encoding="utf-8")
    with pytest.raises(InputError, match="declares a DTD"):
        WordPressSource(evil)
