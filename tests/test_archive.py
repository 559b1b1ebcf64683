"""The archive: extract once, read back later (offline), equal Comments."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from migrate.abilities import PageError, Source
from migrate.model import Author, Comment, Page, PageComments, SkippedEvent
from migrate.systems.archive import ArchiveError, ArchiveSource, archive_schema, write_archive
from migrate.systems.matrix import MatrixCommentExtractor
from tests.servers.synapse import SynapseServer
from utils.retry import RetryPolicy

WHEN = datetime(2019, 5, 4, 3, 2, 1, 123000, tzinfo=UTC)


class FakeSource:
    """A tiny in-memory source: the archive must work for any Source, not only Matrix."""

    system = "fake"

    def __init__(self, pages: dict[Page, PageComments | PageError]) -> None:
        self._pages = pages

    def pages(self) -> Iterator[Page]:
        yield from self._pages

    def comments(self, page: Page) -> PageComments:
        result = self._pages[page]
        if isinstance(result, PageError):
            raise result
        return result

    def identity(self) -> Mapping[str, str]:
        return {"site": "demo"}

    def close(self) -> None:
        pass


def sample() -> FakeSource:
    page = Page("p1", "/p1/", "Title \u00e9", ref="!r:hs")
    comments = [
        Comment(
            "$a",
            "p1",
            None,
            Author("Ann \U0001f600", "@ann:hs", "https://hs/av"),
            "hi\nthere",
            WHEN,
            html="<b>hi</b>",
        ),
        Comment("$b", "p1", "$a", Author("bob", "@bob:hs"), "[deleted]", WHEN, deleted=True),
        Comment(
            "$c",
            "p1",
            "$b",
            Author("cy", "@cy:hs"),
            "lone \ud800",
            WHEN,
            edited_at=datetime(2020, 1, 1, tzinfo=UTC),
        ),
    ]
    ok = PageComments(page, comments, [SkippedEvent("$x", "p1", "redacted")], ["$c"])
    failed = Page("p2", "/p2/")
    return FakeSource({page: ok, failed: PageError("room #c_demo_p2:hs not found")})


def test_round_trip_of_any_source(tmp_path: Path) -> None:
    source = sample()
    path = tmp_path / "site.archive.jsonl"
    seen: list[str] = []
    summary = write_archive(path, source, on_page=lambda r: seen.append(r.page.id))
    assert summary == {
        "path": str(path),
        "pages": 2,
        "comments": 3,
        "skipped": 1,
        "failed": [{"page_id": "p2", "error": "room #c_demo_p2:hs not found", "retryable": False}],
    }
    assert seen == ["p1"]
    archive = ArchiveSource(path)
    assert isinstance(archive, Source)
    assert archive.system == "fake"
    assert archive.identity() == {"site": "demo", "archive": str(path)}
    pages = list(archive.pages())
    assert pages == list(source.pages())
    got = archive.comments(pages[0])
    expected = source.comments(pages[0])
    # a lone surrogate is escaped on its line, and repaired to U+FFFD when read back
    assert got.comments[2].text == "lone \ufffd"
    # a comment archived without HTML is read back with the HTML form of its text
    assert got.comments[:2] == [
        expected.comments[0],
        dataclasses.replace(expected.comments[1], html="<p>[deleted]</p>"),
    ]
    assert got.comments[2] == dataclasses.replace(
        expected.comments[2], text="lone \ufffd", html="<p>lone \ufffd</p>"
    )
    assert (got.page, got.skipped, got.orphans) == (expected.page, expected.skipped, ["$c"])
    with pytest.raises(PageError, match=r"^room #c_demo_p2:hs not found$"):
        archive.comments(pages[1])
    with pytest.raises(PageError, match="not in the archive"):
        archive.comments(Page("zz", "/zz/"))
    lines = path.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "comment-migrate-archive" and header["version"] == 1
    assert json.loads(lines[2])["created_at"] == "2019-05-04T03:02:01.123000Z"
    assert json.loads(lines[-1]) == {
        "record": "end",
        "pages": 2,
        "failed_pages": 1,
        "comments": 3,
        "skipped": 1,
    }
    assert "Title \u00e9" in lines[1]  # UTF-8, not escaped


def test_a_failing_source_leaves_no_archive(tmp_path: Path) -> None:
    class Broken(FakeSource):
        def comments(self, page: Page) -> PageComments:
            raise RuntimeError("homeserver gone")

    path = tmp_path / "a.jsonl"
    path.write_text("old content")
    with pytest.raises(RuntimeError):
        write_archive(path, Broken(sample()._pages))
    assert path.read_text() == "old content"
    assert [p.name for p in tmp_path.iterdir()] == ["a.jsonl"]  # no temp file left


@pytest.fixture
def good_lines(tmp_path: Path) -> list[str]:
    path = tmp_path / "good.jsonl"
    write_archive(path, sample())
    return path.read_text(encoding="utf-8").splitlines()


def corrupt(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def with_field(line: str, **changes: Any) -> str:
    record = json.loads(line)
    record.update(changes)
    return json.dumps(record)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda ls: ls[:-1], r":7: truncated: the archive has no end record"),
        (lambda ls: [*ls[:2], "{not json", *ls[2:]], r":3: not valid JSON"),
        (lambda ls: ls[1:], r":1: the first line must be the archive header"),
        (lambda ls: [with_field(ls[0], version=2), *ls[1:]], r":1: archive version 2 is newer"),
        (lambda ls: [with_field(ls[0], format="other"), *ls[1:]], r":1: not a comment-migrate"),
        (
            lambda ls: [*ls[:2], with_field(ls[2], created_at="yesterday"), *ls[3:]],
            r":3: schema violation at created_at",
        ),
        (
            lambda ls: [*ls[:2], with_field(ls[2], author={"name": 5}), *ls[3:]],
            r":3: schema violation at author",
        ),
        (
            lambda ls: [*ls[:2], with_field(ls[2], record="mystery"), *ls[3:]],
            r":3: schema violation",
        ),
        (lambda ls: [*ls[:2], *ls[3:]], r":2: page 'p1' says 3 comments"),
        (
            lambda ls: [*ls[:2], with_field(ls[2], page_id="p9"), *ls[3:]],
            r":3: comment record outside its page's block",
        ),
        (lambda ls: [*ls, ls[-1]], r":9: data after the end record"),
        (lambda ls: [*ls[:-1], with_field(ls[-1], comments=99)], r":8: end record says 99"),
        (lambda ls: [], r"empty file"),
    ],
)
def test_malformed_archive_names_file_and_line(
    tmp_path: Path, good_lines: list[str], mutate: Any, message: str
) -> None:
    path = corrupt(tmp_path, mutate(good_lines))
    with pytest.raises(ArchiveError, match=message) as error:
        # a comment line is checked when its page is read (each page only when it is needed)
        archive = ArchiveSource(path)
        for page in archive.pages():
            with contextlib.suppress(PageError):  # a failed page in the archive
                archive.comments(page)
    assert str(path) in str(error.value)


def test_missing_archive(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match=r"cannot open archive .*nope\.jsonl"):
        ArchiveSource(tmp_path / "nope.jsonl")


def test_schema_ships_as_package_data() -> None:
    schema = archive_schema()
    assert set(schema["$defs"]) >= {"header", "page", "comment", "skipped", "end"}


@pytest.mark.synapse
def test_round_trip_from_real_synapse(synapse: SynapseServer, tmp_path: Path) -> None:
    site = "arcsite"
    room = synapse.create_comment_room(site, "one")
    first = synapse.send_message(
        room, {"msgtype": "m.text", "body": "first"}, "@cactus_arc:localhost", 1_300_000_000_123
    )
    synapse.send_message(
        room,
        {
            "msgtype": "m.text",
            "body": "> <@cactus_arc:localhost> first\n\nsecond",
            "format": "org.matrix.custom.html",
            "formatted_body": "<i>second</i><script>x</script>",
            "m.relates_to": {"m.in_reply_to": {"event_id": first}},
        },
        "@cactus_b:localhost",
        1_300_000_000_456,
    )
    synapse.send_message(
        room,
        {
            "msgtype": "m.text",
            "body": "* first!",
            "m.new_content": {"msgtype": "m.text", "body": "first!"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": first},
        },
        "@cactus_arc:localhost",
        1_300_000_001_000,
    )
    synapse.create_comment_room(site, "empty")
    pages_file = tmp_path / "pages.csv"
    pages_file.write_text("one,/one/,One\nempty\nmissing\n")
    live = MatrixCommentExtractor(
        homeserver=synapse.url,
        site=site,
        server_name="localhost",
        pages_file=pages_file,
        policy=RetryPolicy(max_attempts=2, sleep=lambda _s: None),
    )
    path = tmp_path / "site.archive.jsonl"
    summary = write_archive(path, live)
    assert summary["pages"] == 3 and summary["comments"] == 2
    assert summary["failed"] == [
        {
            "page_id": "missing",
            "retryable": False,
            "error": "room #comments_arcsite_missing:localhost not found",
        }
    ]
    archive = ArchiveSource(path)
    assert archive.system == live.system == "matrix"
    assert archive.identity() == {**live.identity(), "archive": str(path)}
    live_pages = list(live.pages())
    assert [p.id for p in archive.pages()] == [p.id for p in live_pages]
    for page in live_pages[:2]:
        assert archive.comments(page) == live.comments(page)
    comments = archive.comments(live_pages[0]).comments
    assert [(c.text, c.html, c.parent_id) for c in comments] == [
        ("first!", "<p>first!</p>", None),
        ("second", "<i>second</i>", first),
    ]
    assert comments[0].created_at == datetime(2011, 3, 13, 7, 6, 40, 123000, tzinfo=UTC)
    with pytest.raises(PageError, match="not found"):
        archive.comments(live_pages[2])


def test_compiled_record_checks_agree_with_jsonschema(tmp_path: Path) -> None:
    import jsonschema

    from migrate.systems.archive.records import _checks, archive_schema
    from tests.factories import make_archive, threaded_site

    path = make_archive(tmp_path / "a.jsonl", threaded_site(pages=2, per_page=5))
    validator = jsonschema.Draft202012Validator(archive_schema())
    checks = _checks()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    comment = next(r for r in records if r["record"] == "comment")
    broken = [
        {k: v for k, v in comment.items() if k != "text"},
        {**comment, "text": 7},
        {**comment, "created_at": "2021-03-14 15:09:26"},
        {**comment, "edited_at": "yesterday"},
        {**comment, "author": {"name": "x"}},
        {**comment, "extra": 1},
        {**comment, "deleted": "no"},
        {**comment, "id": ""},
    ]
    for record in records:
        assert validator.is_valid(record) and checks[record["record"]](record), record
    for record in broken:
        assert not validator.is_valid(record), record
        assert not checks["comment"](record), record


def test_lone_surrogates_and_nul_in_any_field_are_repaired_when_read(
    tmp_path: Path, good_lines: list[str]
) -> None:
    lines = list(good_lines)
    lines[1] = with_field(lines[1], title="T\ud800itle")
    comment = json.loads(lines[2])
    comment["author"] = {**comment["author"], "name": "A\udfffnn\u0000"}
    comment["text"] = "hi \udc80 there"
    comment["html"] = "<p>\ud83d</p>"
    lines[2] = json.dumps(comment)  # ensure_ascii: the surrogates are \u escapes, valid JSON
    assert "\\ud800" in lines[1] and "\\udc80" in lines[2]
    archive = ArchiveSource(corrupt(tmp_path, lines))
    page = next(iter(archive.pages()))
    got = archive.comments(page)
    first = got.comments[0]
    assert page.title == "T\ufffditle"
    assert (first.author.name, first.text, first.html) == (
        "A\ufffdnn",
        "hi \ufffd there",
        "<p>\ufffd</p>",
    )
    for value in (page.title, first.author.name, first.text, first.html):
        assert value is not None
        value.encode("utf-8")  # what every target does: no UnicodeEncodeError
    assert [(c.id, c.text) for c in got.comments[1:]] == [
        ("$b", "[deleted]"),
        ("$c", "lone \ufffd"),
    ]


def test_a_lone_surrogate_reaches_an_http_target_repaired(
    tmp_path: Path, good_lines: list[str]
) -> None:
    from tests.migration_helpers import run_json, write_config
    from tests.servers.contract import ContractServer

    archive = corrupt(tmp_path, good_lines)  # $c's text is "lone \ud800", escaped
    with ContractServer() as server:
        config = write_config(tmp_path, archive=archive, target={"type": "http", "url": server.url})
        code, summary, stderr = run_json(config)
        assert code == 3, stderr  # p2 failed at extraction; p1 must go through whole
        assert summary["pages_complete"] == 1 and summary["comments_imported"] == 3
        assert [c["text"] for c in server.comments][-1] == "lone \ufffd"


def test_a_non_utf8_line_is_reported_at_its_own_line(tmp_path: Path) -> None:
    # many long lines: a reader decoding the file in chunks meets the bad byte early
    comments = [
        Comment(f"$m{i}", "p1", None, Author("ann", "@ann:hs"), "x" * 300, WHEN) for i in range(200)
    ]
    source = FakeSource({Page("p1", "/p1/"): PageComments(Page("p1", "/p1/"), comments)})
    path = tmp_path / "a.jsonl"
    write_archive(path, source)
    raw = path.read_bytes().split(b"\n")
    raw[150] = raw[150].replace(b"xxxx", b"x\xffxx", 1)
    path.write_bytes(b"\n".join(raw))
    with pytest.raises(ArchiveError, match=r"a\.jsonl:151: not UTF-8 \(invalid start byte"):
        ArchiveSource(path)


def test_every_comment_comes_with_html_from_an_archive_of_any_age(
    tmp_path: Path, good_lines: list[str]
) -> None:
    """Archives written before plain comments got an HTML form hold `"html": null`; HTML
    targets (the Worker's /threads serves `html`) must still get something to show."""
    lines = list(good_lines)
    old = json.loads(lines[2])
    old.update(text="Line one\nsee https://example.org/x <b>", html=None)
    lines[2] = json.dumps(old)
    archive = ArchiveSource(corrupt(tmp_path, lines))
    comments = archive.comments(next(iter(archive.pages()))).comments
    assert all(c.html for c in comments)
    assert comments[0].html == (
        '<p>Line one<br>\nsee <a href="https://example.org/x" rel="noopener noreferrer '
        'nofollow">https://example.org/x</a> &lt;b&gt;</p>'
    )


def test_the_bundled_sample_has_html_for_every_comment() -> None:
    from tests.migration_helpers import REPO

    records = [
        json.loads(line)
        for line in (REPO / "migrate" / "sample" / "site.archive.jsonl").open(encoding="utf-8")
    ]
    comments = [r for r in records if r["record"] == "comment"]
    assert comments and all(r["html"] for r in comments)


def test_a_comment_dated_before_the_year_1000_comes_back_as_dated(tmp_path: Path) -> None:
    # a source's bad clock can say so; the schema asks four digits of year, which %Y of the
    # C library does not always write
    old = datetime(999, 12, 31, 23, 59, 58, tzinfo=UTC)
    pg = Page(id="p", key="/p/", title="p")
    dated = Comment("$1", "p", None, Author("a", "@a"), "text", old)
    path = tmp_path / "a.archive.jsonl"
    write_archive(path, FakeSource({pg: PageComments(pg, [dated])}))
    assert ArchiveSource(path).comments(pg).comments[0].created_at == old
