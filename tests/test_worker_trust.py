"""The Worker on workerd against what an attacker sends it, and what the tool sends it:

- `/threads` serves only allowlisted HTML, whatever D1 holds (a writer with the token may
  store anything): every tag, attribute and link a browser would find in what it serves is
  one the allowlist allows, and HTML the tool sanitized comes out unchanged;
- the tool sanitizes every comment's HTML before any target sees it (an archive's hostile
  `html` is stored sanitized);
- a page of 250 comments goes in with `batch_size = 1000`: the Worker says its limit
  (413 with `max_batch`, and `X-Batch-Limit`), and the tool splits.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from migrate.content import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, sanitize_html
from migrate.model import Page
from tests.factories import comment, make_archive
from tests.migration_helpers import invoke, write_config
from tests.servers.workerd import WorkerServer

HOSTILE = [
    "<script>alert(1)</script><p>after</p>",
    '<p>hi <a href="javascript:alert(1)">x</a><img src=x onerror=alert(2)></p>',
    '<a href="jav&#x61;script:alert(3)">entity</a>',
    '<a href="javascript&colon;alert(4)">named entity</a>',
    '<a href="&#106avascript:alert(5)">no semicolon</a>',
    '<a href="  java\tscript:alert(6)">tab</a>',
    '<iframe src="https://evil.example/"></iframe><b>bold</b>',
    "<svg onload=alert(7)><script>alert(8)</script></svg>",
    '<img/src="x"/onerror=alert(9)>',
    "<scr<script>ipt>alert(10)</script>",
    '<div style="background:url(javascript:alert(11))" onclick="alert(12)">d</div>',
    "<!--><script>alert(13)</script>-->",
    '<a href="data:text/html;base64,PHNjcmlwdD4=">data</a>',
    "<p x='<script>alert(14)</script>'>quoted</p>",
    '<form action="https://evil.example/"><input name="q"><button>go</button></form>',
    '<style>*{display:none}</style><object data="x"></object><embed src="x">',
    "<math><mi xlink:href='javascript:alert(15)'>m</mi></math>",
    '<img src="https://ok.example/a.png" alt="a" onmouseover="alert(16)">',
    "<p>unclosed <b>tags <i>everywhere",
    '<a title="a>b" href="https://ok.example/?a=1&amp;b=2">quoted gt</a>',
    "<base href='https://evil.example/'><meta http-equiv=refresh content='0;url=x'>",
    "<noscript><p title='</noscript><img src=x onerror=alert(17)>'></noscript>",
]
BENIGN = [
    "<p>Hello <strong>world</strong> &amp; friends &lt;3</p>",
    '<p><a href="https://example.org/x?a=1&amp;b=2">link</a> and <em>more</em></p>',
    '<p><img src="https://example.org/i.png" alt="pic" title="pic"></p>',
    "<blockquote><p>quoted</p></blockquote><ul><li>one</li><li>two</li></ul>",
    '<pre><code class="language-python">print("&lt;hi&gt;")\n</code></pre>',
    '<table><tbody><tr><td colspan="2">cell</td></tr></tbody></table>',
]


class Found(HTMLParser):
    """Every tag, attribute and comment a browser's tokenizer finds in a string."""

    def __init__(self, value: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str]]]] = []
        self.comments: list[str] = []
        self.feed(value)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, [(name, value or "") for name, value in attrs]))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def assert_allowlisted(html: str) -> None:
    found = Found(html)
    assert not found.comments, html
    for tag, attrs in found.tags:
        assert tag in ALLOWED_TAGS, (tag, html)
        for name, value in attrs:
            allowed = ALLOWED_ATTRIBUTES.get(tag, set()) | ({"rel"} if tag == "a" else set())
            assert name in allowed, (tag, name, html)
            if name in ("href", "src"):
                url = "".join(ch for ch in value if ord(ch) > 0x20).lower()
                scheme = url.split(":", 1)[0] if ":" in url.split("/", 1)[0] else ""
                assert scheme in ("", "http", "https", "mailto"), (value, html)


def body(page_id: str, source_id: str, html: str) -> dict[str, Any]:
    return {
        "page": {"id": page_id, "uri": f"/{page_id}/", "title": "T"},
        "parent_id": None,
        "author": {"name": "Mallory", "source_id": "@m:x", "avatar_url": None},
        "text": "text",
        "html": html,
        "created_at": "2020-01-02T03:04:05Z",
        "source": {"system": "attack", "id": source_id, "parent_id": None},
        "idempotency_key": f"attack:{source_id}",
    }


def served(worker: WorkerServer, page_id: str) -> list[str | None]:
    thread = worker.call("GET", "/threads", params={"page_id": page_id}, token=None).json()
    return [c["html"] for c in thread["comments"]]


