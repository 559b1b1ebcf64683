"""The Disqus source on an export written in Disqus's shape (tests/fixtures/exports/disqus.xml):
pages and their keys, threads, states, authors, links, gzip, unsafe XML, streaming."""

from __future__ import annotations

import gzip
import shutil
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from migrate.abilities import PageError, Source
from migrate.errors import InputError
from migrate.model import PageComments
from migrate.pages import keyed_source
from migrate.systems.disqus import DisqusSource
from migrate.systems.disqus.source import unwrap_link
from migrate.testing.exports import write_disqus_export
from tests.migration_helpers import invoke, write_config

FIXTURES = Path(__file__).parent / "fixtures" / "exports"
DISQUS = FIXTURES / "disqus.xml"


def read_site(path: Path = DISQUS) -> dict[str, PageComments]:
    source = keyed_source(DisqusSource(path))
    try:
        return {page.key: source.comments(page) for page in source.pages()}
    finally:
        source.close()


def test_is_a_source() -> None:
    source = DisqusSource(DISQUS)
    try:
        assert isinstance(source, Source) and source.system == "disqus"
    finally:
        source.close()


def test_pages_get_keys_by_the_rule_and_twins_are_one_page() -> None:
    site = read_site()
    # 7001 and 7002 are twins (https/http, www., trailing slash): one page, the first's id;
    # tracking parameters dropped; /?p=4 and /?p=6 two pages; a thread without a link gets
    # the uri_template with its identifier; a thread without posts is no page
    assert {key: pc.page.id for key, pc in site.items()} == {
        "/posts/hello/": "7001",
        "/about/": "7003",
        "/legacy-7/": "7004",
        "/removed/": "7006",
        "/?p=4": "7007",
        "/?p=6": "7008",
    }
    hello = site["/posts/hello/"]
    assert [(c.id, c.parent_id, c.page_id) for c in hello.comments] == [
        ("9001", None, "7001"),
        ("9002", "9001", "7001"),  # posted on the twin URL, under its parent on the other
    ]
    assert hello.orphans == []
    assert site["/about/"].page.title == "About & <contact>"


def test_threads_states_and_orphans() -> None:
    about = read_site()["/about/"]
    by_id = {c.id: c for c in about.comments}
    # the reply that comes before its parent in the file is under it; the reply to spam
    # hangs where the pipeline puts a reply to a skipped comment (its parent is not sent)
    assert by_id["9003"].parent_id == "9004"
    assert by_id["9006"].parent_id == "9005"
    assert "9005" not in by_id  # spam never migrates
    assert by_id["9007"].deleted and by_id["9007"].text == "[deleted]"  # kept for 9008
    assert by_id["9008"].parent_id == "9007"
    assert "9009" not in by_id  # deleted, nothing under it
    assert about.orphans == ["9010"]  # its parent 8999 is not in the export
    assert {s.event_id: s.reason for s in about.skipped} == {
        "9005": "spam",
        "9009": "deleted, and no replies",
    }
    order = [c.id for c in about.comments]
    assert order.index("9004") < order.index("9003")  # parents first


def test_deleted_threads_and_missing_threads() -> None:
    source = DisqusSource(DISQUS)
    try:
        assert source.unplaced == ["9011"]  # its thread 7999 is not in the file
    finally:
        source.close()
    removed = read_site()["/removed/"]
    assert removed.comments == []
    assert [(s.event_id, s.reason) for s in removed.skipped] == [
        ("9013", "its thread is deleted in Disqus")
    ]


def test_authors_times_and_content() -> None:
    site = read_site()
    first = site["/posts/hello/"].comments[0]
    assert first.author.name == "Ann Example" and first.author.source_id == "annexample"
    assert first.author.email == "ann@example.net"
    assert first.author.ip == "198.51.100.7"  # a target gets it only with keep_ip
    assert first.created_at == datetime(2016, 2, 1, 10, 15, 30, tzinfo=UTC)
    # the disq.us redirect is gone: readers get the real link, in both forms
    assert "disq.us" not in (first.html or "") and "disq.us" not in first.text
    assert 'href="https://docs.example.com/guide?page=2"' in (first.html or "")
    assert "](https://docs.example.com/guide?page=2" in first.text
    assert "**tell me**" in first.text
    guest = next(c for c in site["/about/"].comments if c.id == "9004")
    assert guest.author.name == "Guest Reader" and guest.author.source_id == ""  # anonymous
    four = site["/?p=4"].comments[0]
    assert four.author.name == "Jo <admin>"  # plain text; each target escapes it its way
    assert "]]>" in four.text.replace("\\", "") and "<b>" in four.text.replace("\\", "")
    code = site["/legacy-7/"].comments[0]
    assert code.text.endswith("`a_b`")  # code shows as typed


