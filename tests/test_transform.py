"""Send order, depth flattening, nearest-sent-ancestor and content per target."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from migrate import threads
from migrate.model import Capabilities, Comment
from migrate.pipeline.transform import (
    CommentTransformer,
    PagePlan,
    Placement,
    depths,
    send_order,
)
from tests.factories import comment, page


def caps(max_depth: int | None = None, content: str = "both") -> Capabilities:
    return Capabilities(
        max_depth=max_depth,
        keeps_timestamps=True,
        idempotency="key",
        can_delete=True,
        content=content,  # type: ignore[arg-type]
    )


def ids(comments: list[Comment]) -> list[str]:
    return [c.id for c in comments]


def test_send_order_is_oldest_first_when_parents_come_first() -> None:
    cs = [comment("a", minute=0), comment("b", "a", minute=1), comment("c", minute=2)]
    assert ids(send_order(cs)) == ["a", "b", "c"]


def test_send_order_puts_a_parent_before_an_older_reply() -> None:
    # clocks lie: the reply carries an earlier timestamp than the comment it answers
    cs = [
        comment("reply", "parent", minute=0),
        comment("other", minute=1),
        comment("parent", minute=5),
    ]
    order = ids(send_order(cs))
    assert order.index("parent") < order.index("reply")
    assert order == ["other", "parent", "reply"]


def test_send_order_survives_a_cycle_and_keeps_every_comment() -> None:
    cs = [comment("x", "y", minute=0), comment("y", "x", minute=1), comment("z", minute=2)]
    assert sorted(ids(send_order(cs))) == ["x", "y", "z"]


def test_depths_of_a_thread() -> None:
    cs = [
        comment("a"),
        comment("b", "a"),
        comment("c", "b"),
        comment("d", "c"),
        comment("e", "missing"),
    ]
    assert depths(cs) == {"a": 0, "b": 1, "c": 2, "d": 3, "e": 0}


def nothing_sent(_: str) -> str | None:
    return None


def never_gone(_: str) -> str | None:
    return None


def plan_parents(max_depth: int | None, cs: list[Comment]) -> dict[str, tuple[str | None, str]]:
    """Where each comment lands, with its text, when everything before it was sent."""
    plan = PagePlan(CommentTransformer(caps(max_depth), system="matrix"), page(), cs)
    mapping: dict[str, str] = {}
    landed = {}
    for c in plan.order:
        out = plan.outgoing(c, mapping.get, never_gone)
        landed[c.id] = (out.parent_source_id, out.text)
        mapping[c.id] = f"t-{c.id}"
    return landed


THREAD = [
    comment("a", author="ann", text="top"),
    comment("b", "a", author="bob", text="reply 1", minute=1),
    comment("c", "b", author="cat", text="reply 2", minute=2),
    comment("d", "c", author="dan", text="reply 3", minute=3),
]


def test_any_depth_keeps_the_thread_as_it_is() -> None:
    landed = plan_parents(None, THREAD)
    assert landed == {
        "a": (None, "top"),
        "b": ("a", "reply 1"),
        "c": ("b", "reply 2"),
        "d": ("c", "reply 3"),
    }


def test_two_levels_attach_deeper_replies_to_the_top_comment_with_a_mention() -> None:
    landed = plan_parents(1, THREAD)
    assert landed == {
        "a": (None, "top"),
        "b": ("a", "reply 1"),
        "c": ("a", "@bob: reply 2"),
        "d": ("a", "@cat: reply 3"),
    }


def test_three_levels_attach_to_the_deepest_allowed_ancestor() -> None:
    landed = plan_parents(2, THREAD)
    assert landed["c"] == ("b", "reply 2")
    assert landed["d"] == ("b", "@cat: reply 3")


def test_flat_target_makes_everything_top_level() -> None:
    landed = plan_parents(0, THREAD)
    assert all(parent is None for parent, _ in landed.values())
    assert landed["b"] == (None, "@ann: reply 1")


def test_mention_can_be_switched_off() -> None:
    transformer = CommentTransformer(caps(1), system="matrix", mention_parent=False)
    plan = PagePlan(transformer, page(), THREAD)
    mapping = {"a": "1", "b": "2"}
    out = plan.outgoing(THREAD[2], mapping.get, never_gone)
    assert (out.parent_source_id, out.parent_target_id, out.text) == ("a", "1", "reply 2")


def test_reply_to_a_skipped_comment_attaches_to_the_nearest_sent_ancestor() -> None:
    plan = PagePlan(CommentTransformer(caps(None), system="matrix"), page(), THREAD)
    gone = {"b": "text too short", "c": "refused"}
    out = plan.outgoing(THREAD[3], {"a": "10"}.get, gone.get)
    assert (out.parent_source_id, out.parent_target_id) == ("a", "10")
    # whom it answered is gone: no mention of a comment nobody can see
    assert out.text == "reply 3"


def test_reply_to_a_missing_parent_is_top_level() -> None:
    orphan = comment("o", "not-on-this-page")
    plan = PagePlan(CommentTransformer(caps(None), system="matrix"), page(), [orphan])
    out = plan.outgoing(orphan, nothing_sent, never_gone)
    assert out.parent_source_id is None and out.parent_target_id is None


def test_mention_is_not_made_for_a_deleted_parent() -> None:
    cs = [comment("a"), comment("b", "a", deleted=True, text="[deleted]"), comment("c", "b")]
    plan = PagePlan(CommentTransformer(caps(1), system="matrix"), page(), cs)
    out = plan.outgoing(cs[2], {"a": "1", "b": "2"}.get, never_gone)
    assert out.parent_source_id == "a" and not out.text.startswith("@")


@pytest.mark.parametrize(
    ("content", "expect_html"),
    [("markdown", None), ("both", "<p>hi <b>there</b></p>"), ("html", "<p>hi <b>there</b></p>")],
)
def test_content_per_target(content: str, expect_html: str | None) -> None:
    c = comment("a", text="hi **there**", html="<p>hi <b>there</b></p>")
    plan = PagePlan(CommentTransformer(caps(None, content), system="matrix"), page(), [c])
    out = plan.outgoing(c, nothing_sent, never_gone)
    assert out.text == "hi **there**"
    assert out.html == expect_html


def test_html_target_gets_escaped_paragraphs_from_plain_text() -> None:
    c = comment("a", text="a <script>x</script>\n\nsecond & last")
    plan = PagePlan(CommentTransformer(caps(None, "html"), system="matrix"), page(), [c])
    out = plan.outgoing(c, nothing_sent, never_gone)
    assert out.html == "<p>a &lt;script&gt;x&lt;/script&gt;</p><p>second &amp; last</p>"


def test_mention_on_html_content_is_escaped() -> None:
    cs = [comment("a"), comment("b", "a"), comment("c", "b", html="<p>x</p>")]
    cs[1] = comment("b", "a", author="<img src=x onerror=alert(1)>")
    plan = PagePlan(CommentTransformer(caps(1, "html"), system="matrix"), page(), cs)
    out = plan.outgoing(cs[2], {"a": "1", "b": "2"}.get, never_gone)
    assert out.html is not None and "<img" not in out.html and "&lt;img" in out.html


def test_idempotency_key_names_the_source_system_and_id() -> None:
    c = comment("$event:localhost")
    plan = PagePlan(CommentTransformer(caps(), system="matrix"), page(), [c])
    assert plan.outgoing(c, nothing_sent, never_gone).idempotency_key == "matrix:$event:localhost"


def test_an_html_only_comment_reaches_a_markdown_target_as_markdown() -> None:
    """Sources that keep only HTML (Disqus, WordPress): the Markdown renders the same
    text, link and line break; the script is gone."""
    c = comment(
        "$h",
        text="",
        html='<p>See <a href="https://x.org/a">this</a><br>now</p><script>alert(1)</script>',
    )
    plan = PagePlan(CommentTransformer(caps(content="markdown"), system="disqus"), page(), [c])
    out = plan.outgoing(c, nothing_sent, never_gone)
    assert out.html is None
    assert out.text == "See [this](https://x.org/a)  \nnow"


def test_plan_counts_threads_and_depth() -> None:
    plan = PagePlan(CommentTransformer(caps(), system="matrix"), page(), THREAD)
    assert plan.threads() == 1
    assert plan.max_depth() == 3


def test_depth_counts_where_ancestors_were_placed_not_their_source_depth() -> None:
    # a (refused) <- b <- c: with two levels, b becomes top level, so c can hang under b
    cs = [
        comment("a", text="ok"),
        comment("b", "a", author="bob"),
        comment("c", "b", author="carol"),
    ]
    plan = PagePlan(CommentTransformer(caps(1), system="matrix"), page(), cs)
    gone = {"a": "too short"}
    out_b = plan.outgoing(cs[1], nothing_sent, gone.get)
    out_c = plan.outgoing(cs[2], {"b": "2"}.get, gone.get)
    assert out_b.parent_source_id is None
    assert (out_c.parent_source_id, out_c.parent_target_id, out_c.text) == ("b", "2", cs[2].text)


def test_a_refusal_during_the_page_moves_the_replies_placed_before_it() -> None:
    plan = PagePlan(CommentTransformer(caps(1), system="matrix"), page(), THREAD)
    assert plan.outgoing(THREAD[2], {"a": "1"}.get, never_gone).parent_source_id == "a"
    plan.forget_placements()  # "a" was refused meanwhile
    gone = {"a": "refused"}
    assert plan.outgoing(THREAD[1], nothing_sent, gone.get).parent_source_id is None
    assert plan.outgoing(THREAD[2], {"b": "2"}.get, gone.get).parent_source_id == "b"


def chain(length: int) -> list[Comment]:
    """One thread where each comment answers the one before it."""
    return [comment("c0", minute=0)] + [
        comment(f"c{i}", f"c{i - 1}", minute=i, author=f"u{i}") for i in range(1, length)
    ]


class CountingComments(dict[str, Comment]):
    """A page's comments by id that counts how often placement looks one up."""

    looked = 0

    def __getitem__(self, key: str) -> Comment:
        self.looked += 1
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.looked += 1
        return super().__contains__(key)


