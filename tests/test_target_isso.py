"""IssoTarget against a real Isso (tests/servers/isso.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import requests
from itsdangerous import URLSafeTimedSerializer

from migrate.abilities import CommentRefused, Target
from migrate.errors import UnsupportedOperation
from migrate.model import Page
from migrate.systems.isso.target import IssoTarget, sign_for_isso
from tests.servers.isso import IssoServer
from tests.test_target_http import PAGE, fast_policy, outgoing
from utils.http import HttpError


@pytest.fixture
def target(isso: IssoServer) -> IssoTarget:
    return IssoTarget(isso.url, policy=fast_policy(), db_path=isso.db_path)


def test_is_a_target(isso: IssoServer, target: IssoTarget) -> None:
    assert isinstance(target, Target)
    caps = target.capabilities
    assert (caps.max_depth, caps.keeps_timestamps, caps.idempotency, caps.content) == (
        1,
        False,
        "reconcile",
        "markdown",
    )
    assert caps.min_text_length == 3 and caps.can_delete
    assert not IssoTarget(isso.url).capabilities.can_delete  # no database, no deletion
    assert target.identity() == {"url": isso.url}


def test_create_top_level_and_replies_two_levels(isso: IssoServer, target: IssoTarget) -> None:
    top = target.create(outgoing("$a", "first comment"))
    reply = target.create(outgoing("$b", "a reply", parent=("$a", top.target_id)))
    deeper = target.create(outgoing("$c", "reply to reply", parent=("$b", reply.target_id)))
    assert top.parent_target_id is None
    assert reply.parent_target_id == top.target_id
    assert deeper.parent_target_id == top.target_id  # Isso flattened it, and says so
    thread = isso.threads(PAGE.key)["replies"]
    assert [c["text"] for c in thread] == ["first comment"]
    assert [c["text"] for c in thread[0]["replies"]] == ["a reply", "reply to reply"]
    assert thread[0]["author"] == "alice"


def test_title_comes_from_the_page(isso: IssoServer, target: IssoTarget) -> None:
    target.create(outgoing("$a"))
    untitled = Page(id="p2", key="/untitled/")
    target.create(outgoing("$b", page=untitled))  # no title: the uri, never a page fetch
    import sqlite3

    with sqlite3.connect(isso.db_path) as db:
        titles = dict(db.execute("SELECT uri, title FROM threads"))
    assert titles == {PAGE.key: PAGE.title, "/untitled/": "/untitled/"}


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ("ab", True),
        ("ab   ", True),
        ("", True),
        ("abc", False),
        ("  x", False),  # Isso only strips the right: it accepts this
    ],
)
def test_check_applies_isso_minimum(target: IssoTarget, text: str, refused: bool) -> None:
    assert (target.check(outgoing("$a", text)) is not None) is refused


def test_check_refuses_too_long(target: IssoTarget) -> None:
    assert target.check(outgoing("$a", "x" * 65536)) is not None
    assert target.check(outgoing("$a", "x" * 65535)) is None


def test_server_rule_refusal_is_comment_refused(target: IssoTarget) -> None:
    with pytest.raises(CommentRefused) as caught:
        target.create(outgoing("$a", "ab "))  # as if check() had been skipped
    assert "text is too short" in caught.value.reason


def test_other_4xx_is_http_error_with_isso_message(
    isso_factory: Callable[..., IssoServer],
) -> None:
    guarded = isso_factory(guard__enabled="true", guard__ratelimit="1")
    target = IssoTarget(guarded.url, policy=fast_policy())
    target.create(outgoing("$a"))
    with pytest.raises(HttpError) as caught:
        target.create(outgoing("$b", "second one"))
    assert caught.value.status == 403
    assert "403: 127.0.0.0: ratelimit exceeded (1)" in caught.value.message
    assert "[guard] enabled = false" in caught.value.message  # says how to fix it
    assert "<" not in caught.value.message


def test_reconcile_adopts_in_order_and_skips_known(isso: IssoServer, target: IssoTarget) -> None:
    a = target.create(outgoing("$a", "Thanks!", author="A & <b>"))
    b = target.create(outgoing("$b", "Thanks!", author="A & <b>"))  # accepted, not mapped
    isso.post(PAGE.key, "someone else wrote this", author="carol")
    c = target.create(outgoing("$c", "third", parent=("$a", a.target_id)))  # not mapped
    pending = [
        outgoing("$b", "Thanks!", author="A & <b>"),
        outgoing("$c", "third", parent=("$a", a.target_id)),
        outgoing("$d", "never sent"),
    ]
    adopted = target.reconcile(PAGE, pending, known_target_ids={a.target_id})
    assert adopted == {"$b": b.target_id, "$c": c.target_id}
    # without knowing $a is mapped, its twin would be taken for $b
    assert target.reconcile(PAGE, pending[:1]) == {"$b": a.target_id}
    assert target.reconcile(Page(id="x", key="/nothing/"), pending) == {}


def test_reconcile_does_not_match_out_of_order(target: IssoTarget) -> None:
    second = target.create(outgoing("$b", "bbb"))
    first = target.create(outgoing("$a", "aaa"))
    # sent as a, b: Isso holds b then a, so only one of them can be the one we sent
    adopted = target.reconcile(PAGE, [outgoing("$a", "aaa"), outgoing("$b", "bbb")])
    assert adopted == {"$a": first.target_id}
    assert second.target_id not in adopted.values()


def test_list_page_flattens_the_thread(target: IssoTarget) -> None:
    top = target.create(outgoing("$a", "top **bold**"))
    reply = target.create(outgoing("$b", "reply", parent=("$a", top.target_id)))
    listed = target.list_page(PAGE)
    assert [(c.target_id, c.parent_target_id, c.text) for c in listed] == [
        (top.target_id, None, "top **bold**"),
        (reply.target_id, top.target_id, "reply"),
    ]
    assert listed[0].author_name == "alice" and listed[0].created_at is not None
    assert target.list_page(Page(id="x", key="/nothing/")) == []


def test_signature_matches_itsdangerous() -> None:
    ours = sign_for_isso("0123abcd", 42, now=1_700_000_000)
    assert URLSafeTimedSerializer("0123abcd").loads(ours) == 42


def test_delete_an_old_comment(isso_factory: Callable[..., IssoServer]) -> None:
    server = isso_factory(general__max_age="1s")
    target = IssoTarget(server.url, policy=fast_policy(), db_path=server.db_path)
    response = requests.post(  # a visitor's post, keeping the edit cookie Isso hands out
        f"{server.url}/new",
        params={"uri": PAGE.key},
        json={"text": "old comment", "title": "t"},
        timeout=10,
    )
    cookies = response.cookies
    old_id = response.json()["id"]
    server.age_comment(old_id, created=1_400_000_000.0)  # 2014
    time.sleep(1.1)  # the cookie's max-age is over
    own = requests.delete(
        f"{server.url}/id/{old_id}",
        cookies=cookies,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert own.status_code == 403  # Isso's own path is closed for it
    assert target.delete(str(old_id), PAGE) is True
    assert server.rows() == []
    assert target.delete(str(old_id), PAGE) is False  # already gone
    assert target.delete("999", PAGE) is False


def test_delete_parent_then_reply(isso: IssoServer, target: IssoTarget) -> None:
    top = target.create(outgoing("$a", "parent"))
    reply = target.create(outgoing("$b", "child", parent=("$a", top.target_id)))
    assert target.delete(top.target_id, PAGE) is True
    assert [c.target_id for c in target.list_page(PAGE)] == [reply.target_id]  # tombstone hidden
    assert target.delete(top.target_id, PAGE) is False  # a tombstone counts as gone
    assert target.delete(reply.target_id, PAGE) is True
    assert isso.rows() == []  # Isso removed the tombstone with its last reply


def test_delete_needs_the_database(isso: IssoServer) -> None:
    with pytest.raises(UnsupportedOperation, match="db_path"):
        IssoTarget(isso.url).delete("1", PAGE)


def test_many_posts_without_a_cookie_jar(isso: IssoServer, target: IssoTarget) -> None:
    # a session keeping Isso's cookies gets 431 after ~600 posts
    for n in range(650):
        target.create(outgoing(f"${n}", f"comment number {n}"))
    assert len(isso.rows()) == 650
