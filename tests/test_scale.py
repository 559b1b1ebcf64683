"""Scale: a deep reply chain goes out parent first at a cost linear in its depth, and a page's
mappings are read from the checkpoint only when that page is worked on."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from migrate import ArchiveSource, JsonlTarget, Migration, RunOptions
from migrate.model import Comment
from migrate.pipeline.ledger import PageLedger
from migrate.pipeline.orchestrator import Orchestrator
from migrate.pipeline.result import PageResult
from migrate.pipeline.sender import PageSender, SendPool
from migrate.pipeline.transform import CommentTransformer, PagePlan
from migrate.reporter import Reporter, RunSummary
from tests.factories import comment, make_archive, page
from utils.checkpoint.formats import encode_line
from utils.checkpoint.mappings import SourceIndex
from utils.checkpoint.snapshot import reseal_snapshot_bytes
from utils.checkpoint_manager import (
    SCHEMA_VERSION,
    CheckpointManager,
    MappingConflict,
    journal_path,
    read_checkpoint,
)


def chain(depth: int, pid: str = "post1") -> list[Comment]:
    """One reply chain: comment i answers comment i - 1."""
    return [
        comment(f"$c{i}", f"$c{i - 1}" if i else None, minute=i, page=pid) for i in range(depth)
    ]


def test_a_deep_chain_is_sent_parent_before_child(tmp_path: Path) -> None:
    depth = 3000
    archive = make_archive(tmp_path / "a.jsonl", {page(): chain(depth)})
    out = tmp_path / "out.jsonl"
    summary = Migration(
        ArchiveSource(archive), JsonlTarget(out), checkpoint=tmp_path / "cp.json"
    ).run(RunOptions(quiet=True))
    assert summary.comments_imported == depth
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["source"]["id"] for r in records] == [f"$c{i}" for i in range(depth)]
    seen: set[str] = set()
    for record in records:  # every reply's parent is already in the file, under its new id
        assert record["parent_id"] is None or record["parent_id"] in seen
        seen.add(record["id"])


class CountingDict(dict[str, Comment]):
    """A page plan's comments by id, counting the look-ups made in it."""

    lookups = 0

    def __getitem__(self, key: str) -> Comment:
        CountingDict.lookups += 1
        return super().__getitem__(key)


def test_the_sender_looks_at_each_comment_of_a_chain_a_bounded_number_of_times(
    tmp_path: Path,
) -> None:
    depth = 2000
    comments = chain(depth)
    target = JsonlTarget(tmp_path / "out.jsonl")
    with CheckpointManager(tmp_path / "cp.json") as cp:
        plan = PagePlan(CommentTransformer(target.capabilities, system="matrix"), page(), comments)
        plan.by_id = CountingDict(plan.by_id)
        CountingDict.lookups = 0
        ledger = PageLedger.open(cp, "post1", buffered=True)
        target.begin_page(plan.page)
        sender = PageSender(
            target,
            SendPool(1),
            plan,
            ledger,
            PageResult("post1", "complete"),
            reporter=Reporter(quiet=True),
            stop=threading.Event(),
        )
        sender.send_all()
        target.finish_page(plan.page)
        ledger.commit()
        # walking every comment's ancestors again costs depth^2 / 2 = 2,000,000 look-ups
        assert CountingDict.lookups < 20 * depth, CountingDict.lookups
        assert len(cp.state.get_page_mappings("post1")) == depth


def site(pages: int, per_page: int) -> dict[Any, list[Comment]]:
    return {
        page(f"post{p}"): [
            comment(f"$p{p}c{i}", f"$p{p}c{i - 1}" if i % 3 else None, minute=i, page=f"post{p}")
            for i in range(per_page)
        ]
        for p in range(pages)
    }


def run_pages(archive: Path, out: Path, checkpoint: CheckpointManager) -> RunSummary:
    source = ArchiveSource(archive)
    return Orchestrator(source, JsonlTarget(out), checkpoint, workers=2).run(list(source.pages()))


def test_a_rerun_reads_no_mappings_of_a_complete_page(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "a.jsonl", site(5, 20))
    with CheckpointManager(tmp_path / "cp.json") as cp:
        assert run_pages(archive, tmp_path / "out.jsonl", cp).comments_imported == 100
    with CheckpointManager(tmp_path / "cp.json") as cp:
        cp.mark_page_in_progress("post3")  # as a crash leaves it: this page is worked on again
        summary = run_pages(archive, tmp_path / "out.jsonl", cp)
        assert (summary.pages_skipped, summary.comments_imported) == (4, 0)
        assert cp.state.mappings.reads == 1  # post3's own, none of the four complete pages
        assert cp.state.mapping_count() == 100


def test_a_look_up_by_source_id_reads_the_one_page_that_holds_it(tmp_path: Path) -> None:
    with CheckpointManager(tmp_path / "cp.json") as cp:
        for p in range(50):
            cp.add_id_mappings([(f"$p{p}c{i}", f"{p}-{i}", f"post{p}", None) for i in range(10)])
        cp.add_id_mapping("$alone", "x1", "post7")
        cp.compact()
        cp.add_id_mapping("$late", "x2", "post7")
    with CheckpointManager(tmp_path / "cp.json") as cp:
        state = cp.state
        assert state.mappings.reads == 0 and state.mapping_count() == 502
        assert state.get_new_comment_id("$p31c4") == "31-4"
        assert state.get_new_comment_id("$nowhere") is None
        assert state.mappings.reads == 1
        assert state.get_page_mappings("post7")[-2:] == [("$alone", "x1"), ("$late", "x2")]
        assert state.mappings.reads == 2
        with pytest.raises(MappingConflict):
            cp.add_id_mapping("$p31c4", "another")


