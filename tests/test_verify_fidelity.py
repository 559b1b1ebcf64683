"""`verify` compares what a reader sees: visible text, links, images, author, avatar and time
where the target keeps them, and parent; and it says what a target cannot hold (from its
capabilities) without counting it as a difference.

Each target is altered directly where it keeps its comments (the contract server's store,
Isso's database, the WXR's sidecar), one aspect per comment, and verify must name exactly
those comments and aspects.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from migrate.commands.verify_compare import limits
from migrate.content import Visible, render_markdown, visible_html, visible_markdown
from migrate.model import Author, Capabilities, Comment, Page
from migrate.systems.http.target import HttpTarget
from migrate.systems.isso.target import isso_capabilities
from migrate.systems.jsonl.target import JsonlTarget
from migrate.systems.wordpress.wxr import WxrTarget
from tests.factories import BASE_TIME, make_archive
from tests.migration_helpers import invoke, run_json, write_config
from tests.servers.contract import ContractServer
from tests.servers.isso import IssoServer

PAGE = Page(id="birds", key="/birds/", title="Birds")
AVATAR = "https://avatars.example/alice.png"
MERLIN = "https://birds.example/merlin"
HERON = "https://media.example/heron.png"


def _comment(
    cid: str,
    parent: str | None,
    minute: int,
    author: str,
    text: str,
    html: str,
    avatar: str | None = None,
) -> Comment:
    return Comment(
        id=cid,
        page_id=PAGE.id,
        parent_id=parent,
        author=Author(author, f"@{author.lower()}:localhost", avatar),
        text=text,
        html=html,
        created_at=BASE_TIME + timedelta(minutes=minute),
    )


# In the shape the Cactus client sends: the Markdown typed, and the HTML rendered from it.
SITE = {
    PAGE: [
        _comment(
            "$merlin",
            None,
            0,
            "Alice",
            f"Spotted a **merlin** near [the mill]({MERLIN}).",
            f'<p>Spotted a <strong>merlin</strong> near <a href="{MERLIN}">the mill</a>.</p>',
            avatar=AVATAR,
        ),
        _comment(
            "$heron",
            "$merlin",
            1,
            "Bob",
            f"A heron too: ![heron.png]({HERON})",
            f'<p>A heron too: <img src="{HERON}" alt="heron.png"></p>',
        ),
        _comment(
            "$lovely",
            "$heron",
            2,
            "Cy",
            "Lovely find &\nthanks",
            "<p>Lovely find &amp;<br>thanks</p>",
        ),
        _comment(
            "$waves",
            None,
            3,
            "Bob",
            "\\* Bob waves at the watchers",
            "<p>* Bob waves at the watchers</p>",
        ),
        _comment(
            "$see",
            None,
            4,
            "Dee",
            "See <https://example.org/a> for more",
            '<p>See <a href="https://example.org/a">https://example.org/a</a> for more</p>',
        ),
    ]
}


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return make_archive(tmp_path / "site.archive.jsonl", SITE)


def verify_json(config: Path) -> tuple[int, dict[str, Any]]:
    result = invoke("verify", "-c", str(config), "--json")
    return result.exit_code, json.loads(result.stdout)


def aspects(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {(d["source_id"], d["aspect"]) for p in report["pages"] for d in p["differences"]}


def found(report: dict[str, Any], source_id: str, aspect: str) -> dict[str, Any]:
    return next(
        d
        for p in report["pages"]
        for d in p["differences"]
        if d["source_id"] == source_id and d["aspect"] == aspect
    )


# -- what a reader sees (pure functions) -------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>a&amp;b&nbsp;c</p>", Visible("a&b c", (), ())),
        ("<p>one</p><p>two<br>three</p>", Visible("one two three", (), ())),
        ("<p>mer<strong>lin</strong></p>", Visible("merlin", (), ())),
        (f'<a href=" {MERLIN} ">mill</a>', Visible("mill", (MERLIN,), ())),
        (f'<p><img src="{HERON}" alt="heron.png"></p>', Visible("", (), (HERON,))),
        ("<p>x</p><script>alert(1)</script><style>p{}</style>", Visible("x", (), ())),
    ],
)
def test_visible_html_is_what_a_browser_shows(html: str, expected: Visible) -> None:
    assert visible_html(html) == expected


def test_markdown_is_seen_as_a_stock_isso_renders_it() -> None:
    seen = visible_markdown(f"\\* Bob *waves*\n<b>hi</b> [mill]({MERLIN}) ![h]({HERON}) 2^10^")
    assert seen.text == "* Bob waves <b>hi</b> mill 210"  # raw HTML shown as typed
    assert seen.links == (MERLIN,) and seen.images == (HERON,)
    assert "<li>" not in render_markdown("\\* Bob waves")
    # the Markdown a source sends and the HTML rendered from it show the same
    for comment in SITE[PAGE]:
        assert visible_markdown(comment.text) == visible_html(comment.html or "")


@pytest.mark.parametrize(
    ("capabilities", "expected"),
    [
        (HttpTarget.capabilities, set()),
        (isso_capabilities(can_delete=False), {"time", "depth", "avatar"}),
        (WxrTarget.capabilities, {"avatar"}),
        # a JSONL file planned for Isso's depth and times still keeps avatars
        (
            JsonlTarget(
                Path("unused.jsonl"), capabilities=isso_capabilities(can_delete=False)
            ).capabilities,
            {"time", "depth"},
        ),
        (
            Capabilities(
                max_depth=0,
                keeps_timestamps=True,
                idempotency="none",
                can_delete=False,
                content="html",
                keeps_avatars=True,
            ),
            {"depth"},
        ),
    ],
)
def test_limits_follow_the_capabilities(capabilities: Capabilities, expected: set[str]) -> None:
    found = limits(capabilities, migrated=5, flattened=2, avatars=1)
    assert {limit.aspect for limit in found} == expected
    details = {limit.aspect: limit.detail for limit in found}
    if "time" in expected:
        assert "times are the import time (5 comments" in details["time"]
    if "depth" in expected:
        assert "2 replies hang under an ancestor" in details["depth"]
    if "avatar" in expected:
        assert details["avatar"].startswith("has no avatars: 1 comments")


# -- the HTTP contract (keeps everything) --------------------------------------------------------


def test_http_verify_names_each_altered_aspect(
    tmp_path: Path, archive: Path, contract_server: ContractServer
) -> None:
    config = write_config(
        tmp_path, archive=archive, target={"type": "http", "url": contract_server.url}
    )
    assert run_json(config)[0] == 0
    code, report = verify_json(config)
    assert code == 0 and report["ok"], report
    assert report["limits"] == [] and report["target"] == "http"

    held = {c["source"]["id"]: c for c in contract_server.comments}
    # only the HTML a reader's browser gets is changed; the Markdown stays as sent
    held["$waves"]["html"] = "<p>* Bob leaves the watchers</p>"
    held["$merlin"]["html"] = held["$merlin"]["html"].replace(MERLIN, "https://evil.example/")
    held["$merlin"]["author"]["avatar_url"] = "https://avatars.example/mallory.png"
    held["$heron"]["html"] = held["$heron"]["html"].replace(HERON, "https://evil.example/x.png")
    held["$see"]["author"]["name"] = "Mallory"
    held["$lovely"]["created_at"] = "2022-01-01T00:00:00Z"
    # whitespace and tags that do not change what is seen are no difference
    held["$heron"]["text"] = held["$heron"]["text"].replace(" ", "  \n")

    code, report = verify_json(config)
    assert code == 3 and not report["ok"]
    assert aspects(report) == {
        ("$waves", "text"),
        ("$merlin", "links"),
        ("$merlin", "avatar"),
        ("$heron", "images"),
        ("$see", "author"),
        ("$lovely", "time"),
    }
    text = found(report, "$waves", "text")
    assert (text["expected"], text["actual"]) == (
        "* Bob waves at the watchers",
        "* Bob leaves the watchers",
    )
    assert text["target_id"] == held["$waves"]["id"] and text["author"] == "Bob"
    assert text["created_at"] == "2021-03-14T15:12:26+00:00"
    assert text["excerpt"] == "\\* Bob waves at the watchers"
    assert found(report, "$merlin", "links")["actual"] == "https://evil.example/"
    assert found(report, "$heron", "images")["expected"] == HERON
    assert found(report, "$see", "author")["actual"] == "Mallory"
    time = found(report, "$lovely", "time")
    assert (time["expected"], time["actual"]) == ("2021-03-14T15:11:26Z", "2022-01-01T00:00:00Z")
    assert report["comments_differing"] == 5

    human = invoke("verify", "-c", str(config))
    assert human.exit_code == 3
    assert (
        "DIFFERS  birds: 5 comments differ (1 text, 1 links, 1 images, 1 author, "
        "1 avatar, 1 time)" in human.stdout
    )
    assert "$waves -> " in human.stdout and "(Bob, 2021-03-14T15:12:26+00:00)" in human.stdout
    assert "text    expected '* Bob waves at the watchers', found '* Bob leaves" in human.stdout


def test_a_missing_comment_is_described_as_people_know_it(
    tmp_path: Path, archive: Path, contract_server: ContractServer
) -> None:
    config = write_config(
        tmp_path, archive=archive, target={"type": "http", "url": contract_server.url}
    )
    assert run_json(config)[0] == 0
    contract_server.comments[:] = [
        c for c in contract_server.comments if c["source"]["id"] != "$see"
    ]
    code, report = verify_json(config)
    assert code == 3 and report["pages"][0]["missing"] == ["$see"]
    missing = found(report, "$see", "missing")
    assert (missing["author"], missing["excerpt"]) == (
        "Dee",
        "See <https://example.org/a> for more",
    )
    human = invoke("verify", "-c", str(config)).stdout
    assert "$see missing (Dee, 2021-03-14T15:13:26+00:00): 'See <https://example.org/a>" in human


# -- Isso (two levels, no timestamps, no avatars) --------------------------------------------------


ISSO_UPDATES = {
    column: f"UPDATE comments SET {column} = ? WHERE text LIKE ?"  # noqa: S608 (fixed names)
    for column in ("text", "author", "created")
}


def isso_set(isso: IssoServer, column: str, value: object, where_text: str) -> None:
    """Change one comment in Isso's own database, found by a phrase of its text."""
    with contextlib.closing(sqlite3.connect(isso.db_path)) as db, db:
        changed = db.execute(ISSO_UPDATES[column], (value, f"%{where_text}%")).rowcount
    assert changed == 1, where_text