@pytest.mark.parametrize("max_depth", [None, 1, 3])
def test_placing_a_chain_costs_a_few_lookups_per_comment_however_deep(
    max_depth: int | None,
) -> None:
    comments = chain(2_000)
    by_id = CountingComments({c.id: c for c in comments})
    gone_calls: list[str] = []

    def is_gone(cid: str) -> str | None:
        gone_calls.append(cid)
        return None

    transformer = CommentTransformer(caps(max_depth), system="matrix")
    placed: dict[str, tuple[str | None, int]] = {}
    for c in comments:
        transformer.placement(c, by_id, is_gone, placed)
    # the quadratic walk up the chain made ~2,000,000 lookups here
    assert by_id.looked <= 10 * len(comments)
    assert len(gone_calls) <= 3 * len(comments)


@pytest.mark.timeout(120)  # a guard against a hang only; the bound above is the real check
@pytest.mark.parametrize("max_depth", [None, 1])
def test_a_20000_deep_chain_is_planned_and_placed(max_depth: int | None) -> None:
    comments = chain(20_000)
    plan = PagePlan(CommentTransformer(caps(max_depth), system="matrix"), page(), comments)
    assert ids(plan.order) == ids(comments) and plan.max_depth() == 19_999
    sent: dict[str, str] = {}
    for c in plan.order:
        out = plan.outgoing(c, sent.get, never_gone)
        sent[c.id] = f"t{c.id}"
        if max_depth is None or c.parent_id in (None, "c0"):
            assert (out.parent_source_id, out.text) == (c.parent_id, c.text)
        else:  # two levels: every deeper reply hangs under the top comment, naming whom
            previous = int(c.id[1:]) - 1
            assert out.parent_source_id == "c0" and out.parent_target_id == "tc0"
            assert out.text == f"@u{previous}: {c.text}"
    assert len(sent) == 20_000