def test_the_public_thread_serves_only_allowlisted_html(worker: WorkerServer) -> None:
    page = f"attack-{uuid.uuid4().hex[:8]}"
    items = [body(page, f"h{n}", html) for n, html in enumerate(HOSTILE)]
    stored = worker.call("POST", "/comments/batch", body={"comments": items})
    assert stored.status_code == 200 and all("id" in r for r in stored.json()["results"])
    out = served(worker, page)
    assert len(out) == len(HOSTILE)
    for html in out:
        if html is not None:
            assert_allowlisted(html)
            assert "<script" not in html.lower() and "javascript" not in html.lower()
    kept = dict(zip(HOSTILE, out, strict=True))
    assert kept[HOSTILE[0]] == "<p>after</p>"
    assert kept[HOSTILE[6]] == "<b>bold</b>"
    assert kept[HOSTILE[18]] == "<p>unclosed <b>tags <i>everywhere</i></b></p>"


def test_random_mixes_of_hostile_fragments_come_out_allowlisted(worker: WorkerServer) -> None:
    """Fragments of the payloads above, cut and joined at random (seeded): whatever the
    input's syntax, what is served parses to allowlisted tags, attributes and links."""
    rng = random.Random(20)
    pieces = [p for html in HOSTILE for p in re.split(r"(?=[<>\"'= ])", html) if p]
    page = f"fuzz-{uuid.uuid4().hex[:8]}"
    mixes = ["".join(rng.choice(pieces) for _ in range(rng.randint(2, 12))) for _ in range(200)]
    for start in (0, 100):
        items = [body(page, f"z{start + n}", html) for n, html in enumerate(mixes[start:][:100])]
        answer = worker.call("POST", "/comments/batch", body={"comments": items})
        assert answer.status_code == 200, answer.text
    out = served(worker, page)
    assert len(out) == 200
    for html in out:
        if html is not None:
            assert_allowlisted(html)
            assert "<script" not in html.lower()


def test_html_the_tool_sanitized_comes_out_as_it_went_in(worker: WorkerServer) -> None:
    page = f"benign-{uuid.uuid4().hex[:8]}"
    clean = [sanitize_html(html) for html in BENIGN]
    items = [body(page, f"b{n}", html) for n, html in enumerate(clean) if html]
    assert worker.call("POST", "/comments/batch", body={"comments": items}).status_code == 200
    assert served(worker, page) == clean


def test_the_tool_sanitizes_an_archives_html_before_the_target_sees_it(
    worker: WorkerServer, tmp_path: Path
) -> None:
    page = Page(id=f"archive-{uuid.uuid4().hex[:8]}", key="/archive/", title="A")
    site = {page: [comment(f"a{n}", page=page.id, html=html) for n, html in enumerate(HOSTILE)]}
    archive = make_archive(tmp_path / "site.jsonl", site)
    config = write_config(
        tmp_path,
        archive=archive,
        target={"type": "http", "url": worker.url, "token_env": "WORKER_TOKEN"},
    )
    result = invoke("-q", "run", "-c", str(config), env={"WORKER_TOKEN": worker.token})
    assert result.exit_code == 0, result.output
    stored = {c["source"]["id"]: c["html"] for c in worker.list_page(page.id)}  # as D1 holds it
    assert stored == {f"a{n}": sanitize_html(html) for n, html in enumerate(HOSTILE)}
    assert stored["a0"] == "<p>after</p>"
    for html in stored.values():
        if html is not None:
            assert_allowlisted(html)


def test_a_batch_over_the_workers_limit_is_a_413_that_says_the_limit(
    worker: WorkerServer,
) -> None:
    page = f"limit-{uuid.uuid4().hex[:8]}"
    items = [body(page, f"l{n}", "<p>x</p>") for n in range(101)]
    answer = worker.call("POST", "/comments/batch", body={"comments": items})
    assert answer.status_code == 413
    assert answer.json()["max_batch"] == 100
    assert answer.headers["X-Batch-Limit"] == "100"
    assert worker.list_page(page) == []  # nothing of it was stored


def test_a_page_of_250_comments_goes_in_with_batch_size_1000(
    worker: WorkerServer, tmp_path: Path
) -> None:
    page = Page(id=f"big-{uuid.uuid4().hex[:8]}", key="/big/", title="Big")
    # 200 top-level comments are ready at once: the first request holds all of them
    top = [comment(f"t{n}", page=page.id, minute=n) for n in range(200)]
    replies = [comment(f"r{n}", f"t{n}", page=page.id, minute=300 + n) for n in range(50)]
    site = {page: top + replies}
    archive = make_archive(tmp_path / "site.jsonl", site)
    config = write_config(
        tmp_path,
        archive=archive,
        target={"type": "http", "url": worker.url, "token_env": "WORKER_TOKEN", "batch_size": 1000},
        run={"workers": 1},
    )
    env = {"WORKER_TOKEN": worker.token}
    result = invoke("-q", "run", "-c", str(config), "--json", env=env)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["comments_imported"] == 250
    held = worker.list_page(page.id)
    assert len(held) == 250 and len({c["source"]["id"] for c in held}) == 250
    assert invoke("-q", "verify", "-c", str(config), env=env).exit_code == 0


@pytest.mark.parametrize("html", HOSTILE)
def test_the_pipelines_sanitizer_keeps_to_the_same_allowlist(html: str) -> None:
    cleaned = sanitize_html(html)
    if cleaned is not None:
        assert_allowlisted(cleaned)