@pytest.mark.isso
def test_isso_verify_compares_what_its_readers_see(
    tmp_path: Path, archive: Path, isso_factory: Any
) -> None:
    isso: IssoServer = isso_factory(
        markup__allowed_elements="img", markup__allowed_attributes="src, alt, title"
    )
    config = write_config(
        tmp_path, archive=archive, target={"type": "isso", "url": isso.url, "allow_images": True}
    )
    assert run_json(config)[0] == 0
    code, report = verify_json(config)
    assert code == 0 and report["ok"], report
    assert {limit["aspect"]: limit["comments"] for limit in report["limits"]} == {
        "time": 5,
        "depth": 1,
        "avatar": 1,
    }

    isso_set(isso, "text", "\\* Bob leaves the watchers", "Bob waves")
    isso_set(
        isso, "text", "Spotted a **merlin** near [the mill](https://evil.example/).", "Spotted a"
    )
    isso_set(isso, "text", "A heron too: ![heron.png](https://evil.example/x.png)", "A heron")
    isso_set(isso, "author", "Mallory", "See <https")
    isso_set(isso, "created", 1_400_000_000.0, "Lovely find")  # Isso keeps no source times

    code, report = verify_json(config)
    assert code == 3
    assert aspects(report) == {
        ("$waves", "text"),
        ("$merlin", "links"),
        ("$heron", "images"),
        ("$see", "author"),
    }
    assert found(report, "$heron", "images")["actual"] == "https://evil.example/x.png"
    human = invoke("verify", "-c", str(config)).stdout
    assert "What isso cannot hold (not counted as differences):" in human
    assert "times are the import time (5 comments" in human
    assert "1 replies hang under an ancestor" in human


