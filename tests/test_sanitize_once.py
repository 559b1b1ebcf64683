"""HTML is sanitized once on its way to a file, and still for every comment.

A comment used to pass the same allowlist three times (archive reader, transform, file record);
`sanitize_html` now marks its output (SanitizedHtml) and returns a marked string as it is.
These tests show the pass still happens for every comment, happens once, and that skipping
the later passes changes nothing (the allowlist's output is a fixed point of it)."""

from __future__ import annotations

import json
from pathlib import Path

import nh3
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from migrate import ArchiveSource, JsonlTarget, Migration, RunOptions
from migrate.content.html import (
    SanitizedHtml,
    _linkified,
    _paragraphs,
    plain_to_html,
    sanitize_html,
)
from migrate.content.text import BARE_URL
from migrate.files import formats
from migrate.testing.factories import comment, make_archive, page

HOSTILE = [
    '<p>hi<script>alert(1)</script><img src=x onerror="alert(2)"></p>',
    '<a href="javascript:alert(1)">x</a><a href="https://example.org/?a=1&b=2">y</a>',
    "<table><a href=https://x.example>in a table</a><tr><td>cell</table>",
    "<p><b><i>mis</b>nested</i></p><p>unclosed<div>block in p",
    "<style>p{}</style>shown<svg><foreignObject><p>svg</p></svg><math><mi>x</mi></math>",
    '<img src="https://x.example/a.png" alt="a&quot;b" title=\'t\' width=1 height=2>',
    "<!-- comment --><pre>  keep\n  spaces &lt;b&gt;</pre><code class=language-py>x</code>",
    "text &amp; entities &nbsp; &#x27; &#39; &lt;p&gt; and a bare < and >",
    "<noscript><p title='</noscript><img src=x onerror=alert(1)>'></noscript>",
    '<form><input value="x"></form><details><summary>s</summary>body</details>',
]


@pytest.mark.parametrize("raw", HOSTILE)
def test_the_allowlist_output_is_a_fixed_point(raw: str) -> None:
    """Why returning a marked string unchanged is safe: a second real pass gives the same."""
    once = sanitize_html(raw)
    assert once is not None and type(once) is SanitizedHtml
    again = sanitize_html(str(once))  # a plain str: parsed and cleaned for real
    assert again == once
    assert "<script" not in once and "onerror" not in once and "javascript:" not in once


def test_only_the_very_string_it_returned_skips_the_pass() -> None:
    marked = sanitize_html("<p>ok</p>")
    assert isinstance(marked, SanitizedHtml)
    assert sanitize_html(marked) is marked
    # any change makes a plain str, which is cleaned again
    joined = marked + "<script>x</script>"
    assert type(joined) is str
    assert sanitize_html(joined) == "<p>ok</p>"
    # a plain string that merely looks clean is still parsed
    assert sanitize_html('<a href="https://x.example">x</a>') == (
        '<a href="https://x.example" rel="noopener noreferrer nofollow">x</a>'
    )
    # a media mapping is a different pass: it applies to marked strings too
    mapped = sanitize_html(SanitizedHtml('<img src="mxc://h/m">'), lambda uri: "https://m/1")
    assert mapped == '<img src="https://m/1">'


