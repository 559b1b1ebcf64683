"""Every file format is safe for the importer that reads it (issue 8.1, 8.9; issue 12.2).

A Matrix display name like `<img src=x onerror=alert(1)>` must not become markup after a real
`isso import` (Isso's embed.js inserts author names unescaped), in any field Isso serves or
stores; links are http(s) only; characters XML cannot hold are removed with a recorded reason,
and a comment left empty by that is skipped with the reason in the run's summary."""

from __future__ import annotations

import contextlib
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from migrate.files.base import PageAtomicFileTarget
from migrate.model import Author, Comment, OutgoingComment, Page
from migrate.systems.disqus.target import DisqusTarget
from migrate.systems.wordpress.wxr import WxrTarget
from tests.factories import comment, make_archive, page
from tests.migration_helpers import run_json, write_config
from tests.servers.isso import IssoServer

XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_TITLE = "<script>alert(1)</script>Post"
XSS_TEXT = "hi [click](javascript:alert(1)) <img src=x onerror=alert(2)> <script>alert(3)</script>"
XSS_HTML = '<p>hi <a href="javascript:alert(1)">click</a><img src=x onerror=alert(2)></p>'
PAGE = Page(id="xss", key="/xss/", title=XSS_TITLE)
WHEN = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)


class Markup(HTMLParser):
    """Every tag and attribute in a string, as a browser's parser would find them."""

    def __init__(self, value: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.feed(value)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]


def dangers(value: str) -> list[str]:
    """What in `value` would run script if a browser took it as HTML."""
    found = Markup(value)
    bad = [f"<{t}>" for t in found.tags if t in ("script", "iframe", "object", "embed")]
    bad += [f"{n}=" for n, _ in found.attributes if n.startswith("on")]
    bad += [v for _, v in found.attributes if v.strip().lower().startswith("javascript:")]
    return bad


def hostile(source_id: str, *, parent: tuple[str, str] | None = None) -> OutgoingComment:
    source = Comment(
        id=source_id,
        page_id=PAGE.id,
        parent_id=parent[0] if parent else None,
        author=Author(XSS_NAME, "@<b>x</b>:example.org", "javascript:alert(1)"),
        text=XSS_TEXT,
        created_at=WHEN,
        html=XSS_HTML,
    )
    return OutgoingComment(
        source=source,
        page=PAGE,
        parent_target_id=parent[1] if parent else None,
        parent_source_id=parent[0] if parent else None,
        text=XSS_TEXT,
        html=XSS_HTML,
        idempotency_key=f"matrix:{source_id}",
    )


def write(target: PageAtomicFileTarget) -> None:
    target.begin_page(PAGE)
    top = target.create(hostile("$1")).target_id
    target.create(hostile("$2", parent=("$1", top)))
    target.finish_page(PAGE)
    target.close()


Importer = Callable[[IssoServer, Path], object]
CASES: dict[str, tuple[Callable[[Path, str], PageAtomicFileTarget], str, Importer]] = {
    "wxr-for-isso": (lambda p, i: WxrTarget(p, importer=i), "isso", IssoServer.import_wxr),
    "wxr-for-wordpress": (
        lambda p, i: WxrTarget(p, importer=i),
        "wordpress",
        IssoServer.import_wxr,
    ),
    "disqus-for-isso": (lambda p, i: DisqusTarget(p, importer=i), "isso", IssoServer.import_disqus),
    "disqus-for-disqus": (
        lambda p, i: DisqusTarget(p, importer=i),
        "disqus",
        IssoServer.import_disqus,
    ),
}


def all_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in all_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in all_strings(v)]
    return []


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_script_reaches_isso_through_an_import(
    case: str, tmp_path: Path, isso: IssoServer
) -> None:
    make, importer, run_import = CASES[case]
    path = tmp_path / "comments.out"
    write(make(path, importer))
    run_import(isso, path)
    assert len(isso.rows()) == 2, "both comments imported"

    raw = isso.threads(PAGE.key)  # plain=1: what Isso stored
    shown = requests_json(isso, PAGE.key)  # rendered: what embed.js gets
    for served in (raw, shown):
        for value in all_strings(served):
            assert dangers(value) == [], f"{case}: {value!r}"
    for item in isso.comments(PAGE.key):
        # embed.js inserts the name as HTML: it must hold no tag at all
        assert Markup(item["author"]).tags == [], item["author"]
        assert "img" in item["author"]  # the name is there, as text
        assert item["website"] in (None, "")
    for item in flat(shown):
        assert Markup(item["text"]).tags and "<img" not in item["text"]
        assert "javascript" not in item["text"]
    with contextlib.closing(sqlite3.connect(isso.db_path)) as db:
        titles = [row[0] for row in db.execute("SELECT title FROM threads")]
        stored = [
            v for row in db.execute("SELECT * FROM comments") for v in row if isinstance(v, str)
        ]
    assert titles and all(Markup(t).tags == [] for t in titles), titles
    assert all(dangers(v) == [] for v in stored), stored


