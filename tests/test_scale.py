"""Scale: a deep reply chain goes out parent first at a cost linear in its depth, and a page's
mappings are read from the checkpoint only when that page is worked on."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from migrate import ArchiveSource, JsonlTarget, Migration, RunOptions
from migrate.model import Comment
from migrate.pipeline.ledger import PageLedger
from migrate.pipeline.result import PageResult
from migrate.pipeline.sender import PageSender, SendPool
from migrate.pipeline.transform import CommentTransformer, PagePlan
from migrate.reporter import Reporter
from tests.factories import comment, make_archive, page
from utils.checkpoint_manager import CheckpointManager


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