@pytest.mark.isso
def test_a_stock_isso_hides_images_and_verify_says_so(
    tmp_path: Path, archive: Path, isso: IssoServer
) -> None:
    """`allow_images = true` on an Isso that does not allow <img>: readers see no image."""
    config = write_config(
        tmp_path, archive=archive, target={"type": "isso", "url": isso.url, "allow_images": True}
    )
    assert run_json(config)[0] == 0
    code, report = verify_json(config)
    assert code == 3
    assert aspects(report) == {("$heron", "images")}
    image = found(report, "$heron", "images")
    assert (image["expected"], image["actual"]) == (HERON, "(none)")


# -- WXR (timestamps and threads kept, no avatars) -----------------------------------------------


def test_wxr_verify_reads_the_stored_records(tmp_path: Path, archive: Path) -> None:
    output = tmp_path / "comments.wxr"
    config = write_config(tmp_path, archive=archive, target={"type": "wxr", "output": str(output)})
    assert run_json(config)[0] == 0
    code, report = verify_json(config)
    assert code == 0 and report["ok"], report
    assert [limit["aspect"] for limit in report["limits"]] == ["avatar"]

    sidecar = output.with_name(output.name + ".pages.jsonl")
    lines = [json.loads(line) for line in sidecar.read_text().splitlines()]
    records = {c["source"]["id"]: c for line in lines for c in line["comments"]}
    records["$waves"]["text"] = "\\* Bob leaves the watchers"
    records["$merlin"]["html"] = records["$merlin"]["html"].replace(MERLIN, "https://evil.example/")
    records["$merlin"]["author"]["avatar_url"] = None  # the WXR has no avatar: not reported
    records["$heron"]["text"] = records["$heron"]["text"].replace(HERON, "https://evil.example/")
    records["$see"]["author"]["name"] = "Mallory"
    records["$lovely"]["created_at"] = "2022-01-01T00:00:00Z"
    sidecar.write_text("".join(json.dumps(line) + "\n" for line in lines))

    code, report = verify_json(config)
    assert code == 3
    assert aspects(report) == {
        ("$waves", "text"),
        ("$merlin", "links"),
        ("$heron", "images"),
        ("$see", "author"),
        ("$lovely", "time"),
    }
    assert found(report, "$lovely", "time")["expected"] == "2021-03-14T15:11:26Z"


@pytest.mark.isso
def test_a_stock_isso_gets_images_as_links_and_verifies(
    tmp_path: Path, archive: Path, isso: IssoServer
) -> None:
    """By default the Isso target sends an image as a link to it: a stock Isso drops <img>,
    so its readers would otherwise see nothing where the picture was."""
    config = write_config(tmp_path, archive=archive, target={"type": "isso", "url": isso.url})
    assert run_json(config)[0] == 0
    code, report = verify_json(config)
    assert code == 0 and report["ok"], report
    shown = " ".join(c["text"] for c in isso.rendered("/birds/"))
    assert f'href="{HERON}"' in shown and "<img" not in shown
