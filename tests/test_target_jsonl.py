"""JsonlTarget: its records, and the capabilities override used by --dry-run."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import pytest

from migrate.abilities import CommentRefused
from migrate.model import Author, Page
from migrate.systems.isso.target import IssoTarget
from migrate.systems.jsonl.target import JsonlTarget
from tests.test_target_http import PAGE, outgoing


def test_records(tmp_path: Path) -> None:
    target = JsonlTarget(tmp_path / "out.jsonl")
    target.begin_page(PAGE)
    top = target.create(outgoing("$a", "first"))
    target.create(outgoing("$b", "second", parent=("$a", top.target_id)))
    target.finish_page(PAGE)
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert records[1] == {
        "page": {"id": "post1", "uri": "/blog/post1/", "title": "Post one"},
        "id": "2",
        "parent_id": "1",
        "author": {
            "name": "alice",
            "source_id": "@alice:example.org",
            "avatar_url": "mxc://example.org/a",
            "email": None,  # kept where the source has it (WXR and Disqus files hold it)
            "url": None,
        },
        "text": "second",
        "html": "<p>second</p>",
        "created_at": "2019-05-06T07:08:09Z",
        "source": {"system": "matrix", "id": "$b", "parent_id": "$a"},
        "deleted": False,
        "status": "approved",
        "batch": 1,
        "batch_size": 2,
    }
    assert target.identity() == {"output": str((tmp_path / "out.jsonl").resolve())}


def test_dry_run_plans_for_another_target(tmp_path: Path) -> None:
    isso = IssoTarget("http://127.0.0.1:9").capabilities
    target = JsonlTarget(tmp_path / "plan.jsonl", capabilities=isso)
    caps = target.capabilities
    assert (caps.max_depth, caps.content, caps.min_text_length) == (1, "markdown", 3)
    assert caps.page_atomic and caps.can_delete and caps.idempotency == "none"
    assert target.check(outgoing("$a", "ab ")) is not None
    assert target.check(outgoing("$a", "abc")) is None
    assert JsonlTarget(tmp_path / "any.jsonl").check(outgoing("$a", "")) is None


def test_records_hold_only_what_a_file_can(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A lone surrogate (valid JSON, not UTF-8) or a control character is removed and logged
    with the comment's id; an avatar that is no http(s)/mxc URL is dropped; HTML sanitized."""
    odd_page = Page(id="p\ud800", key="/p/", title="T\x07itle \udfff")
    comment = outgoing("$a", "ok\x1b[31m \ud800", page=odd_page)
    comment = dataclasses.replace(
        comment,
        html='<p onmouseover="x()">ok</p><script>alert(1)</script>',
        source=dataclasses.replace(
            comment.source, author=Author("Ann\x00", "@ann:example.org", "javascript:alert(1)")
        ),
    )
    target = JsonlTarget(tmp_path / "out.jsonl")
    with caplog.at_level(logging.WARNING):
        target.begin_page(odd_page)
        target.create(comment)
        target.finish_page(odd_page)
    record = json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8"))
    assert record["page"] == {"id": "p", "uri": "/p/", "title": "Title "}
    assert record["text"] == "ok[31m "
    assert record["html"] == "<p>ok</p>"
    assert record["author"] == {
        "name": "Ann",
        "source_id": "@ann:example.org",
        "avatar_url": None,
        "email": None,
        "url": None,
    }
    logged = caplog.text
    assert (
        "comment $a: removed from its text characters a file cannot hold: U+001B, U+D800" in logged
    )
    assert "comment $a: avatar URL dropped" in logged


def test_a_comment_left_empty_by_the_removal_is_refused(tmp_path: Path) -> None:
    target = JsonlTarget(tmp_path / "out.jsonl")
    empty = dataclasses.replace(outgoing("$a", "\x01\x02 \ufffe"), html="<p>\x01\x02</p>")
    reason = target.check(empty)
    assert reason is not None and "U+0001, U+0002, U+FFFE" in reason
    target.begin_page(PAGE)
    with pytest.raises(CommentRefused, match="nothing left"):
        target.create(empty)
    target.finish_page(PAGE)
    assert not (tmp_path / "out.jsonl").exists()
    # an image-only comment is not empty
    image = dataclasses.replace(outgoing("$b", "\x01"), html='<img src="https://e.org/a.png">')
    assert target.check(image) is None