def requests_json(isso: IssoServer, uri: str) -> dict[str, Any]:
    import requests

    response = requests.get(f"{isso.url}/", params={"uri": uri}, timeout=10)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def flat(thread: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for top in thread["replies"] for c in (top, *(top.get("replies") or []))]


def test_the_file_itself_names_no_markup(tmp_path: Path) -> None:
    """The fields, read back from the files, before any importer: names and titles are
    plain text, no javascript: URL anywhere, the HTML content sanitized."""
    for importer in ("wordpress", "remark42", "disqus"):
        for make in (WxrTarget, DisqusTarget):
            path = tmp_path / f"{make.__name__}-{importer}.xml"
            write(make(path, importer=importer))
            root = ET.parse(path).getroot()  # noqa: S314 (our own file)
            for element in root.iter():
                local = element.tag.rsplit("}", 1)[-1]
                text = element.text or ""
                assert "javascript" not in text.lower(), (local, text)
                if local in ("comment_author", "name", "title", "username", "link", "id"):
                    assert Markup(text).tags == [], (local, text)
                if local in ("comment_content", "message"):
                    assert dangers(text) == [] and "<script" not in text, (local, text)


def test_images_in_isso_are_links_unless_allowed(
    tmp_path: Path, isso_factory: Callable[..., IssoServer]
) -> None:
    text = "look ![a cat](https://example.org/cat.png) **now**"
    page_ = Page(id="img", key="/img/", title="Images")
    cases = {
        False: isso_factory(),
        True: isso_factory(
            markup__allowed_elements="img", markup__allowed_attributes="src, alt, title"
        ),
    }
    for allow, server in cases.items():
        path = tmp_path / f"img-{allow}.wxr"
        target = WxrTarget(path, allow_images=allow)
        target.begin_page(page_)
        source = Comment(
            id="$i",
            page_id="img",
            parent_id=None,
            author=Author("a", "@a:e"),
            text=text,
            created_at=WHEN,
        )
        target.create(
            OutgoingComment(
                source,
                page_,
                None,
                None,
                text,
                '<p>look <img src="https://example.org/cat.png"></p>',
                "matrix:$i",
            )
        )
        target.finish_page(page_)
        target.close()
        server.import_wxr(path)
        [shown] = flat(requests_json(server, "/img/"))
        html = shown["text"]
        assert "<strong>now</strong>" in html and "&lt;" not in html
        if allow:
            assert '<img src="https://example.org/cat.png" alt="a cat">' in html
        else:
            assert "<img" not in html
            assert 'href="https://example.org/cat.png"' in html and ">a cat</a>" in html


def test_a_comment_of_only_unwritable_characters_is_skipped_with_its_reason(
    tmp_path: Path,
) -> None:
    site = {
        page("post1"): [
            comment("$ok", text="fine\x07 text"),
            comment("$empty", text="\x01\x02\x1b", minute=1),
        ]
    }
    archive = make_archive(tmp_path / "site.archive.jsonl", site)
    output = tmp_path / "out.xml"
    config = write_config(
        tmp_path, archive=archive, target={"type": "disqus", "output": str(output)}
    )
    code, summary, stderr = run_json(config)
    assert code == 0, stderr
    assert summary["comments_imported"] == 1
    named = ("page_id", "source_id", "reason")
    assert [{k: c[k] for k in named} for c in summary["skipped_comments"]] == [
        {
            "page_id": "post1",
            "source_id": "$empty",
            "reason": "nothing left once the characters a file cannot hold were removed "
            "(U+0001, U+0002, U+001B)",
        }
    ]
    assert "comment $ok: removed from its text characters a file cannot hold: U+0007" in stderr
    messages = [
        p.findtext("{http://disqus.com}message")
        for p in ET.parse(output).getroot().iter("{http://disqus.com}post")  # noqa: S314
    ]
    assert messages == ["<p>fine text</p>"]
