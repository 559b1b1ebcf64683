"""One request at a time (page-atomic and arrival-ordered targets): the page's comments go in
send order, each outcome recorded as it comes back; a refused comment's replies hang under
its nearest kept ancestor; a page whose source has a parent cycle takes the general schedule.
And the records made for every comment: frozen, made quickly, as dataclass made them."""

from __future__ import annotations

import dataclasses
import errno
import inspect
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from migrate import ArchiveSource, JsonlTarget, Migration, RunOptions
from migrate.model import Author, Comment, Created, OutgoingComment, Page
from migrate.testing.factories import ListSource, comment, make_archive, page


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


def test_a_parent_cycle_from_the_source_still_sends_every_comment_once(tmp_path: Path) -> None:
    # a plugin source may hand over a cycle (the built-in ones refuse it): the in-order path
    # cannot take it (a comment comes before its parent); the general schedule sends the
    # cycle's first comment in send order at the top level, the others under it
    site = {
        page("post1"): [
            comment("$x", "$y", minute=0),
            comment("$y", "$x", minute=1),
            comment("$z", "$y", minute=2),
        ]
    }
    records = run_into_jsonl(tmp_path, site)
    ids = {r["source"]["id"]: r["id"] for r in records}
    parents = {r["source"]["id"]: r["parent_id"] for r in records}
    assert sorted(ids) == ["$x", "$y", "$z"]
    assert parents == {"$x": None, "$y": ids["$x"], "$z": ids["$y"]}


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


def test_a_page_whose_fsync_fails_after_the_next_page_began_fails_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # between local files a page's fsync goes on while the next page is worked; when it
    # fails, that page is cut off the file and fails, the next one is written as usual, and
    # nothing of it reached the checkpoint before its fsync (a disk's fault: not producible)
    site = {
        page(f"post{n}"): [comment(f"$p{n}c{i}", page=f"post{n}", minute=i) for i in range(3)]
        for n in range(3)
    }
    output = tmp_path / "out.jsonl"
    real_fsync, calls = os.fsync, list[str]()

    def fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}") == str(output):
            calls.append(threading.current_thread().name)
            if len(calls) == 2:  # the second page's (the first one made the file)
                raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    archive = make_archive(tmp_path / "site.archive.jsonl", site)
    checkpoint = tmp_path / "cp.json"
    first = Migration(ArchiveSource(archive), JsonlTarget(output), checkpoint=checkpoint)
    summary = first.run(RunOptions(quiet=True))
    assert [f["page_id"] for f in summary.failed_pages] == ["post1"]
    # the file's first page was made with its folder's fsync, the others' went on aside
    assert len(calls) == 3 and all(name.startswith("fsync") for name in calls[1:]), calls
    assert "Input/output error" in summary.failed_pages[0]["error"]
    held = [json.loads(line)["source"]["id"] for line in output.read_text("utf-8").splitlines()]
    assert held == ["$p0c0", "$p0c1", "$p0c2", "$p2c0", "$p2c1", "$p2c2"]
    monkeypatch.setattr(os, "fsync", real_fsync)
    again = Migration(ArchiveSource(archive), JsonlTarget(output), checkpoint=checkpoint)
    summary = again.run(RunOptions(quiet=True))
    assert not summary.failed_pages and summary.comments_imported == 3
    held = [json.loads(line)["source"]["id"] for line in output.read_text("utf-8").splitlines()]
    assert sorted(held) == sorted(c.id for cs in site.values() for c in cs)


def test_a_commits_wait_is_for_its_own_fsync_not_the_next_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tmp_path / "out.jsonl"
    target = JsonlTarget(output)
    real_fsync, hold = os.fsync, threading.Event()
    released = threading.Event()

    def fsync(fd: int) -> None:
        if hold.is_set() and os.readlink(f"/proc/self/fd/{fd}") == str(output):
            released.wait(30)  # the disk is slow for this one
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)

    def commit(n: int) -> Callable[[], None]:
        pg = page(f"post{n}")
        target.begin_page(pg)
        out = OutgoingComment(comment(f"$c{n}"), pg, None, None, "text", None, f"t:$c{n}")
        target.create(out)
        return target.commit_later(pg)

    commit(0)()  # makes the file
    second = commit(1)
    hold.set()
    third = commit(2)  # waits for the second's fsync, then its own goes on (held)
    waited = threading.Thread(target=second)
    waited.start()
    waited.join(10)
    assert not waited.is_alive(), "the second page's wait waited for the third's fsync"
    released.set()
    third()
    target.close()
    held = [json.loads(line)["source"]["id"] for line in output.read_text("utf-8").splitlines()]
    assert held == ["$c0", "$c1", "$c2"]