def test_file_records_still_remove_what_a_file_cannot_hold() -> None:
    marked = sanitize_html("<p>a</p>")
    assert marked is not None
    dirty = SanitizedHtml(marked.replace("a", "a\x01"))
    assert formats.sanitize_html(dirty) == "<p>a</p>"
    assert formats.sanitize_html(marked) is marked


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What nh3 is asked to clean, from here on."""
    made: list[str] = []
    real_clean = nh3.clean

    def counting_clean(html: str, *args: object, **kwargs: object) -> str:
        made.append(html)
        return real_clean(html, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(nh3, "clean", counting_clean)
    return made


def test_a_run_sanitizes_each_comment_once(tmp_path: Path, calls: list[str]) -> None:
    pg = page("post1")
    comments = [
        comment("$c1:h", text="plain text, no html"),
        comment("$c2:h", "$c1:h", minute=1, html='<p>x<script>bad()</script><b onclick="y">b</b>'),
        comment("$c3:h", "$c2:h", minute=2, text="https://example.org/a link"),
    ]
    archive = make_archive(tmp_path / "site.archive.jsonl", {pg: comments})
    output = tmp_path / "out.jsonl"
    migration = Migration(
        ArchiveSource(archive), JsonlTarget(output), checkpoint=tmp_path / "cp.json"
    )
    summary = migration.run(RunOptions(quiet=True))
    assert summary.comments_imported == 3
    # one pass per comment that has HTML or a link (three before the mark); a text without
    # links is escaped as the pass would write it (test_escaped_text_is_what_the_pass_makes)
    assert len(calls) == 2
    assert not any("plain text" in call for call in calls)
    written = [json.loads(line) for line in output.read_text().splitlines()]
    htmls = [record["html"] for record in written]
    assert len(htmls) == 3
    assert htmls[0] == _through_the_allowlist("plain text, no html") == "<p>plain text, no html</p>"
    assert "script" not in htmls[1] and "onclick" not in htmls[1] and "<b>b</b>" in htmls[1]
    assert 'rel="noopener noreferrer nofollow"' in htmls[2]


def _through_the_allowlist(text: str) -> str:
    """plain_to_html as it was before the escaped path: the paragraphs through nh3."""
    return sanitize_html(_paragraphs(text, _linkified)) or "<p></p>"


# what an HTML parser and serializer treat specially, and what clean_text repairs
_HOSTILE_CHARS = st.sampled_from(
    [
        *"<>&'\"=/!-;#\n\r\t \x00\x01\x0b\x0c\x1f\x7f\x85\xa0\u2028\u2029\ufeff\ufffe\uffff",
        "\ud800",
        "\udfff",
        "\ud83d\ude00",
        "&amp;",
        "&lt;",
        "&#x27;",
        "&nbsp;",
        "<p>",
        "</p>",
        "<br>",
        "<script>",
        "</script>",
        "<!--",
        "-->",
        "<![CDATA[",
        "]]>",
        "\r\n",
        "\n\n",
        "\n \t\n",
        "\u00e9",
        "\U0001f600",
    ]
)
_TEXTS = st.one_of(
    st.lists(_HOSTILE_CHARS | st.characters(), max_size=40).map("".join),
    st.text(max_size=40),
)


@settings(max_examples=3000, deadline=None)
@given(_TEXTS)
@example('it\'s "quoted" & <b>bold</b>\xa0nbsp')
@example("a\r\nb\rc\n\r\nd")  # carriage returns are line feeds to a parser
@example("one\n\x00\ntwo")  # the NUL goes after the paragraphs are found, as before
@example("\x00")
@example("  \n\t\n  ")
@example("lone \ud800 and paired \ud83d\ude00")
@example("<p>not a tag</p><script>alert(1)</script><!-- -->")
def test_escaped_text_is_what_the_pass_makes(text: str) -> None:
    """A text without links is made into HTML without the allowlist's parser; the result
    is exactly what the parser and serializer made of it (and is marked as their output)."""
    if BARE_URL.search(text):  # links still go through the allowlist
        return
    made = plain_to_html(text)
    assert made == _through_the_allowlist(text)
    assert type(made) is SanitizedHtml or made == "<p></p>"


def test_a_text_with_a_link_still_goes_through_the_allowlist(calls: list[str]) -> None:
    assert plain_to_html("see http://[::1 here") == (
        '<p>see <a rel="noopener noreferrer nofollow">http://[::1</a> here</p>'
    )  # the allowlist drops an href the URL parser refuses: only the parser knows
    assert plain_to_html("no link, 'quoted' <b>") == "<p>no link, 'quoted' &lt;b&gt;</p>"
    assert len(calls) == 1
