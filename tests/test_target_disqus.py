"""DisqusTarget: the export file it writes, and a real `isso import -t disqus` of it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from migrate.abilities import Target
from migrate.systems.disqus.target import INTERNALS, NAMESPACE, DisqusTarget
from tests.servers.isso import IssoServer
from tests.test_target_wxr import POST, T1, T2, T3, T4, UNTITLED, out

D = "{" + NAMESPACE + "}"
DSQ_ID = "{" + INTERNALS + "}id"


def parse(path: Path) -> ET.Element:
    return ET.parse(path).getroot()  # noqa: S314 (our own file, not untrusted input)


def write_site(path: Path, importer: str | None = None) -> dict[str, str]:
    """Two pages, three levels of replies, a tombstone with a reply, "]]>" in a message."""
    target = DisqusTarget(path, site_url="https://example.org", importer=importer)
    ids: dict[str, str] = {}

    def add(key: str, *args: object, **kwargs: object) -> None:
        ids[key] = target.create(out(key, *args, **kwargs)).target_id  # type: ignore[arg-type]

    target.begin_page(POST)
    add("$1", T1, "Hello *world*", html="<p>Hello <em>world</em></p>")
    add("$2", T2, "a reply", parent=("$1", ids["$1"]), author="bob")
    add("$3", T3, "deeper", parent=("$2", ids["$2"]))
    add("$4", T4, "x ]]> y", author="carol")
    target.finish_page(POST)
    target.begin_page(UNTITLED)
    add("$5", T1, "two & <b>", page=UNTITLED)
    target.finish_page(UNTITLED)
    target.close()
    return ids


def test_the_file_is_a_disqus_export(tmp_path: Path) -> None:
    path = tmp_path / "comments.xml"
    ids = write_site(path)
    root = parse(path)
    assert root.tag == D + "disqus"
    threads = root.findall(D + "thread")
    assert [t.findtext(D + "link") for t in threads] == [
        "https://example.org/blog/post1/",
        "https://example.org/blog/post2/",
    ]
    assert [t.findtext(D + "title") for t in threads] == ["Post & one", "/blog/post2/"]
    assert [t.findtext(D + "id") for t in threads] == ["post1", "post2"]
    assert threads[0].findtext(D + "createdAt") == "2015-01-02T03:04:05Z"
    posts = root.findall(D + "post")
    assert [p.get(DSQ_ID) for p in posts] == [ids[f"${n}"] for n in range(1, 6)]
    thread_of = [p.find(D + "thread").get(DSQ_ID) for p in posts]  # type: ignore[union-attr]
    assert thread_of == [threads[0].get(DSQ_ID)] * 4 + [threads[1].get(DSQ_ID)]
    parents = [p.find(D + "parent") for p in posts]
    assert [p.get(DSQ_ID) if p is not None else None for p in parents] == [
        None,
        ids["$1"],
        ids["$2"],
        None,
        None,
    ]
    assert [p.findtext(D + "createdAt") for p in posts[:4]] == [
        "2015-01-02T03:04:05Z",
        "2016-06-07T08:09:10Z",
        "2017-11-12T13:14:15Z",
        "2018-02-03T04:05:06Z",
    ]
    assert [p.findtext(f"{D}author/{D}name") for p in posts[:2]] == ["alice", "bob"]
    assert posts[1].findtext(f"{D}author/{D}username") == "@bob:example.org"
    # the default importer ("disqus"): sanitized HTML, as Disqus exports carry it
    assert posts[0].findtext(D + "message") == "<p>Hello <em>world</em></p>"
    assert posts[3].findtext(D + "message") == "<p>x ]]&gt; y</p>"
    assert posts[4].findtext(D + "message") == "<p>two &amp; &lt;b&gt;</p>"
    assert {p.findtext(D + "isSpam") for p in posts} == {"false"}
    assert {p.findtext(D + "isDeleted") for p in posts} == {"false"}


def test_markdown_for_isso_keeps_cdata_end_in_a_message(tmp_path: Path) -> None:
    path = tmp_path / "comments.xml"
    write_site(path, importer="isso")
    messages = [p.findtext(D + "message") for p in parse(path).findall(D + "post")]
    assert messages == ["Hello *world*", "a reply", "deeper", "x ]]> y", "two & \u2039b>"]
    assert "]]]]><![CDATA[>" in path.read_text(encoding="utf-8")


def test_a_tombstone_is_deleted(tmp_path: Path) -> None:
    from dataclasses import replace

    path = tmp_path / "comments.xml"
    target = DisqusTarget(path)
    assert isinstance(target, Target)
    target.begin_page(POST)
    gone = out("$1", T1, "[deleted]")
    top = target.create(replace(gone, source=replace(gone.source, deleted=True))).target_id
    target.create(out("$2", T2, "the reply", parent=("$1", top)))
    target.finish_page(POST)
    target.close()
    posts = parse(path).findall(D + "post")
    assert [p.findtext(D + "isDeleted") for p in posts] == ["true", "false"]
    # no site_url: the link is the page's path, which Isso's importer reads
    assert parse(path).findtext(f"{D}thread/{D}link") == "/blog/post1/"


def test_isso_imports_threads_authors_timestamps_and_parents(
    tmp_path: Path, isso: IssoServer
) -> None:
    path = tmp_path / "comments.xml"
    write_site(path, importer="isso")
    isso.post("/elsewhere/", "already here")  # a non-empty database: Isso asks, we say y
    isso.import_disqus(path)
    thread = isso.threads(POST.key)["replies"]
    assert [(c["text"], c["author"], c["created"]) for c in thread] == [
        ("Hello *world*", "alice", T1.timestamp()),
        ("x ]]> y", "carol", T4.timestamp()),
    ]
    # Isso keeps two levels: the reply to the reply hangs under the top-level comment
    assert [(r["text"], r["author"], r["created"]) for r in thread[0]["replies"]] == [
        ("a reply", "bob", T2.timestamp()),
        ("deeper", "alice", T3.timestamp()),
    ]
    assert [c["text"] for c in isso.comments(UNTITLED.key)] == ["two & \u2039b>"]
    # rendered as a visitor sees it: Markdown became HTML, no literal tags
    rendered = [c["text"].strip() for c in isso.rendered(POST.key)]
    assert rendered[0] == "<p>Hello <em>world</em></p>"
    assert [c["text"].strip() for c in isso.rendered(UNTITLED.key)] == [
        "<p>two &amp; \u2039b&gt;</p>"
    ]
    assert isso.threads("/elsewhere/")["total_replies"] == 1


def test_isso_keeps_a_tombstone_that_has_replies(tmp_path: Path, isso: IssoServer) -> None:
    from dataclasses import replace

    path = tmp_path / "comments.xml"
    target = DisqusTarget(path, importer="isso")
    target.begin_page(POST)
    gone = out("$1", T1, "[deleted]")
    top = target.create(replace(gone, source=replace(gone.source, deleted=True))).target_id
    target.create(out("$2", T2, "the reply", parent=("$1", top)))
    target.finish_page(POST)
    target.close()
    isso.import_disqus(path)
    rows = {r["text"]: r for r in isso.rows()}
    assert rows["[deleted]"]["mode"] == 4  # Isso's "deleted" mode, kept for its reply
    assert rows["the reply"]["parent"] == rows["[deleted]"]["id"]


def test_configured_by_type_disqus(tmp_path: Path) -> None:
    from migrate.config import parse_config
    from migrate.errors import ConfigError
    from migrate.plugins import build_target

    def config(**target: object) -> dict[str, object]:
        return {
            "source": {"type": "archive", "path": "a.jsonl"},
            "target": {"type": "disqus", "output": "comments.xml", **target},
        }

    parsed = parse_config(
        config(site_url="https://example.org", importer="isso", allow_images=True),
        tmp_path / "migration.toml",
    )
    target = build_target(parsed.target, parsed.run)
    assert isinstance(target, DisqusTarget)
    assert (target.output, target.site_url) == (tmp_path / "comments.xml", "https://example.org")
    assert (target.reader.name, target.allow_images) == ("isso", True)
    assert DisqusTarget(tmp_path / "default.xml").reader.name == "disqus"
    with pytest.raises(ConfigError, match=r"target\.output is required"):
        parse_config({"source": {"type": "archive", "path": "a"}, "target": {"type": "disqus"}})
    with pytest.raises(ConfigError, match=r"target\.importer must be one of"):
        parse_config(config(importer="blogger"))
    with pytest.raises(ConfigError, match=r"target\.site_url"):
        parse_config(config(site_url="javascript:alert(1)"))


def test_a_page_without_a_usable_link_is_refused(tmp_path: Path) -> None:
    from dataclasses import replace

    from migrate.abilities import CommentRefused
    from migrate.model import Page

    target = DisqusTarget(tmp_path / "comments.xml", site_url="https://example.org")
    bad = Page(id="bad", key="javascript:alert(1)", title="Bad")
    outgoing = replace(out("$1", T1, "hello"), page=bad)
    assert "neither a path" in (target.check(outgoing) or "")
    target.begin_page(bad)
    with pytest.raises(CommentRefused, match="neither a path"):
        target.create(outgoing)