@pytest.mark.parametrize(
    ("wrapped", "real"),
    [
        (
            "https://disq.us/url?url=https%3A%2F%2Fexample.com%2Fa%3Fb%3D1:Xp3kQ9aZbT0r",
            "https://example.com/a?b=1",
        ),
        (
            "http://disq.us/?url=http%3A%2F%2Fexample.com%3A8080%2F:abcdef12",
            "http://example.com:8080/",
        ),
        (
            "https://disq.us/url?url=javascript%3Aalert(1):abcdef",
            "https://disq.us/url?url=javascript%3Aalert(1):abcdef",
        ),
        ("https://example.com/x", "https://example.com/x"),
    ],
)
def test_unwrap_link(wrapped: str, real: str) -> None:
    assert unwrap_link(wrapped) == real


def test_gzip_is_recognised_by_content(tmp_path: Path) -> None:
    packed = tmp_path / "export.xml"  # no .gz suffix: the magic bytes decide
    with DISQUS.open("rb") as src, gzip.open(packed, "wb") as dst:
        shutil.copyfileobj(src, dst)
    plain, compressed = read_site(), read_site(packed)
    assert {k: [c.id for c in v.comments] for k, v in compressed.items()} == {
        k: [c.id for c in v.comments] for k, v in plain.items()
    }


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">
<thread dsq:id="1"><link>https://example.org/a/</link><title>&lol9;</title></thread>
<post dsq:id="2"><message>&lol9;</message><createdAt>2016-01-01T00:00:00Z</createdAt>
<thread dsq:id="1"/></post>
</disqus>
"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE disqus [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">
<post dsq:id="2"><message>&secret;</message><thread dsq:id="1"/></post></disqus>
"""


@pytest.mark.parametrize("text", [BILLION_LAUGHS, EXTERNAL_ENTITY])
@pytest.mark.parametrize("compress", [False, True])
def test_entities_are_refused_unexpanded(tmp_path: Path, text: str, compress: bool) -> None:
    path = tmp_path / "evil.xml"
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if compress else data)
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="declares a DTD"):
            DisqusSource(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000  # nothing was expanded (lol9 alone is 3 GB)
    config = write_config(
        tmp_path,
        source={"type": "disqus", "path": str(path)},
        target={"type": "jsonl", "output": str(tmp_path / "out.jsonl")},
    )
    result = invoke("run", "-c", str(config))
    assert result.exit_code == 2
    assert "declares a DTD" in result.output and str(path) in result.output
    assert not (tmp_path / "out.jsonl").exists()


def test_an_undeclared_entity_or_broken_xml_names_the_place(tmp_path: Path) -> None:
    path = tmp_path / "broken.xml"
    path.write_text(
        '<disqus xmlns="http://disqus.com">\n<post><message>&nope;</message></post>\n</disqus>\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"broken.xml: not well-formed XML at line 2"):
        DisqusSource(path)
    missing = tmp_path / "missing.xml"
    with pytest.raises(InputError, match="cannot open"):
        DisqusSource(missing)


CYCLE = """<?xml version="1.0" encoding="utf-8"?>
<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">
<thread dsq:id="1"><link>https://example.org/a/</link><title>A</title></thread>
<post dsq:id="10"><message><![CDATA[<p>top</p>]]></message>
<createdAt>2016-01-01T00:00:00Z</createdAt><thread dsq:id="1"/></post>
<post dsq:id="11"><message><![CDATA[<p>one</p>]]></message>
<createdAt>2016-01-01T00:00:01Z</createdAt><thread dsq:id="1"/><parent dsq:id="12"/></post>
<post dsq:id="12"><message><![CDATA[<p>two</p>]]></message>
<createdAt>2016-01-01T00:00:02Z</createdAt><thread dsq:id="1"/><parent dsq:id="11"/></post>
</disqus>
"""


def test_a_parent_cycle_fails_its_page_naming_the_ids(tmp_path: Path) -> None:
    path = tmp_path / "cycle.xml"
    path.write_text(CYCLE, encoding="utf-8")
    source = DisqusSource(path)
    try:
        (page,) = source.pages()
        with pytest.raises(PageError, match=r"reply parents form a cycle: 1[12] -> 1[12] -> 1"):
            source.comments(page)
    finally:
        source.close()
    config = write_config(
        tmp_path,
        source={"type": "disqus", "path": str(path)},
        target={"type": "jsonl", "output": str(tmp_path / "out.jsonl")},
    )
    result = invoke("run", "-c", str(config))
    assert result.exit_code == 3 and "parents form a cycle" in result.output


def test_the_index_pass_holds_a_page_not_the_file(tmp_path: Path) -> None:
    """Memory grows with the pages (a few bytes of index a post), not with what the posts
    hold: 20,000 posts of about 1 KB (20 MB) are read with a small peak."""
    export = write_disqus_export(tmp_path / "big.xml", threads=50, posts=20_000)
    tracemalloc.start()
    try:
        source = DisqusSource(export.path)
        _, peak = tracemalloc.get_traced_memory()
        source.close()
    finally:
        tracemalloc.stop()
    assert export.size > 15_000_000
    assert peak < 3_000_000, f"peak {peak} bytes while indexing {export.size} bytes"
