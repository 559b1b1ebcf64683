"""WxrTarget: the file it writes, and a round trip through a real Isso's WordPress import."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest

from migrate.errors import TargetError
from migrate.model import Author, Comment, OutgoingComment, Page
from migrate.systems.wordpress.wxr import NAMESPACES, WxrTarget
from tests.servers.isso import IssoServer

WP = "{" + NAMESPACES["wp"] + "}"
POST = Page(id="post1", key="/blog/post1/", title="Post & one")
UNTITLED = Page(id="post2", key="/blog/post2/")


def out(
    source_id: str,
    when: datetime,
    text: str,
    *,
    page: Page = POST,
    parent: tuple[str, str] | None = None,
    author: str = "alice",
    html: str | None = None,
) -> OutgoingComment:
    comment = Comment(
        id=source_id,
        page_id=page.id,
        parent_id=parent[0] if parent else None,
        author=Author(author, f"@{author}:example.org"),
        text=text,
        created_at=when,
        html=html,
    )
    return OutgoingComment(
        source=comment,
        page=page,
        parent_target_id=parent[1] if parent else None,
        parent_source_id=parent[0] if parent else None,
        text=text,
        html=html,
        idempotency_key=f"matrix:{source_id}",
    )


T1 = datetime(2015, 1, 2, 3, 4, 5, tzinfo=UTC)
T2 = datetime(2016, 6, 7, 8, 9, 10, tzinfo=UTC)
T3 = datetime(2017, 11, 12, 13, 14, 15, tzinfo=UTC)
T4 = datetime(2018, 2, 3, 4, 5, 6, tzinfo=UTC)


def parse(path: Path) -> ET.Element:
    return ET.parse(path).getroot()  # noqa: S314 (our own file, not untrusted input)


def write_site(path: Path, importer: str | None = None) -> dict[str, str]:
    """Two pages, three levels of replies, awkward content. Returns source id -> target id."""
    target = WxrTarget(path, site_url="https://example.org", importer=importer)
    ids: dict[str, str] = {}
    target.begin_page(POST)
    ids["$1"] = target.create(
        out("$1", T1, "Hello *world*", html="<p>Hello <em>world</em></p>")
    ).target_id
    ids["$2"] = target.create(
        out("$2", T2, "a reply", parent=("$1", ids["$1"]), author="bob")
    ).target_id
    ids["$3"] = target.create(out("$3", T3, "deeper", parent=("$2", ids["$2"]))).target_id
    ids["$4"] = target.create(
        out(
            "$4",
            T4,
            "x ]]> y\x01",
            author="Zoë <z>",
            html='<p><a href="https://e.org/" title="]]>">x ]]&gt;\x01 y</a></p>',
        )
    ).target_id
    target.finish_page(POST)
    target.begin_page(UNTITLED)
    ids["$5"] = target.create(out("$5", T1, "two & <b>", page=UNTITLED)).target_id
    target.finish_page(UNTITLED)
    target.close()
    return ids


def test_the_file_is_wxr(tmp_path: Path) -> None:
    path = tmp_path / "site.wxr"
    ids = write_site(path, importer="wordpress")
    root = parse(path)
    assert root.tag == "rss"
    items = root.findall("channel/item")
    assert [i.findtext("title") for i in items] == ["Post & one", "/blog/post2/"]
    assert [i.findtext("link") for i in items] == [
        "https://example.org/blog/post1/",
        "https://example.org/blog/post2/",
    ]
    first = items[0]
    assert first.findtext(WP + "post_type") == "post"
    assert first.findtext(WP + "status") == "publish"
    assert first.findtext(WP + "comment_status") == "open"
    comments = first.findall(WP + "comment")
    expected = [ids[k] for k in ("$1", "$2", "$3", "$4")]
    assert [c.findtext(WP + "comment_id") for c in comments] == expected
    assert [c.findtext(WP + "comment_parent") for c in comments] == ["0", ids["$1"], ids["$2"], "0"]
    assert comments[0].findtext(WP + "comment_date_gmt") == "2015-01-02 03:04:05"
    assert comments[0].findtext(WP + "comment_date") == "2015-01-02 03:04:05"
    assert comments[0].findtext(WP + "comment_content") == "<p>Hello <em>world</em></p>"
    assert comments[0].findtext(WP + "comment_approved") == "1"
    assert comments[0].findtext(WP + "comment_author_email") in ("", None)
    # \x01 cannot be XML at all (sanitized HTML never holds "]]>": the Markdown test has it)
    assert comments[3].findtext(WP + "comment_content") == (
        '<p><a href="https://e.org/" title="]]&gt;" rel="noopener noreferrer nofollow">x ]]&gt; y'
        "</a></p>"
    )
    # a name is plain text: nothing in it can become markup in any importer
    assert comments[3].findtext(WP + "comment_author") == "Zoë \u2039z\u203a"
    # no HTML from the transform: the text as escaped paragraphs
    second = items[1].findall(WP + "comment")
    assert second[0].findtext(WP + "comment_content") == "<p>two &amp; &lt;b&gt;</p>"


def test_isso_imports_it_with_threads_and_timestamps(tmp_path: Path, isso: IssoServer) -> None:
    path = tmp_path / "site.wxr"
    write_site(path)  # the default importer: Isso, as the README recommends
    isso.post("/elsewhere/", "already here")  # a non-empty database: Isso asks, we say y
    result = isso.import_wxr(path)
    assert result.returncode == 0
    thread = isso.threads(POST.key)["replies"]
    assert [c["created"] for c in thread] == [T1.timestamp(), T4.timestamp()]
    assert thread[0]["text"] == "Hello *world*"  # Markdown, which Isso renders
    # Isso keeps two levels: the reply to the reply hangs under the top-level comment
    assert [(r["text"], r["created"], r["author"]) for r in thread[0]["replies"]] == [
        ("a reply", T2.timestamp(), "bob"),
        ("deeper", T3.timestamp(), "alice"),
    ]
    assert thread[1]["text"] == "x ]]> y"  # "]]>" survives CDATA, \x01 is gone
    assert thread[1]["author"] == "Zoë &lt;z&gt;"  # as Isso's own API stores a name
    assert [c["text"] for c in isso.comments(UNTITLED.key)] == ["two & \u2039b>"]
    assert isso.threads("/elsewhere/")["total_replies"] == 1
    # what a visitor sees: rendered, no literal tags
    rendered = [c["text"] for c in isso.rendered(POST.key)]
    assert rendered[0].strip() == "<p>Hello <em>world</em></p>"
    assert [c["text"].strip() for c in isso.rendered(UNTITLED.key)] == [
        "<p>two &amp; \u2039b&gt;</p>"
    ]


def test_for_an_html_importer_the_file_carries_sanitized_html(tmp_path: Path) -> None:
    path = tmp_path / "site.wxr"
    target = WxrTarget(path, importer="remark42")
    target.begin_page(POST)
    target.create(out("$1", T1, "hi", html='<p onclick="x()">hi<script>alert(1)</script></p>'))
    target.create(out("$2", T2, "plain & <b>"))
    target.finish_page(POST)
    target.close()
    contents = [c.findtext(WP + "comment_content") for c in parse(path).iter(WP + "comment")]
    assert contents == ["<p>hi</p>", "<p>plain &amp; &lt;b&gt;</p>"]


def test_a_foreign_file_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "theirs.wxr"
    path.write_text("<rss/>")
    with pytest.raises(TargetError, match="not written by comment-migrate"):
        WxrTarget(path)


def test_rebuilds_are_throttled_and_caught_up_on_open(tmp_path: Path) -> None:
    path = tmp_path / "site.wxr"
    target = WxrTarget(path, rebuild_interval=3600)
    for n, page in enumerate((POST, UNTITLED)):
        target.begin_page(page)
        target.create(out(f"${n}", T1, f"comment {n}", page=page))
        target.finish_page(page)
    assert len(parse(path).findall("channel/item")) == 1  # the first page at once
    # no close(): as after a crash. The next open brings the WXR up to the sidecar.
    WxrTarget(path, rebuild_interval=3600)
    assert len(parse(path).findall("channel/item")) == 2


def test_delete_rebuilds_the_file(tmp_path: Path) -> None:
    path = tmp_path / "site.wxr"
    ids = write_site(path)
    target = WxrTarget(path, rebuild_interval=0)
    assert target.delete(ids["$4"], POST) and target.delete(ids["$5"], UNTITLED)
    items = parse(path).findall("channel/item")
    assert len(items) == 1 and len(items[0].findall(WP + "comment")) == 3
