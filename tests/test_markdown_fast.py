"""The parser-free HTML-to-Markdown path: the very string markdownify makes, or a refusal.

Generated HTML (text full of Markdown's special characters, entities, odd whitespace,
paragraphs, line breaks, links and emphasis, now and then a tag outside the subset) goes
through the allowlist as every source's does; wherever the fast path answers, its answer
must be markdownify's, character for character."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from migrate.content import html_to_markdown, sanitize_html
from migrate.content import markdown as markdown_module
from migrate.content.markdown_fast import simple_html_markdown

# what markdownify makes of sanitized HTML: the path the fast one must equal
MARKDOWNIFY = markdown_module._TO_MARKDOWN

_PIECES = [
    *"abcXYZ019 .)*_#>-+`[]()!\\|~=<>&\"'",
    "1. ",
    "12) ",
    "\n3. ",
    "- ",
    "\n- ",
    "# ",
    "\n## ",
    "> ",
    "---",
    "\\*",
    "\\_",
    "**",
    "  ",
    "\n",
    "\n\n",
    "\n \n",
    "\t",
    " \t ",
    "\xa0",
    "\u2003",
    "\u3000",
    "\x0b",
    "\x0c",
    "\x85",
    "\r\n",
    "&amp;",
    "&lt;",
    "&gt;",
    "&quot;",
    "&#39;",
    "&nbsp;",
    "&nbsp; ",
    "&amp;lt;",
    "&copy;",
    "&#x2a;",
    "é",
    "https://example.org/a_b?x=1&y=2",
]
TEXT = st.lists(st.sampled_from(_PIECES), max_size=8).map("".join)
# a `<` that cannot open a tag (`<a` would): the subset's text only
PLAIN_TEXT = st.lists(
    st.sampled_from([p for p in _PIECES if p != "<"] + ["< ", "<3", "a <= b"]), max_size=8
).map("".join)
HREFS = st.sampled_from(
    [
        "https://example.org/",
        "https://example.org/a_b?x=1&amp;y=2",
        "https://example.org/a*b",
        "http://x.test/(paren)",
        "mailto:someone@example.org",
        "javascript:alert(1)",
        "",
    ]
)
_INLINE_TAGS = ["b", "strong", "i", "em", "code"]
_BREAKS = ["<br>", "<br/>", "<br />", "\n<br>\n", "<br><br>", " <br> <br> "]
_OTHER = ["<span>x</span>", "<img src='https://example.org/i.png' alt='i'>", "<del>d</del>"]


def _inline(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    tagged = st.tuples(st.sampled_from(_INLINE_TAGS), children).map(
        lambda t: f"<{t[0]}>{t[1]}</{t[0]}>"
    )
    linked = st.tuples(HREFS, children, st.booleans()).map(
        lambda t: f'<a href="{t[0]}">{t[0] if t[2] else t[1]}</a>'
    )
    titled = children.map(lambda c: f'<a href="https://example.org/" title="t">{c}</a>')
    return st.lists(
        st.one_of(TEXT, TEXT, tagged, linked, titled, st.sampled_from(_BREAKS)), max_size=4
    ).map("".join)


INLINE = st.recursive(TEXT, _inline, max_leaves=8)
BLOCK = st.one_of(
    INLINE,
    INLINE.map(lambda c: f"<p>{c}</p>"),
    INLINE.map(lambda c: f"<p>{c}</p>"),
    INLINE.map(lambda c: f"<p>{c}"),  # unclosed, as people type it
    st.sampled_from(["<p></p>", "<p> </p>", "<p>&nbsp;</p>", "<p>\n</p>", *_BREAKS]),
    INLINE.map(lambda c: f"<blockquote>{c}</blockquote>"),
    INLINE.map(lambda c: f"<ul><li>{c}</li></ul>"),
    st.sampled_from(_OTHER),
)
SEPARATORS = st.sampled_from(["", "", "\n", "\n\n", " ", "\t", "\xa0"])
HTML = st.lists(st.tuples(SEPARATORS, BLOCK), max_size=5).map(
    lambda blocks: "".join(separator + block for separator, block in blocks)
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HTML)
def test_fast_path_gives_markdownify_s_string(html: str) -> None:
    clean = sanitize_html(html) or ""
    fast = simple_html_markdown(clean)
    event("fast path" if fast is not None else "markdownify")
    if fast is not None:
        assert fast == MARKDOWNIFY.convert(clean), clean
    expected = markdown_module._BLANK_LINES.sub("\n\n", MARKDOWNIFY.convert(clean)).strip()
    assert html_to_markdown(html) == expected


def _subset(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    tagged = st.tuples(st.sampled_from(_INLINE_TAGS), children).map(
        lambda t: f"<{t[0]}>{t[1]}</{t[0]}>"
    )
    linked = st.tuples(HREFS, children, st.booleans()).map(
        lambda t: f'<a href="{t[0]}">{t[0] if t[2] else t[1]}</a>'
    )
    return st.lists(
        st.one_of(PLAIN_TEXT, tagged, linked, st.sampled_from(_BREAKS)), max_size=4
    ).map("".join)


SUBSET_INLINE = st.recursive(PLAIN_TEXT, _subset, max_leaves=8)
SUBSET_BLOCK = st.one_of(SUBSET_INLINE, SUBSET_INLINE.map(lambda c: f"<p>{c}</p>"))
SUBSET_BLOCKS = st.lists(st.tuples(SEPARATORS, SUBSET_BLOCK), max_size=4).map(
    lambda blocks: "".join(separator + block for separator, block in blocks)
)
# quotes of paragraphs, text and quotes, as replies quote the comment they answer
SUBSET = st.recursive(
    SUBSET_BLOCKS,
    lambda inner: st.lists(
        st.one_of(inner, inner.map(lambda c: f"<blockquote>{c}</blockquote>")), max_size=3
    ).map("".join),
    max_leaves=4,
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SUBSET)
def test_the_subset_is_always_taken_and_equal(html: str) -> None:
    """Paragraphs, quotes, breaks, emphasis, code and links without a title: never left to
    markdownify (so the fast path cannot quietly stop being taken), and the same string."""
    clean = sanitize_html(html) or ""
    fast = simple_html_markdown(clean)
    assert fast is not None, clean
    assert fast == MARKDOWNIFY.convert(clean), clean


@pytest.mark.parametrize(
    "html",
    [
        "a<br>\x0c<br>b",  # BeautifulSoup makes a text node of ASCII spaces one space
        "<b>x</b> \x0c\n<i>y</i>",  # ... or one newline
        "<p>x\x0c y</p>",  # but keeps a form feed among other text
        '<a href="https://e.org/a_b">https://e.org/a\\_b</a>',  # autolink despite \_
        '<a href="https://e.org/a_b"> https://e.org/a_b </a>!',  # autolink drops the spaces
        "<blockquote> </blockquote>x<blockquote></blockquote>",  # an empty quote is a newline
        "<p>a\u2003</p><b> b\u2003</b>\xa0<code>``c`</code>",  # Unicode spaces, backticks
    ],
)
def test_rules_the_generator_rarely_meets(html: str) -> None:
    clean = sanitize_html(html) or ""
    fast = simple_html_markdown(clean)
    assert fast is not None
    assert fast == MARKDOWNIFY.convert(clean)


TYPICAL = [
    "<p>Great post, thanks!</p>",
    "<p>I tried this &amp; it worked.</p><p>But step 2. failed with &lt;error&gt;.</p>",
    "<p>Line one<br>line two<br>\nline three</p>\n<p>- not a list, * not a bullet</p>",
    "Just text, no paragraph &nbsp;at all",
    "<p>See <a href='https://example.org/docs'>the docs</a> and "
    "<a href='https://example.org/x_y'>https://example.org/x_y</a></p>",
    "<p><b>Update:</b> it's <em>fixed</em>, use <code>pip install -U x</code></p>",
    "<p>#1 fan &gt; everyone else :)</p><p></p><p> </p>",
    "<blockquote><p>You said it would be easy.</p></blockquote>\n<p>It wasn't.</p>",
]


@pytest.mark.parametrize("html", TYPICAL)
def test_typical_comments_take_the_fast_path(html: str, monkeypatch: pytest.MonkeyPatch) -> None:
    clean = sanitize_html(html) or ""
    fast = simple_html_markdown(clean)
    assert fast is not None
    assert fast == MARKDOWNIFY.convert(clean)
    expected = html_to_markdown(html)

    class Refusing:
        def convert(self, html: str) -> str:
            raise AssertionError(f"markdownify asked for {html!r}")

    monkeypatch.setattr(markdown_module, "_TO_MARKDOWN", Refusing())
    assert html_to_markdown(html) == expected


@pytest.mark.parametrize(
    "html",
    [
        "<ul><li>item</li></ul>",
        "<p>a <del>struck</del></p>",
        "<p>a</p><ul><li>item</li></ul>",
        '<p><a href="https://example.org/" title="t">titled</a></p>',
        "<p><img src='https://example.org/i.png' alt='i'></p>",
        "<h2>heading</h2>",
        "<pre>code</pre>",
        "<b><p>a paragraph inside bold</p></b>",
    ],
)
def test_anything_else_is_left_to_markdownify(html: str) -> None:
    clean = sanitize_html(html) or ""
    assert simple_html_markdown(clean) is None
    expected = markdown_module._BLANK_LINES.sub("\n\n", MARKDOWNIFY.convert(clean)).strip()
    assert html_to_markdown(html) == expected
