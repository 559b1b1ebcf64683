"""Content helpers: reply fallbacks, HTML sanitizing, media URLs, Unicode repair."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrate.content import (
    clean_text,
    mxc_to_http,
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
        "https://hs.example/_matrix/media/v3/download/example.org/AbC_1-2"
    )
    assert mxc_to_http("https://evil/x", "https://hs") is None
    assert mxc_to_http("mxc://example.org/../../x", "https://hs") is None


def test_clean_text_repairs_lone_surrogates_and_drops_nul() -> None:
    assert clean_text("a\ud800b") == "a\ufffdb"
    assert clean_text("\ud83d\ude00") == "\U0001f600"  # a valid pair is joined, not broken
    assert clean_text("a\x00b") == "ab"
    clean_text("x\udfff").encode("utf-8")  # must not raise