def journal_kinds(checkpoint: Path) -> list[str]:
    lines = journal_path(checkpoint).read_text().splitlines()[1:]
    return [json.loads(line)["kind"] for line in lines]


def test_a_page_atomic_target_journals_a_page_s_mappings_in_one_record(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "a.jsonl", site(3, 30))
    with CheckpointManager(tmp_path / "cp.json", compact_threshold=10_000) as cp:
        run_pages(archive, tmp_path / "out.jsonl", cp)
        cp.close(compact=False)
    kinds = journal_kinds(tmp_path / "cp.json")
    assert kinds.count("map_page") == 3 and "map" not in kinds
    with CheckpointManager(tmp_path / "cp.json") as cp:
        assert cp.state.mapping_count() == 90
        assert cp.get_new_comment_id("$p2c29") is not None


def test_a_version_2_checkpoint_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    with CheckpointManager(path) as cp:
        cp.add_id_mappings([(f"$c{i}", str(i), "post1", None) for i in range(3)])
        cp.compact()
        cp.add_id_mapping("$d", "9", "post2")
        cp.close(compact=False)
    # written as version 2 wrote it: the same layout, version 2, a version-2 journal header
    snapshot = path.read_text().replace('"version": 3,', '"version": 2,')
    path.write_bytes(reseal_snapshot_bytes(snapshot.encode()))
    journal = journal_path(path).read_bytes().split(b"\n")
    head = json.loads(journal[0])
    del head["crc"]
    journal[0] = encode_line({**head, "version": 2}).rstrip(b"\n")
    journal_path(path).write_bytes(b"\n".join(journal))
    assert read_checkpoint(path).get_new_comment_id("$d") == "9"
    with CheckpointManager(path) as cp:
        assert cp.state.get_page_mappings("post1") == [("$c0", "0"), ("$c1", "1"), ("$c2", "2")]
        assert cp.get_new_comment_id("$d") == "9"
    assert json.loads(path.read_text())["version"] == SCHEMA_VERSION == 3
    assert path.with_name("cp.json.v2.bak").exists()


def test_source_ids_whose_hashes_collide_are_told_apart_by_their_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a 41-bit hash of a million ids collides now and then; here every id collides
    monkeypatch.setattr(SourceIndex, "_key", staticmethod(lambda source_id: len(source_id) % 2))
    with CheckpointManager(tmp_path / "cp.json") as cp:
        for p in range(4):
            cp.add_id_mappings([(f"$p{p}c{i}", f"{p}-{i}", f"post{p}", None) for i in range(5)])
        cp.compact()
        cp.add_id_mapping("$p9c9", "late", "post2")
    with CheckpointManager(tmp_path / "cp.json") as cp:
        assert cp.state.mapping_count() == 21
        assert cp.get_new_comment_id("$p3c4") == "3-4"
        assert cp.get_new_comment_id("$p9c9") == "late"
        assert cp.get_new_comment_id("$p9c8") is None
        with pytest.raises(MappingConflict):
            cp.add_id_mapping("$p0c0", "other", "post3")


def test_the_index_filter_never_hides_a_mapped_source_id() -> None:
    """Ids never mapped are answered by the filter's clear bit; every mapped one, and ids
    whose bits only collide with a mapped one, are looked up in their bucket."""
    index = SourceIndex()
    mapped = [f"$c{i}:example.org" for i in range(20_000)]
    for number, source_id in enumerate(mapped):
        index.add(source_id, number % 1000)
    assert all(index.pages(s) == [n % 1000] for n, s in enumerate(mapped))
    assert all(index.pages(f"$new{i}:example.org") == [] for i in range(20_000))


def test_a_rerun_does_not_read_the_comments_of_a_complete_page(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "a.jsonl", site(3, 10))
    with CheckpointManager(tmp_path / "cp.json") as cp:
        assert run_pages(archive, tmp_path / "out.jsonl", cp).comments_imported == 30
    lines = archive.read_text().splitlines()
    at = next(n for n, line in enumerate(lines) if '"id": "$p1c4"' in line)
    lines[at] = lines[at].replace('"created_at": "', '"created_at": "not a time ')
    archive.write_text("".join(line + "\n" for line in lines))
    with CheckpointManager(tmp_path / "cp.json") as cp:
        # post1 is complete: its damaged line is never parsed, and nothing is read again
        summary = run_pages(archive, tmp_path / "out.jsonl", cp)
        assert (summary.pages_skipped, summary.comments_imported) == (3, 0)
        cp.mark_page_in_progress("post1")
        summary = run_pages(archive, tmp_path / "out.jsonl", cp)
        assert summary.pages_failed == 1  # read now, and named: file and line
        assert f"a.jsonl:{at + 1}: schema violation at created_at" in str(
            cp.state.get_page("post1")
        )
