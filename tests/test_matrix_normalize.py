"""normalize_room on raw event dicts.

The real homeserver refuses some hostile payloads outright (Synapse 1.163: a body that is not
a string or missing -> 400, a msgtype that is not a string -> 400, a float anywhere -> 400,
content that is not an object -> 400, a lone surrogate -> 500, an event over 64 KiB -> 413).
Events like those can still reach us (other homeservers, federation, older rooms), so they
are tested here, on the dicts; tests/test_matrix_source.py posts everything Synapse accepts.
Reply cycles and replies to oneself cannot be posted either (an event id is the hash of the
event, so no event can name itself or a later event): they are tested here too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from migrate.model import DELETED_TEXT, Page
from migrate.systems.matrix import normalize_room
from migrate.threads import send_order

HS = "https://hs.example"
PAGE = Page(id="post1", key="/post1/")
T0 = 1_500_000_000_000


def member(user: str, name: str | None, ts: int = T0, avatar: str | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"membership": "join"}
    if name is not None:
        content["displayname"] = name
    if avatar is not None:
        content["avatar_url"] = avatar
    return {
        "type": "m.room.member",
        "state_key": user,
        "sender": user,
        "content": content,
        "event_id": f"$m{user}{ts}{name}",
        "origin_server_ts": ts,
    }


def msg(
    event_id: str, content: Any, sender: str = "@alice:hs", ts: int = T0, **extra: Any
) -> dict[str, Any]:
    return {
        "type": "m.room.message",
        "event_id": event_id,
        "sender": sender,
        "origin_server_ts": ts,
        "content": content,
        **extra,
    }


def text(body: str, **extra: Any) -> dict[str, Any]:
    return {"msgtype": "m.text", "body": body, **extra}


def reply_to(event_id: str, body: str) -> dict[str, Any]:
    return text(body, **{"m.relates_to": {"m.in_reply_to": {"event_id": event_id}}})


def edit(target: str, body: str) -> dict[str, Any]:
    return text(
        f"* {body}",
        **{
            "m.new_content": text(body),
            "m.relates_to": {"rel_type": "m.replace", "event_id": target},
        },
    )


def redacted(event_id: str, sender: str = "@alice:hs", ts: int = T0) -> dict[str, Any]:
    because = {"redacted_because": {"type": "m.room.redaction"}}
    return msg(event_id, {}, sender, ts, unsigned=because)


def run(*events: Any) -> Any:
    return normalize_room(list(events), PAGE, HS)


def reasons(result: Any) -> dict[str, str]:
    return {s.event_id: s.reason for s in result.skipped}


def test_refused_by_synapse_malformed_fields_are_skipped_with_reasons() -> None:
    result = run(
        msg("$ok", text("fine")),
        msg("$num", {"msgtype": "m.text", "body": 5}),
        msg("$nobody", {"msgtype": "m.text"}),
        msg("$list", {"msgtype": "m.text", "body": ["a"]}),
        msg("$mt", {"msgtype": 7, "body": "x"}),
        msg("$content", [1, 2]),
        msg("$nocontent", None),
        msg("$ts", text("x"), ts="yesterday"),  # type: ignore[arg-type]
        msg("$sender", text("x"), sender=None),  # type: ignore[arg-type]
        "not an event",
        {"type": "m.room.message", "content": text("no id")},
    )
    assert [c.id for c in result.comments] == ["$ok"]
    got = reasons(result)
    assert got["$num"] == "body missing or not a string"
    assert got["$nobody"] == "body missing or not a string"
    assert got["$list"] == "body missing or not a string"
    assert got["$mt"] == "msgtype missing or not a string"
    assert got["$content"] == "content is not an object"
    assert got["$nocontent"] == "content is not an object"
    assert "origin_server_ts" in got["$ts"]
    assert "sender" in got["$sender"]
    assert got["<position 9>"] == "event is not an object"
    assert got["<position 10>"] == "event without an event_id"


def test_lone_surrogates_are_repaired_not_fatal() -> None:
    # Synapse answers 500 to a lone surrogate; another server may store one.
    result = run(
        msg(
            "$s",
            text(
                "bad \ud800 char", format="org.matrix.custom.html", formatted_body="<b>\udfff</b>"
            ),
        ),
        member("@alice:hs", "Al\udc00ice"),
    )
    comment = result.comments[0]
    assert comment.text == "bad \ufffd char"
    assert comment.html == "<b>\ufffd</b>"
    comment.text.encode("utf-8")


def test_one_megabyte_body_is_kept_whole() -> None:
    # Synapse refuses events over 64 KiB (413); a 1 MB body from elsewhere must not break us.
    body = "x" * 1_000_000
    result = run(msg("$big", text(body)))
    assert result.comments[0].text == body


def test_reply_to_itself_and_cycles_become_top_level_orphans() -> None:
    result = run(
        msg("$self", reply_to("$self", "me"), ts=T0),
        msg("$a", reply_to("$b", "a"), ts=T0 + 1),
        msg("$b", reply_to("$a", "b"), ts=T0 + 2),
    )
    parents = {c.id: c.parent_id for c in result.comments}
    # $a names a later event: impossible in a real DAG, so the link is refused; $b -> $a holds
    assert parents == {"$self": None, "$a": None, "$b": "$a"}
    assert set(result.orphans) == {"$self", "$a"}
    assert not result.skipped


def test_reply_to_an_unknown_event_is_an_orphan() -> None:
    result = run(msg("$r", reply_to("$gone", "> <@x:hs> old\n\nanswer")))
    assert result.comments[0].parent_id is None
    assert result.comments[0].text == "answer"
    assert result.orphans == ["$r"]


def test_thread_relations() -> None:
    root = msg("$root", text("root"), ts=T0)
    fallback = msg(
        "$t1",
        text(
            "in thread",
            **{
                "m.relates_to": {
                    "rel_type": "m.thread",
                    "event_id": "$root",
                    "is_falling_back": True,
                    "m.in_reply_to": {"event_id": "$other"},
                }
            },
        ),
        ts=T0 + 1,
    )
    real_reply = msg(
        "$t2",
        text(
            "> <@a:hs> in thread\n\nreal reply",
            **{
                "m.relates_to": {
                    "rel_type": "m.thread",
                    "event_id": "$root",
                    "is_falling_back": False,
                    "m.in_reply_to": {"event_id": "$t1"},
                }
            },
        ),
        ts=T0 + 2,
    )
    rootless = msg(
        "$t3",
        text(
            "lost",
            **{
                "m.relates_to": {
                    "rel_type": "m.thread",
                    "is_falling_back": True,
                    "m.in_reply_to": {"event_id": "$root"},
                }
            },
        ),
        ts=T0 + 3,
    )
    result = run(root, fallback, real_reply, rootless)
    parents = {c.id: c.parent_id for c in result.comments}
    assert parents == {"$root": None, "$t1": "$root", "$t2": "$t1", "$t3": None}
    assert result.orphans == ["$t3"]
    assert {c.id: c.text for c in result.comments}["$t2"] == "real reply"


def test_edits_newest_by_timestamp_then_event_id_wins() -> None:
    result = run(
        msg("$orig", text("first"), ts=T0),
        msg("$e2", edit("$orig", "second"), ts=T0 + 200),
        msg("$e1", edit("$orig", "older edit sent later"), ts=T0 + 100),
        msg("$e3a", edit("$orig", "tie loses"), ts=T0 + 300),
        msg("$e3b", edit("$orig", "tie wins"), ts=T0 + 300),
    )
    assert len(result.comments) == 1
    comment = result.comments[0]
    assert comment.text == "tie wins"
    assert comment.edited_at == datetime.fromtimestamp((T0 + 300) / 1000, tz=UTC)
    assert not result.skipped  # superseded edits are not failures


def test_bad_edits_are_skipped_with_reasons() -> None:
    result = run(
        msg("$orig", text("original"), ts=T0),
        msg("$other", edit("$orig", "hijacked"), sender="@mallory:hs", ts=T0 + 1),
        msg("$good", edit("$orig", "edited"), ts=T0 + 2),
        msg("$eoe", edit("$good", "edit of edit"), ts=T0 + 3),
        msg("$unk", edit("$nowhere", "x"), ts=T0 + 4),
        msg(
            "$nonew",
            text("* x", **{"m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"}}),
            ts=T0 + 5,
        ),
        msg(
            "$badnew",
            text(
                "* x",
                **{
                    "m.new_content": {"msgtype": "m.text", "body": 5},
                    "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"},
                },
            ),
            ts=T0 + 6,
        ),
        msg(
            "$notarget",
            text("* x", **{"m.new_content": text("x"), "m.relates_to": {"rel_type": "m.replace"}}),
            ts=T0 + 7,
        ),
    )
    assert [c.text for c in result.comments] == ["edited"]
    got = reasons(result)
    assert got["$other"].startswith("edit by @mallory:hs")
    assert got["$eoe"] == "edit of an edit"
    assert got["$unk"].startswith("edit of an unknown event")
    assert got["$nonew"] == "edit without an m.new_content object"
    assert got["$badnew"].startswith("edit with unusable m.new_content")
    assert got["$notarget"] == "edit without a target event id"


def test_redactions_tombstones_and_edits_of_redacted() -> None:
    result = run(
        redacted("$gone", ts=T0),
        redacted("$parent", ts=T0 + 1),
        msg("$child", reply_to("$parent", "> <@alice:hs> x\n\nchild"), sender="@bob:hs", ts=T0 + 2),
        redacted("$mid", ts=T0 + 3),  # content {}: its own relation is gone
        msg("$late_edit", edit("$gone", "resurrected"), ts=T0 + 4),
    )
    by_id = {c.id: c for c in result.comments}
    assert set(by_id) == {"$parent", "$child"}
    assert by_id["$parent"].deleted and by_id["$parent"].text == DELETED_TEXT
    assert by_id["$parent"].html == "<p>[deleted]</p>"
    assert by_id["$child"].parent_id == "$parent"
    got = reasons(result)
    assert got["$gone"] == "redacted"
    assert got["$mid"] == "redacted"
    assert got["$late_edit"] == "edit of a redacted comment"


def test_chain_of_redacted_ancestors_all_become_tombstones() -> None:
    # raw dicts: a redacted event that kept its relation (as unredacted copies may)
    grand = redacted("$g", ts=T0)
    parent = redacted("$p", ts=T0 + 1)
    parent["content"] = {"m.relates_to": {"m.in_reply_to": {"event_id": "$g"}}}
    result = run(grand, parent, msg("$c", reply_to("$p", "leaf"), ts=T0 + 2))
    assert [(c.id, c.deleted, c.parent_id) for c in result.comments] == [
        ("$g", True, None),
        ("$p", True, "$g"),
        ("$c", False, "$p"),
    ]


def test_display_name_in_effect_at_message_time() -> None:
    result = run(
        msg("$before", text("who?"), sender="@carol:hs", ts=T0),
        member("@carol:hs", "Carol", T0 + 1, avatar="mxc://hs.example/av1"),
        msg("$one", text("a"), sender="@carol:hs", ts=T0 + 2),
        member("@carol:hs", "Caroline", T0 + 3),
        msg("$two", text("b", msgtype="m.emote"), sender="@carol:hs", ts=T0 + 4),
        member("@carol:hs", "   ", T0 + 5),
        msg("$three", text("c"), sender="@carol:hs", ts=T0 + 6),
    )
    authors = {c.id: c.author for c in result.comments}
    assert authors["$before"].name == "carol"  # no member event yet: the localpart
    assert authors["$one"].name == "Carol"
    assert authors["$one"].avatar_url == (
        "https://hs.example/_matrix/client/v1/media/download/hs.example/av1"
    )
    assert authors["$two"].name == "Caroline"
    assert authors["$three"].name == "carol"  # a blank name is no name
    assert {c.id: c.text for c in result.comments}["$two"] == "\\* Caroline b"
    assert result.source_media == 1  # "$one" shows an avatar kept on the homeserver


def test_reply_older_than_parent_still_comes_after_it() -> None:
    # backdated events: the reply's timestamp is older than its parent's
    result = run(
        msg("$p", text("parent"), ts=T0 + 1000),
        msg("$r", reply_to("$p", "reply"), ts=T0),
        msg("$x", text("oldest"), ts=T0 - 5),
    )
    assert [c.id for c in result.comments] == ["$x", "$p", "$r"]


def test_comments_come_in_the_send_order_the_pipeline_uses() -> None:
    # backdated replies of one parent: among what is ready, the oldest goes first, so $b
    # (its parent long sent) comes before $g, whose parent $a came out just before
    result = run(
        msg("$c", text("parent"), ts=T0 + 10_000),
        msg("$a", reply_to("$c", "first answer"), ts=T0 + 1000),
        msg("$b", reply_to("$c", "second answer"), ts=T0 + 3000),
        msg("$g", reply_to("$a", "answer to the first"), ts=T0 + 5000),
    )
    assert [c.id for c in result.comments] == ["$c", "$a", "$b", "$g"]
    assert result.comments == send_order(result.comments)


def test_unknown_types_and_msgtypes_are_skipped() -> None:
    result = run(
        {
            "type": "m.reaction",
            "event_id": "$re",
            "sender": "@a:hs",
            "origin_server_ts": T0,
            "content": {"m.relates_to": {"rel_type": "m.annotation", "key": "+1"}},
        },
        {
            "type": "m.room.encrypted",
            "event_id": "$enc",
            "sender": "@a:hs",
            "origin_server_ts": T0,
            "content": {"algorithm": "m.megolm.v1.aes-sha2"},
        },
        msg("$loc", {"msgtype": "m.location", "body": "here", "geo_uri": "geo:1,2"}),
        msg("$img", {"msgtype": "m.image", "body": "x.png"}),
        {"type": "m.room.topic", "state_key": "", "event_id": "$st", "content": {}},
    )
    assert result.comments == []
    got = reasons(result)
    assert got == {
        "$re": "unsupported event type 'm.reaction'",
        "$enc": "unsupported event type 'm.room.encrypted'",
        "$loc": "unsupported msgtype 'm.location'",
        "$img": "m.image without an mxc:// url",
    }


def test_duplicate_event_ids_are_skipped() -> None:
    result = run(msg("$d", text("one")), msg("$d", text("two")))
    assert [c.text for c in result.comments] == ["one"]
    assert reasons(result) == {"$d": "duplicate event id"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "body",
                    "msgtype",
                    "m.relates_to",
                    "event_id",
                    "m.in_reply_to",
                    "rel_type",
                    "m.new_content",
                    "format",
                    "formatted_body",
                    "url",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "type": st.sampled_from(["m.room.message", "m.room.member", "m.reaction", 3]),
                "event_id": st.sampled_from(["$a", "$b", "$c", "$d", 5]),
                "sender": st.sampled_from(["@a:hs", "@b:hs"]),
                "origin_server_ts": st.integers(min_value=0, max_value=2**40),
                "content": json_values,
            }
        ),
        max_size=12,
    )
)
def test_arbitrary_events_never_crash(events: list[dict[str, Any]]) -> None:
    result = normalize_room(events, PAGE, HS)
    ids = [c.id for c in result.comments]
    assert len(ids) == len(set(ids))
    seen: set[str] = set()
    for comment in result.comments:  # every parent exists and comes first
        assert comment.parent_id is None or comment.parent_id in seen
        seen.add(comment.id)
