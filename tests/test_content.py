"""Content helpers: reply fallbacks, HTML sanitizing, media URLs, Unicode repair."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrate.content import (
    autolink_markdown,
    clean_text,
    emote_html,
    emote_markdown,
    has_reply_fallback,
    media_html,
    media_markdown,
    mxc_to_http,
    plain_to_html,
    plain_to_markdown,
    sanitize_html,
    strip_html_reply_fallback,
    strip_reply_fallback,
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("> <@a:hs> quoted\n\nreply", "reply"),
        ("> <@a:hs> line one\n> line two\n>\n\nreply\nmore", "reply\nmore"),
        ("> <@a:hs> quoted\nreply", "reply"),  # no blank line: nothing more is dropped
        ("no fallback", "no fallback"),
        ("text\n> later quote stays", "text\n> later quote stays"),
    ],
)
def test_strip_reply_fallback(body: str, expected: str) -> None:
    assert strip_reply_fallback(body) == expected


def test_strip_html_reply_fallback() -> None:
    html = '<mx-reply><blockquote><a href="x">In reply to</a> q</blockquote></mx-reply>Hi <b>A</b>'
    assert strip_html_reply_fallback(html) == "Hi <b>A</b>"
    assert strip_html_reply_fallback("<MX-REPLY>\nq\n</mx-reply>ok") == "ok"


@pytest.mark.parametrize(
    ("html", "forbidden"),
    [
        ("<script>alert(1)</script>ok", "alert"),
        ("<style>body{display:none}</style>ok", "display"),
        ('<img src="https://x/i.png" onerror="alert(1)">', "onerror"),
        ('<a href="javascript:alert(1)">x</a>', "javascript"),
        ('<a href="JaVaScRiPt:alert(1)">x</a>', "alert"),
        ('<a href="data:text/html,<script>alert(1)</script>">x</a>', "data:"),
        ('<iframe src="https://evil.example/"></iframe>ok', "iframe"),
        ('<b onclick="steal()">bold</b>', "onclick"),
        ('<svg onload="alert(1)"><circle/></svg>ok', "svg"),
        ('<form action="https://evil"><input name="p"></form>ok', "form"),
        ('<p style="position:fixed">x</p>', "style"),
    ],
)
def test_sanitize_html_removes_hostile_markup(html: str, forbidden: str) -> None:
    cleaned = sanitize_html(html) or ""
    assert forbidden.lower() not in cleaned.lower()


def test_sanitize_html_keeps_formatting_and_safe_links() -> None:
    cleaned = sanitize_html('<p>Hi <b>there</b> <a href="https://example.org/">link</a></p>')
    assert cleaned is not None
    assert "<b>there</b>" in cleaned
    assert 'href="https://example.org/"' in cleaned


def test_sanitize_html_of_nothing_visible_is_none() -> None:
    assert sanitize_html("<script>x</script>") is None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>=\"' /ascriptjvonerfmlhb:()&#x")), max_size=80))
def test_sanitize_html_never_lets_script_through(html: str) -> None:
    cleaned = (sanitize_html(html) or "").lower()
    assert "<script" not in cleaned
    assert "javascript:" not in cleaned
    assert not re.search(r"<[^>]*\son\w*\s*=", cleaned)  # no event-handler attribute


def test_mxc_to_http() -> None:
    assert mxc_to_http("mxc://example.org/AbC_1-2", "https://hs.example/") == (
        "https://hs.example/_matrix/client/v1/media/download/example.org/AbC_1-2"
    )
    assert mxc_to_http("https://evil/x", "https://hs") is None
    assert mxc_to_http("mxc://example.org/../../x", "https://hs") is None


def test_clean_text_repairs_lone_surrogates_and_drops_nul() -> None:
    assert clean_text("a\ud800b") == "a\ufffdb"
    assert clean_text("\ud83d\ude00") == "\U0001f600"  # a valid pair is joined, not broken
    assert clean_text("a\x00b") == "ab"
    clean_text("x\udfff").encode("utf-8")  # must not raise


def test_strip_html_reply_fallback_nested_unclosed_and_stray() -> None:
    nested = "<mx-reply><blockquote>a<mx-reply>b</mx-reply>c</blockquote></mx-reply>Hi"
    assert strip_html_reply_fallback(nested) == "Hi"
    assert strip_html_reply_fallback('<mx-reply class="x">quote never closed') == ""
    assert strip_html_reply_fallback("before<mx-reply>q</mx-reply>after") == "beforeafter"
    assert strip_html_reply_fallback("stray</mx-reply>ok") == "strayok"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("> <@alice:example.org> parent\n\nreply", True),
        ("> * <@alice:example.org> waves\n\nreply", True),
        ("> a visitor's own quote\n\nmy answer", False),
        ("plain", False),
    ],
)
def test_has_reply_fallback_only_for_the_fallback_shape(body: str, expected: bool) -> None:
    assert has_reply_fallback(body) is expected


def test_plain_to_html_escapes_keeps_breaks_and_links_bare_urls() -> None:
    html = plain_to_html(
        "Hi <b>you</b>\nsee https://example.org/a?b=1&c=2.\n\n(https://w.example/C_(x))"
    )
    assert "&lt;b&gt;you&lt;/b&gt;<br>" in html
    assert '<a href="https://example.org/a?b=1&amp;c=2"' in html
    assert ">https://example.org/a?b=1&amp;c=2</a>.</p>" in html  # the full stop is text
    assert '<a href="https://w.example/C_(x)"' in html and "</a>)</p>" in html
    assert html.count("<p>") == 2
    assert "javascript" not in plain_to_html("javascript:alert(1)//https://x").replace(
        "javascript:alert(1)//", ""
    )


def test_plain_to_markdown_shows_the_text_as_it_is() -> None:
    md = plain_to_markdown("# not a heading\n- nor a list\n1. nor this\n*x* <b> https://e.org/a_b.")
    assert md.split("\n") == [
        "\\# not a heading",
        "\\- nor a list",
        "1\\. nor this",
        "\\*x\\* \\<b> <https://e.org/a_b>.",
    ]


def test_emote_forms() -> None:
    assert emote_markdown("Bob_*", "waves") == "\\* Bob\\_\\* waves"
    assert emote_html("B<b>", "<p>waves</p>") == "<p>* B&lt;b&gt; waves</p>"
    assert emote_html("Bob", "waves <em>hard</em>") == "* Bob waves <em>hard</em>"


def test_media_forms_are_images_and_links_never_markdown_in_html() -> None:
    url = "https://cdn.example/a b(1).png"
    assert media_markdown("m.image", url, "cat [1]") == (
        "![cat \\[1\\]](https://cdn.example/a%20b%281%29.png)"
    )
    assert media_markdown("m.file", "https://cdn.example/f.pdf", "doc") == (
        "[doc](https://cdn.example/f.pdf)"
    )
    image = media_html("m.image", "https://cdn.example/i.png", 'a "cat"')
    assert image.startswith('<p><img src="https://cdn.example/i.png"') and "![" not in image
    link = media_html("m.file", "https://cdn.example/f.pdf", "<doc>")
    assert 'href="https://cdn.example/f.pdf"' in link and "&lt;doc&gt;</a>" in link


def test_sanitize_html_maps_inline_mxc_through_the_mirror_or_drops_it() -> None:
    html = '<img src="mxc://hs.example/abc" alt="x"><a href="mxc://hs.example/abc">f</a>'
    mapped = sanitize_html(html, lambda mxc: "https://cdn.example/abc.png") or ""
    assert mapped.count('"https://cdn.example/abc.png"') == 2
    assert "mxc://" not in (sanitize_html(html) or "")


def test_autolink_markdown_links_bare_urls_only() -> None:
    md = (
        "see https://a.example/x. [t](https://b.example/y) <https://c.example/> `https://d.example`"
    )
    assert autolink_markdown(md) == (
        "see <https://a.example/x>. [t](https://b.example/y) <https://c.example/> "
        "`https://d.example`"
    )
