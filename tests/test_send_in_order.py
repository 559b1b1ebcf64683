"""One request at a time (page-atomic and arrival-ordered targets): the page's comments go in
send order, each outcome recorded as it comes back; a refused comment's replies hang under
its nearest kept ancestor; a page whose source has a parent cycle takes the general schedule.
And the records made for every comment: frozen, made quickly, as dataclass made them."""

from __future__ import annotations

import dataclasses
import inspect
import json
from pathlib import Path
from typing import Any

import pytest

from migrate import JsonlTarget, Migration, RunOptions
from migrate.model import Author, Comment, Created, OutgoingComment, Page
from migrate.testing.factories import ListSource, comment, page


def run_into_jsonl(tmp_path: Path, site: dict[Page, list[Comment]]) -> list[dict[str, Any]]:
    output = tmp_path / "out.jsonl"
    migration = Migration(ListSource(site), JsonlTarget(output), checkpoint=tmp_path / "cp.json")
    summary = migration.run(RunOptions(quiet=True))
    assert not summary.failed_pages
    return [json.loads(line) for line in output.read_text("utf-8").splitlines()]


def test_a_refused_comments_reply_hangs_under_its_nearest_kept_ancestor(tmp_path: Path) -> None:
    site = {
        page("post1"): [
            comment("$a", minute=0),
            comment("$b", "$a", minute=1, author="bob", text="\x01\x02"),  # nothing writable
            comment("$c", "$b", minute=2, author="carol"),
            comment("$d", "$c", minute=3),
        ]
    }
    records = run_into_jsonl(tmp_path, site)
    by_source = {r["source"]["id"]: r for r in records}
    assert list(by_source) == ["$a", "$c", "$d"]  # send order, $b refused
    assert by_source["$c"]["parent_id"] == by_source["$a"]["id"]
    assert by_source["$d"]["parent_id"] == by_source["$c"]["id"]


def test_a_parent_cycle_from_the_source_fails_its_page_and_writes_none_of_it(
    tmp_path: Path,
) -> None:
    # a plugin source may hand over a cycle (the built-in ones refuse it): the in-order path
    # cannot take it (a comment comes before its parent); the general schedule fails the
    # page, naming the comment, and the other pages are written
    site = {
        page("post1"): [comment("$x", "$y", minute=0), comment("$y", "$x", minute=1)],
        page("post2"): [comment("$ok", page="post2")],
    }
    output = tmp_path / "out.jsonl"
    migration = Migration(ListSource(site), JsonlTarget(output), checkpoint=tmp_path / "cp.json")
    summary = migration.run(RunOptions(quiet=True))
    assert summary.failed_pages == [{"page_id": "post1", "error": "parent $y of $x was not sent"}]
    records = [json.loads(line) for line in output.read_text("utf-8").splitlines()]
    assert [r["source"]["id"] for r in records] == ["$ok"]


RECORDS = [
    (Author, {"name": "a", "source_id": "@a", "email": "a@example.org"}),
    (
        Comment,
        {
            "id": "$1",
            "page_id": "p",
            "parent_id": None,
            "author": Author("a", "@a"),
            "text": "t",
            "created_at": comment("$1").created_at,
            "likes": 3,
        },
    ),
    (Created, {"target_id": "7", "already_existed": True}),
]


@pytest.mark.parametrize(("cls", "values"), RECORDS, ids=lambda v: getattr(v, "__name__", ""))
def test_records_made_quickly_are_what_dataclass_makes_and_stay_frozen(
    cls: type, values: dict[str, object]
) -> None:
    made = cls(**values)
    every = {f.name: getattr(made, f.name) for f in dataclasses.fields(made)}
    # the same fields and defaults as the dataclass's own __init__ gives
    plain = dataclasses.make_dataclass(
        "Plain",
        [(f.name, object, dataclasses.field(default=f.default)) for f in dataclasses.fields(cls)],
    )
    made_plainly = plain(**values)
    assert every == {f.name: getattr(made_plainly, f.name) for f in dataclasses.fields(plain)}
    assert made == cls(**values) and hash(made) == hash(cls(**values))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.__setattr__(dataclasses.fields(made)[0].name, "changed")
    assert dataclasses.replace(made) == made
    names = [p.name for p in inspect.signature(cls).parameters.values()]
    assert names == [f.name for f in dataclasses.fields(cls)]


def test_an_outgoing_comment_keeps_its_keyword_and_positional_fields() -> None:
    source = comment("$1")
    out = OutgoingComment(source, page("p"), None, None, "text", None, idempotency_key="k")
    assert (out.source, out.text, out.idempotency_key, out.html) == (source, "text", "k", None)
    with pytest.raises(TypeError):
        OutgoingComment(source, page("p"), None, None, "text")  # type: ignore[call-arg]
