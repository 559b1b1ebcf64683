"""MatrixCommentExtractor against a real Synapse, populated through the client-server API.

What Synapse itself refuses (non-string bodies, floats, lone surrogates, events over 64 KiB)
is asserted here as refused and tested on raw dicts in tests/test_matrix_normalize.py.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from migrate.abilities import PageError, Source
from migrate.model import DELETED_TEXT, Page, PageComments
from migrate.systems.matrix import MatrixCommentExtractor, SourceUnavailable
from migrate.testing.source_contract import check_source
from tests.migration_helpers import fast_policy
from tests.servers.killproxy import KillProxy
from tests.servers.synapse import SynapseError, SynapseServer
from utils.retry import RetryPolicy

pytestmark = pytest.mark.synapse

SITE = "tsite"
T0 = 1_262_304_000_000  # 2010-01-01: years-old comments, through the appservice's ?ts=
ALICE = "@cactus_alice:localhost"
BOB = "@cactus_bob:localhost"
MALLORY = "@cactus_mallory:localhost"
BIG_COUNT = 2_600


def ts(minutes: int) -> int:
    return T0 + minutes * 60_000


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def text(body: str, **extra: Any) -> dict[str, Any]:
    return {"msgtype": "m.text", "body": body, **extra}


def html(body: str, formatted: str) -> dict[str, Any]:
    return text(body, format="org.matrix.custom.html", formatted_body=formatted)


def edit_of(target: str, body: str) -> dict[str, Any]:
    return text(
        f"* {body}",
        **{
            "m.new_content": text(body),
            "m.relates_to": {"rel_type": "m.replace", "event_id": target},
        },
    )


def reply(target: str, body: str, **relates: Any) -> dict[str, Any]:
    return text(body, **{"m.relates_to": {"m.in_reply_to": {"event_id": target}, **relates}})


@dataclasses.dataclass
class Site:
    server: SynapseServer
    rooms: dict[str, str]
    ids: dict[str, str]  # corpus name -> event id
    refused: dict[str, int]  # corpus name -> HTTP status Synapse answered
    pages_file: Path

    def extractor(self, **kwargs: Any) -> MatrixCommentExtractor:
        options: dict[str, Any] = {
            "homeserver": self.server.url,
            "site": SITE,
            "server_name": "localhost",
            "pages_file": self.pages_file,
            "policy": fast_policy(),
        }
        options.update(kwargs)
        return MatrixCommentExtractor(**options)


def seed_corpus(server: SynapseServer, room: str) -> tuple[dict[str, str], dict[str, int]]:
    """The hostile corpus: every case posted to the real server; 28+ events."""
    ids: dict[str, str] = {}
    refused: dict[str, int] = {}
    server.set_displayname(ALICE, "Alice")
    server.set_displayname(BOB, "Bob")
    server.set_avatar_url(BOB, "mxc://localhost/bobface")
    server.set_displayname(MALLORY, "Mallory")
    minute = 0

    def send(
        name: str,
        content: Any,
        user: str = ALICE,
        event_type: str = "m.room.message",
        raw: bytes | None = None,
    ) -> None:
        nonlocal minute
        minute += 1
        try:
            ids[name] = server.send_event(room, event_type, content, user, ts(minute), raw_body=raw)
        except SynapseError as exc:
            refused[name] = exc.status

    send("text", text("Hello world"))
    send("notice", {"msgtype": "m.notice", "body": "A notice"}, BOB)
    send("emote", {"msgtype": "m.emote", "body": "waves"})
    send("image", {"msgtype": "m.image", "body": "cat.png", "url": "mxc://localhost/cat"})
    send("file", {"msgtype": "m.file", "body": "paper [v2].pdf", "url": "mxc://localhost/pdf"})
    send("audio", {"msgtype": "m.audio", "body": "song.ogg", "url": "mxc://localhost/ogg"})
    send("video", {"msgtype": "m.video", "body": "clip.mp4", "url": "mxc://localhost/mp4"})
    send(
        "reply",
        {
            **reply(ids["text"], "> <@cactus_alice:localhost> Hello world\n\nHi Alice"),
            "format": "org.matrix.custom.html",
            "formatted_body": "<mx-reply><blockquote>Hello world</blockquote></mx-reply>"
            "Hi <b>Alice</b>",
        },
        BOB,
    )
    send("edit_late_ts", edit_of(ids["text"], "Hello, final world"))
    ids_edit_late = ids["edit_late_ts"]
    minute -= 5  # an edit sent later but stamped earlier: the newest timestamp still wins
    send("edit_early_ts", edit_of(ids["text"], "Hello, older edit"))
    minute += 10
    send("edit_by_other", edit_of(ids["text"], "pwned"), MALLORY)
    send("edit_of_edit", edit_of(ids_edit_late, "edit of an edit"))
    send("edit_unknown", edit_of("$doesnotexist:localhost", "orphan edit"))  # refused
    send(
        "edit_bad_new_content",
        text(
            "* x",
            **{
                "m.new_content": {"msgtype": "m.text", "body": 5},
                "m.relates_to": {"rel_type": "m.replace", "event_id": ids["notice"]},
            },
        ),
        BOB,
    )
    send(
        "hostile_html",
        html(
            "click me",
            '<script>alert(1)</script><img src="x" onerror="alert(2)">'
            '<a href="javascript:alert(3)">click</a><iframe src="https://evil.example/"></iframe>'
            '<b onclick="steal()">bold</b><style>*{display:none}</style>'
            '<a href="https://ok.example/">fine</a>',
        ),
        MALLORY,
    )
    send(
        "html_other_format",
        text("plain", format="org.example.markup", formatted_body="<b>not html</b>"),
    )
    send(
        "formatted_body_number",
        text("numeric fb", format="org.matrix.custom.html", formatted_body=7),
    )
    send("relates_to_string", text("x", **{"m.relates_to": "oops"}))
    send("in_reply_to_string", text("bad reply", **{"m.relates_to": {"m.in_reply_to": "abc"}}))
    send("unknown_msgtype", {"msgtype": "org.example.poll", "body": "vote"})
    send("location", {"msgtype": "m.location", "body": "here", "geo_uri": "geo:1,2"})
    send("image_without_url", {"msgtype": "m.image", "body": "nothing"})
    send("reply_unknown", reply("$nowhere:localhost", "answering a ghost"), BOB)
    send(
        "thread_root_fallback",
        text(
            "threaded",
            **{
                "m.relates_to": {
                    "rel_type": "m.thread",
                    "event_id": ids["text"],
                    "is_falling_back": True,
                    "m.in_reply_to": {"event_id": ids["reply"]},
                }
            },
        ),
        BOB,
    )
    send(
        "thread_without_root",
        text(
            "rootless",
            **{
                "m.relates_to": {
                    "rel_type": "m.thread",
                    "is_falling_back": True,
                    "m.in_reply_to": {"event_id": ids["text"]},
                }
            },
        ),
        BOB,
    )
    send("nul_and_emoji", text("nul\u0000 \U0001f600 \u202eRTL"))
    send("big_body", text("y" * 60_000))
    send(
        "reaction",
        {
            "m.relates_to": {
                "rel_type": "m.annotation",
                "event_id": ids["text"],
                "key": "\U0001f44d",
            }
        },
        BOB,
        "m.reaction",
    )
    send("custom_type", {"body": "not a message"}, BOB, "org.example.custom")
    send(
        "encrypted",
        {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "x"},
        BOB,
        "m.room.encrypted",
    )
    send("to_redact_alone", text("regret"), BOB)
    send("to_redact_with_reply", text("parent soon gone"), MALLORY)
    send("reply_to_redacted", reply(ids["to_redact_with_reply"], "still here"), ALICE)
    send("edit_then_redacted_target", text("will vanish"), BOB)
    send("edit_of_redacted", edit_of(ids["edit_then_redacted_target"], "too late"), BOB)
    server.redact(room, ids["to_redact_alone"], "spam")
    server.redact(room, ids["to_redact_with_reply"])
    server.redact(room, ids["edit_then_redacted_target"])
    server.set_room_displayname(room, ALICE, "Alice Renamed")
    send("after_rename", text("new name"))
    # also refused by Synapse: covered on raw dicts in test_matrix_normalize.py
    send("body_number", {"msgtype": "m.text", "body": 5})
    send("body_missing", {"msgtype": "m.text"})
    send("lone_surrogate", None, raw=b'{"msgtype": "m.text", "body": "a\\ud800b"}')
    send("one_megabyte", text("z" * 1_000_000))
    send("float", text("x", rating=1.5))
    return ids, refused


@pytest.fixture(scope="module")
def site(synapse: SynapseServer, tmp_path_factory: pytest.TempPathFactory) -> Site:
    rooms = {
        "moderation": synapse.create_comment_room(SITE, None),
        "post1": synapse.create_comment_room(SITE, "post1"),
        "post2": synapse.create_comment_room(SITE, "post2"),
        "private": synapse.create_comment_room(SITE, "private", world_readable=False),
        "other_site": synapse.create_comment_room(SITE + "x", "post1"),
        "other_prefix": synapse.create_comment_room(SITE, "post1", prefix="cc_"),
    }
    ids, refused = seed_corpus(synapse, rooms["post1"])
    synapse.send_message(rooms["post2"], text("second page"), BOB, ts(1))
    synapse.send_message(rooms["private"], text("members only"), BOB, ts(1))
    synapse.send_message(rooms["moderation"], text("moderation chatter"), ALICE, ts(1))
    pages_file = tmp_path_factory.mktemp("pages") / "pages.csv"
    pages_file.write_text("section_id,uri,title\npost1,/blog/post1/,Post One\npost2\n")
    return Site(synapse, rooms, ids, refused, pages_file)


@pytest.fixture(scope="module")
def post1(site: Site) -> PageComments:
    with_site = site.extractor()
    try:
        return with_site.comments(with_site.page_for("post1", "/blog/post1/"))
    finally:
        with_site.close()


def by_id(result: PageComments) -> dict[str, Any]:
    return {c.id: c for c in result.comments}


def test_extractor_is_a_source(site: Site) -> None:
    extractor = site.extractor(token="secret-token-value")
    assert isinstance(extractor, Source)
    assert extractor.system == "matrix"
    assert extractor.identity() == {
        "homeserver": site.server.url,
        "server_name": "localhost",
        "site": SITE,
        "prefix": "comments_",
    }
    assert "secret-token-value" not in repr(extractor) + repr(extractor.identity())


def test_synapse_refuses_what_is_tested_on_raw_dicts(site: Site) -> None:
    # edit_unknown: Synapse checks that an m.replace target exists ("unknown event")
    assert site.refused == {
        "body_number": 400,
        "body_missing": 400,
        "lone_surrogate": 500,
        "one_megabyte": 413,
        "float": 400,
        "edit_unknown": 400,
    }
    assert len(site.ids) >= 25  # hostile corpus actually on the server


def test_text_notice_emote_and_media(site: Site, post1: PageComments) -> None:
    c = by_id(post1)
    url = site.server.url + "/_matrix/client/v1/media/download/localhost/"
    assert c[site.ids["notice"]].text == "A notice"
    assert c[site.ids["emote"]].text == "\\* Alice waves"
    assert c[site.ids["emote"]].html == "<p>* Alice waves</p>"
    assert c[site.ids["image"]].text == f"![cat.png]({url}cat)"
    assert c[site.ids["file"]].text == f"[paper \\[v2\\].pdf]({url}pdf)"
    assert c[site.ids["audio"]].text == f"[song.ogg]({url}ogg)"
    assert c[site.ids["video"]].text == f"[clip.mp4]({url}mp4)"
    assert c[site.ids["notice"]].author.avatar_url == url + "bobface"
    assert c[site.ids["notice"]].created_at == utc(ts(2))


def test_edits(site: Site, post1: PageComments) -> None:
    c = by_id(post1)
    original = c[site.ids["text"]]
    assert original.text == "Hello, final world"  # newest timestamp, not newest in timeline
    assert original.edited_at == utc(ts(9))
    assert original.created_at == utc(ts(1))
    skipped = {s.event_id: s.reason for s in post1.skipped}
    for name in ("edit_late_ts", "edit_early_ts"):
        assert site.ids[name] not in c and site.ids[name] not in skipped
    assert skipped[site.ids["edit_by_other"]].startswith("edit by @cactus_mallory:localhost")
    assert skipped[site.ids["edit_of_edit"]] == "edit of an edit"
    assert skipped[site.ids["edit_bad_new_content"]].startswith("edit with unusable")
    assert skipped[site.ids["edit_of_redacted"]] == "edit of a redacted comment"
    assert c[site.ids["notice"]].text == "A notice"


def test_replies_threads_and_orphans(site: Site, post1: PageComments) -> None:
    c = by_id(post1)
    answer = c[site.ids["reply"]]
    assert answer.parent_id == site.ids["text"]
    assert answer.text == "Hi Alice"
    assert answer.html == "Hi <b>Alice</b>"
    assert c[site.ids["thread_root_fallback"]].parent_id == site.ids["text"]
    for name in ("reply_unknown", "thread_without_root", "in_reply_to_string"):
        assert c[site.ids[name]].parent_id is None
        assert site.ids[name] in post1.orphans
    assert len(post1.orphans) == 3


def test_hostile_html_is_sanitized(site: Site, post1: PageComments) -> None:
    comment = by_id(post1)[site.ids["hostile_html"]]
    assert comment.text == "click me"
    lowered = (comment.html or "").lower()
    for bad in (
        "<script",
        "alert",
        "onerror",
        "javascript:",
        "<iframe",
        "onclick",
        "<style",
        "display:none",
    ):
        assert bad not in lowered
    assert "<b>bold</b>" in lowered and 'href="https://ok.example/"' in lowered
    c = by_id(post1)
    # no usable HTML: the plain body, escaped
    assert c[site.ids["html_other_format"]].html == "<p>plain</p>"
    assert c[site.ids["formatted_body_number"]].html == "<p>numeric fb</p>"
    assert c[site.ids["formatted_body_number"]].text == "numeric fb"


def test_malformed_and_unknown_events_are_skipped_with_reasons(
    site: Site, post1: PageComments
) -> None:
    skipped = {s.event_id: s.reason for s in post1.skipped}
    expected = {
        "relates_to_string": "m.relates_to is not an object",
        "unknown_msgtype": "unsupported msgtype 'org.example.poll'",
        "location": "unsupported msgtype 'm.location'",
        "image_without_url": "m.image without an mxc:// url",
        "encrypted": "unsupported event type 'm.room.encrypted'",
        "to_redact_alone": "redacted",
        "edit_then_redacted_target": "redacted",
    }
    for name, reason in expected.items():
        assert skipped[site.ids[name]] == reason, name
    assert all(s.page_id == "post1" for s in post1.skipped)
    # not asked for at all (the /messages filter): neither comments nor skipped
    for name in ("reaction", "custom_type"):
        assert site.ids[name] not in skipped and site.ids[name] not in by_id(post1)


def test_redacted_with_reply_is_a_tombstone(site: Site, post1: PageComments) -> None:
    c = by_id(post1)
    tomb = c[site.ids["to_redact_with_reply"]]
    assert tomb.deleted and tomb.text == DELETED_TEXT and tomb.html == "<p>[deleted]</p>"
    assert tomb.author.name == "Mallory"
    assert c[site.ids["reply_to_redacted"]].parent_id == tomb.id
    assert site.ids["to_redact_alone"] not in c


def test_unicode_big_body_and_names_over_time(site: Site, post1: PageComments) -> None:
    c = by_id(post1)
    assert c[site.ids["nul_and_emoji"]].text == "nul \U0001f600 \u202eRTL"
    assert c[site.ids["big_body"]].text == "y" * 60_000
    assert c[site.ids["text"]].author.name == "Alice"
    assert c[site.ids["after_rename"]].author.name == "Alice Renamed"
    assert c[site.ids["after_rename"]].author.source_id == ALICE


def test_comments_are_oldest_first_with_parents_first(post1: PageComments) -> None:
    seen: set[str] = set()
    for comment in post1.comments:
        assert comment.parent_id is None or comment.parent_id in seen
        seen.add(comment.id)
    top = [c.created_at for c in post1.comments if c.parent_id is None]
    assert top == sorted(top)
    assert post1.page.ref is not None and post1.page.ref.startswith("!")


def test_pages_file_discovery_and_guest_reader(site: Site) -> None:
    extractor = site.extractor()  # no token: registers a guest, as the Cactus client does
    pages = list(extractor.pages())
    assert pages == [
        Page("post1", "/blog/post1/", "Post One"),
        Page("post2", "/post2/", None),
    ]
    assert extractor.client.http.token is not None  # a guest token, never printed
    result = extractor.comments(pages[1])
    assert [(c.text, c.author.name) for c in result.comments] == [("second page", "Bob")]
    extractor.close()


def test_admin_discovery(site: Site) -> None:
    extractor = site.extractor(token=site.server.admin_token, discover="admin", page_size=3)
    pages = list(extractor.pages())
    assert [p.id for p in pages] == ["post1", "post2", "private"]
    assert pages[0].ref == site.rooms["post1"]
    assert all(p.key == f"/{p.id}/" for p in pages)
    # small page_size: many /messages round trips give the same result
    assert [c.text for c in extractor.comments(pages[1]).comments] == ["second page"]


def test_admin_discovery_pages_through_next_batch(site: Site, synapse: SynapseServer) -> None:
    for n in range(3):
        synapse.create_comment_room("pagedsite", f"p{n}")
    # one room per answer: only following next_batch finds all three
    proxy = KillProxy(synapse.url).start()
    try:
        extractor = site.extractor(
            homeserver=proxy.url,
            token=site.server.admin_token,
            discover="admin",
            site="pagedsite",
            page_size=1,
        )
        assert [p.id for p in extractor.pages()] == ["p0", "p1", "p2"]
    finally:
        proxy.stop()
    listings = [path for method, path in proxy.log if "/_synapse/admin/v1/rooms" in path]
    assert len(listings) >= 3 and sum("from=" in path for path in listings) >= 2


def test_admin_discovery_needs_an_admin(site: Site) -> None:
    with pytest.raises(SourceUnavailable, match="admin"):
        list(site.extractor(discover="admin").pages())
    _, user_token = site.server.register_user("notanadmin")
    with pytest.raises(SourceUnavailable, match="admin API refused"):
        list(site.extractor(discover="admin", token=user_token).pages())


def test_joined_rooms_discovery_with_appservice_token(site: Site) -> None:
    extractor = site.extractor(token=site.server.appservice_token, discover="joined_rooms")
    pages = list(extractor.pages())
    assert [p.id for p in pages] == ["post1", "post2", "private"]
    private = extractor.comments(pages[2])  # the appservice is a member: not world_readable ok
    assert [c.text for c in private.comments] == ["members only"]


def test_missing_room_fails_the_page_clearly(site: Site) -> None:
    extractor = site.extractor()
    with pytest.raises(PageError, match=r"^room #comments_tsite_nosuch:localhost not found$") as e:
        extractor.comments(extractor.page_for("nosuch"))
    assert e.value.retryable is False


def test_forbidden_room_fails_the_page(site: Site) -> None:
    extractor = site.extractor()  # a guest cannot read a room that is not world_readable
    with pytest.raises(PageError, match="room #comments_tsite_private:localhost: forbidden"):
        extractor.comments(extractor.page_for("private"))


def test_expired_guest_token_is_replaced_once(site: Site) -> None:
    extractor = site.extractor()
    extractor.check()
    # Synapse's guest tokens are macaroons that never expire and guests cannot log out, so
    # the dead token is a forged one: the server answers M_UNKNOWN_TOKEN just the same.
    old = extractor.client.http.token = "MDAxN2xvY2F0aW9uIGxvY2FsaG9zdAo-expired"
    result = extractor.comments(extractor.page_for("post2"))
    assert [c.text for c in result.comments] == ["second page"]
    assert extractor.client.http.token not in (None, old)


def test_bad_token_is_source_wide(site: Site) -> None:
    with pytest.raises(SourceUnavailable, match="M_UNKNOWN_TOKEN"):
        list(site.extractor(token="syt_not_a_real_token").pages())


def test_unreachable_homeserver_is_source_wide(site: Site) -> None:
    from tests.servers.synapse import free_port

    extractor = site.extractor(homeserver=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(SourceUnavailable, match="cannot register a guest"):
        list(extractor.pages())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("post_1\n", "pages.csv:1: invalid section id 'post_1'"),
        ("a\nb,/b/\na\n", "pages.csv:3: section id 'a' listed twice"),
        ("a,/a/,t,extra\n", "pages.csv:1: expected section_id"),
    ],
)
def test_bad_pages_file(site: Site, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "pages.csv"
    path.write_text(content)
    with pytest.raises(SourceUnavailable, match=message):
        list(site.extractor(pages_file=path).pages())
    with pytest.raises(SourceUnavailable, match="cannot read pages file"):
        list(site.extractor(pages_file=tmp_path / "missing.csv").pages())


@pytest.fixture(scope="module")
def big_room(synapse: SynapseServer) -> Iterator[tuple[str, list[str]]]:
    room = synapse.create_comment_room("bigsite", "long")
    users = [f"@cactus_u{n}:localhost" for n in range(10)]
    started = time.monotonic()
    ids = synapse.send_messages(
        room,
        [(text(f"comment {n}"), users[n % 10], ts(n)) for n in range(BIG_COUNT)],
        concurrency=32,
    )
    print(f"seeded {BIG_COUNT} events in {time.monotonic() - started:.1f}s")
    yield room, ids


def test_more_than_2500_events_in_one_room(
    synapse: SynapseServer, big_room: tuple[str, list[str]]
) -> None:
    _room, ids = big_room
    extractor = MatrixCommentExtractor(
        homeserver=synapse.url,
        site="bigsite",
        server_name="localhost",
        discover="admin",
        token=synapse.admin_token,
        policy=fast_policy(),
    )
    pages = list(extractor.pages())
    assert [p.id for p in pages] == ["long"]
    result = extractor.comments(pages[0])
    assert [c.id for c in result.comments] == ids  # every one, in timestamp order
    assert result.comments[-1].text == f"comment {BIG_COUNT - 1}"
    assert not result.skipped and not result.orphans


def test_transient_failure_on_a_page_is_a_retryable_page_error(site: Site) -> None:
    # the homeserver answers everything but /messages, which keeps failing with 503
    proxy = KillProxy(site.server.url).start()
    proxy.fail_paths = {"/messages": 503}
    try:
        extractor = site.extractor(homeserver=proxy.url)
        with pytest.raises(PageError, match="gave up after retries") as error:
            extractor.comments(extractor.page_for("post1"))
    finally:
        proxy.stop()
    assert error.value.retryable is True
    assert sum("/messages" in path for _, path in proxy.log) == fast_policy().max_attempts


def test_rate_limited_reads_wait_as_the_homeserver_asks_and_then_succeed(site: Site) -> None:
    # Synapse does not rate-limit /messages itself: a proxy in front of it answers 429
    # (M_LIMIT_EXCEEDED, retry_after_ms 1500, no Retry-After header) twice
    proxy = KillProxy(site.server.url).start()
    proxy.fail_paths, proxy.fail_times = {"/messages": 429}, {"/messages": 2}
    slept: list[float] = []
    try:
        direct = site.extractor().comments(site.extractor().page_for("post1")).comments
        extractor = site.extractor(
            homeserver=proxy.url,
            policy=RetryPolicy(max_attempts=4, base_wait=0.001, sleep=slept.append),
        )
        limited = extractor.comments(extractor.page_for("post1")).comments
    finally:
        proxy.stop()

    def shape(comments: list[Any], homeserver: str) -> list[tuple[str, str | None, str]]:
        # media links name the homeserver the extractor read from
        return [(c.id, c.parent_id, c.text.replace(homeserver, "HS")) for c in comments]

    assert shape(limited, proxy.url) == shape(direct, site.server.url) and limited
    assert slept == [1.5, 1.5]


def test_an_empty_chunk_with_an_end_token_is_not_the_end(site: Site) -> None:
    # Synapse fills each page after filtering, so a proxy makes the first answer an empty
    # chunk whose `end` is Synapse's own start token: only carrying on finds the comments
    rewritten: list[str] = []

    def empty_first_page(method: str, path: str, body: bytes) -> bytes | None:
        if "/messages" not in path or "from=" in path or rewritten:
            return None
        start = json.loads(body)["start"]
        rewritten.append(start)
        return json.dumps({"chunk": [], "start": start, "end": start}).encode()

    proxy = KillProxy(site.server.url).start()
    proxy.rewrite = empty_first_page
    try:
        direct = site.extractor().comments(site.extractor().page_for("post1")).comments
        extractor = site.extractor(homeserver=proxy.url)
        through = extractor.comments(extractor.page_for("post1")).comments
    finally:
        proxy.stop()
    assert rewritten, "the first page was emptied"
    assert [c.id for c in through] == [c.id for c in direct] and through


def test_the_matrix_source_passes_the_source_contract(site: Site) -> None:
    report = check_source(site.extractor)
    assert report.pages == 2 and report.replies > 0
    assert report.tombstones >= 1 and report.edited >= 1  # redactions and edits applied