def test_a_commenters_ip_reaches_the_target_only_with_keep_ip() -> None:
    c = comment("$ip")
    c = dataclasses.replace(c, author=dataclasses.replace(c.author, ip="192.0.2.7"))
    dropped = CommentTransformer(caps(), system="wordpress").outgoing(
        c, page(), Placement(None, None), nothing_sent
    )
    assert dropped.source.author.ip is None
    kept = CommentTransformer(caps(), system="wordpress", keep_ip=True).outgoing(
        c, page(), Placement(None, None), nothing_sent
    )
    assert kept.source.author.ip == "192.0.2.7"


def test_the_outgoing_view_makes_each_comment_when_asked_and_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan = PagePlan(CommentTransformer(caps(None), system="matrix"), page(), THREAD)
    made: list[str] = []
    real = PagePlan.outgoing

    def counted(self: PagePlan, c: Comment, *args: object, **kwargs: object) -> object:
        made.append(c.id)
        return real(self, c, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(PagePlan, "outgoing", counted)
    view = plan.outgoing_view(plan.order, lambda _: None, lambda _: None)
    assert len(view) == len(THREAD) and made == []  # a target that asks for none costs none
    first = view[0]
    assert view[-len(THREAD)] is first and made == [plan.order[0].id]
    assert [o.source.id for o in view] == [c.id for c in plan.order]
    assert [o.source.id for o in view[1:3]] == [c.id for c in plan.order[1:3]]
    assert sorted(made) == sorted(c.id for c in THREAD)  # each made once
    with pytest.raises(IndexError):
        view[len(THREAD)]


@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(-1, 12)),  # (minute, parent's index or none)
        min_size=1,
        max_size=12,
    ),
    st.booleans(),
)
def test_send_order_of_a_list_already_in_it_is_the_long_ways(
    shape: list[tuple[int, int]], sort_first: bool
) -> None:
    # the quick path (the list's own order when it is oldest first, parents before replies)
    # gives what the heap gives, on lists in that order and on lists that are not
    cs = [
        comment(f"c{i}", f"c{parent}" if parent >= 0 else None, minute=minute)
        for i, (minute, parent) in enumerate(shape)
    ]
    if sort_first:
        cs = threads._by_heap(cs, {c.id: c for c in cs})
    assert ids(send_order(cs)) == ids(threads._by_heap(cs, {c.id: c for c in cs}))
