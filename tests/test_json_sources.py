"""The JSON export sources (commento, remark42, artalk, twikoo) on fixtures in their real
shapes (tests/json_exports.py): threads, states, authors, times, page keys, damage."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from migrate.abilities import PageError
from migrate.errors import ConfigError, InputError
from migrate.files.export_source import ExportSource
from migrate.model import DELETED_TEXT, Comment, PageComments
from migrate.systems.artalk import ArtalkSource
from migrate.systems.commento import CommentoSource
from migrate.systems.remark42 import Remark42Source
from migrate.systems.twikoo import TwikooSource
from migrate.testing.source_contract import check_source
from tests import json_exports
from tests.json_exports import EXPECTED, FIRST, ROWS

ROW = {row.id: row for row in ROWS}

Fixture = Callable[..., Path]  # (folder, cycle=False) -> the export written there
FORMATS: dict[str, tuple[Fixture, type[ExportSource]]] = {
    "commento": (lambda d, **k: json_exports.commento(d / "commento.json", **k), CommentoSource),
    "comentario": (
        lambda d, **k: json_exports.comentario(d / "comentario.json", **k),
        CommentoSource,
    ),
    "remark42": (lambda d, **k: json_exports.remark42(d / "backup-remark.gz", **k), Remark42Source),
    "artalk": (lambda d, **k: json_exports.artalk(d / "artrans.json", **k), ArtalkSource),
    "twikoo": (lambda d, **k: json_exports.twikoo(d / "twikoo.json", **k), TwikooSource),
}
HAS_EMAIL = {"commento", "comentario", "artalk", "twikoo"}
HTML_SOURCES = {"remark42", "twikoo"}


def read_all(source: ExportSource) -> dict[str, PageComments]:
    try:
        return {page.key: source.comments(page) for page in source.pages()}
    finally:
        source.close()


def comments_of(pages: dict[str, PageComments]) -> dict[str, Comment]:
    found: dict[str, Comment] = {}
    for read in pages.values():
        for comment in read.comments:
            assert comment.id not in found, "every comment once"
            found[comment.id] = comment
    return found


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_comment_once_under_its_parent_with_author_time_and_state(
    fmt: str, tmp_path: Path
) -> None:
    make, cls = FORMATS[fmt]
    pages = read_all(cls(make(tmp_path)))
    expected = EXPECTED[fmt]
    assert set(pages) == {FIRST, "/blog/second/"}, "keys: path and query, tracking dropped"
    comments = comments_of(pages)
    # where each hangs: a parent missing from the read (an orphan's, a skipped comment's)
    # is the top level, though the source keeps its id (a twin page may bring it)
    hangs = {cid: c.parent_id if c.parent_id in comments else None for cid, c in comments.items()}
    assert hangs == expected.parents
    skipped = {e.event_id: e.reason for read in pages.values() for e in read.skipped}
    assert set(skipped) == expected.skipped
    assert {o for read in pages.values() for o in read.orphans} == expected.orphans
    assert {cid for cid, c in comments.items() if c.status == "pending"} == expected.pending
    assert {cid for cid, c in comments.items() if c.deleted} == expected.tombstones
    for cid, comment in comments.items():
        row = ROW[cid]
        assert comment.created_at == row.created, f"{cid}: time to the second, in UTC"
        assert comment.author.ip is None, "IP dropped unless keep_ip"
        if comment.deleted:
            assert comment.text == DELETED_TEXT
            continue
        assert comment.author.name == row.name
        if fmt in HAS_EMAIL and row.email:
            assert comment.author.email == row.email
    ann = comments["a1"]
    if fmt != "remark42":  # Remark42 keeps no website
        assert ann.author.url == "https://ann.example.net/"
    if fmt in HTML_SOURCES:
        assert ann.html is not None and "<strong>world</strong>" in ann.html
        assert ann.text == "Hello **world** & all"
        assert comments["a2"].text == "I *agree* <3"
    else:
        assert ann.html is None and ann.text == "Hello **world** & all"
    assert ann.likes >= 1


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_a_parent_cycle_fails_its_page_naming_the_ids(fmt: str, tmp_path: Path) -> None:
    make, cls = FORMATS[fmt]
    source = cls(make(tmp_path, cycle=True))
    pages = {page.key: page for page in source.pages()}
    assert set(pages) == {FIRST, "/blog/second/", json_exports.LOOP}
    with pytest.raises(PageError, match="cycle") as refused:
        source.comments(pages[json_exports.LOOP])
    assert "c1" in refused.value.message and "c2" in refused.value.message
    assert [c.id for c in source.comments(pages["/blog/second/"]).comments] == ["b1"]
    source.close()


def test_parents_come_before_replies_whatever_the_file_order(tmp_path: Path) -> None:
    pages = read_all(CommentoSource(json_exports.commento(tmp_path / "c.json")))
    order = [c.id for c in pages[FIRST].comments]
    assert order.index("a1") < order.index("a2") < order.index("a3")
    assert order.index("d1") < order.index("d2")


@pytest.mark.parametrize("fmt", ["comentario", "remark42", "artalk", "twikoo"])
def test_keep_ip_keeps_the_address_the_export_has(fmt: str, tmp_path: Path) -> None:
    make, cls = FORMATS[fmt]
    comments = comments_of(read_all(cls(make(tmp_path), keep_ip=True)))
    assert comments["b1"].author.ip


def test_plain_and_gzip_exports_are_recognised_by_content(tmp_path: Path) -> None:
    plain = json_exports.commento(tmp_path / "export.json.gz", compress=False)  # a lying name
    packed = json_exports.commento(tmp_path / "export.json", compress=True)
    read = [comments_of(read_all(CommentoSource(p))) for p in (plain, packed)]
    assert read[0] == read[1] and read[0]


def test_twikoo_json_lines_with_mongodb_extended_json(tmp_path: Path) -> None:
    array = comments_of(read_all(TwikooSource(json_exports.twikoo(tmp_path / "a.json"))))
    lines = comments_of(
        read_all(TwikooSource(json_exports.twikoo(tmp_path / "l.json", lines=True)))
    )
    assert {k: (c.parent_id, c.created_at, c.text) for k, c in lines.items()} == {
        k: (c.parent_id, c.created_at, c.text) for k, c in array.items()
    }


def test_remark42_names_are_read_as_shown(tmp_path: Path) -> None:
    comments = comments_of(read_all(Remark42Source(json_exports.remark42(tmp_path / "b.gz"))))
    assert comments["a3"].author.name == "Cy <b>"  # stored as "Cy &lt;b&gt;"


def test_artalk_times_without_a_zone_are_in_the_configured_zone(tmp_path: Path) -> None:
    path = tmp_path / "artrans.json"
    record = {
        "id": "1",
        "rid": "0",
        "content": "hi",
        "nick": "N",
        "email": "",
        "created_at": "2021-03-04 13:06:07",
        "page_key": "/p/",
        "site_name": "Blog",
    }
    path.write_text(json.dumps([record]))
    (utc,) = comments_of(read_all(ArtalkSource(path))).values()
    (shanghai,) = comments_of(read_all(ArtalkSource(path, timezone="Asia/Shanghai"))).values()
    assert utc.created_at.hour == 13 and shanghai.created_at.hour == 5
    with pytest.raises(ConfigError, match="Mars/Base"):
        ArtalkSource(path, timezone="Mars/Base")


def test_a_malformed_record_is_skipped_with_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "artrans.json"
    good = {
        "id": "1",
        "rid": "0",
        "content": "fine",
        "nick": "A",
        "created_at": "2021-03-04T05:06:07Z",
        "page_key": "/p/",
        "site_name": "Blog",
    }
    bad_time = {**good, "id": "2", "created_at": "yesterday"}
    no_page = {**good, "id": "3", "page_key": ""}
    path.write_text(json.dumps([good, bad_time, no_page, "not an object"]))
    source = ArtalkSource(path)
    (read,) = read_all(source).values()
    assert [c.id for c in read.comments] == ["1"]
    assert [(e.event_id, e.reason) for e in read.skipped] == [("2", "unreadable time 'yesterday'")]
    assert source.unplaced == 2


@pytest.mark.parametrize(
    ("fmt", "content", "message"),
    [
        ("commento", b'{"version": 1, "comments": [{"commentHex": ', "not valid JSON"),
        ("commento", b'{"version": 7, "comments": []}', "version 7"),
        ("remark42", b'{"id": "x", "locator": {"url": "/"}}\n', "not a Remark42 backup"),
        ("remark42", gzip.compress(b'{"version": 1}\n')[:-6], "gzip data is damaged"),
        ("artalk", b'{"id": "1"}', "one JSON array"),
        ("twikoo", b"<html>", "not a Twikoo export"),
    ],
)
def test_a_damaged_or_foreign_file_is_an_input_error_naming_it(
    fmt: str, content: bytes, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "export.bin"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as raised:
        read_all(FORMATS[fmt][1](path))
    assert str(path) in raised.value.message
    assert raised.value.exit_status == 2


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_each_source_passes_the_source_contract(fmt: str, tmp_path: Path) -> None:
    make, cls = FORMATS[fmt]
    path = make(tmp_path)
    report = check_source(lambda: cls(path))
    expected = EXPECTED[fmt]
    assert report.comments == len(expected.parents)
    assert report.statuses["pending"] == len(expected.pending)
    assert report.tombstones == len(expected.tombstones)
    assert report.orphans == len(expected.orphans)
