"""File targets keep their pages, not their comments, in memory (migrate/files/base.py):
a run of a million comments into JSONL must not hold them all."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from migrate.model import Page
from migrate.systems.jsonl.target import JsonlTarget
from migrate.systems.wordpress.wxr import WxrTarget
from tests.test_target_wxr import T1, out

TEXT = "x" * 1000


def fill(target: JsonlTarget | WxrTarget, pages: int, per_page: int) -> list[Page]:
    written = []
    for p in range(pages):
        page = Page(id=f"p{p}", key=f"/p{p}/", title=f"Page {p}")
        target.begin_page(page)
        for c in range(per_page):
            target.create(out(f"c{p}-{c}", T1, f"{TEXT} {c}", page=page))
        target.finish_page(page)
        written.append(page)
    return written


def test_committed_comments_are_not_held_in_memory(tmp_path: Path) -> None:
    target = JsonlTarget(tmp_path / "out.jsonl")
    tracemalloc.start()
    try:
        pages = fill(target, 100, 50)  # 5,000 comments, over 5 MB on disk
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (tmp_path / "out.jsonl").stat().st_size > 5_000_000
    assert held < 1_000_000, f"{held} bytes held after writing"
    # and everything is still there to read back, reconcile and delete
    assert len(target.list_page(pages[7])) == 50
    assert target.by_source("p7")["c7-3"] == target.list_page(pages[7])[3].target_id
    victim = target.list_page(pages[7])[0].target_id
    assert target.delete(victim, pages[7])
    assert len(target.list_page(pages[7])) == 49 and len(target.list_page(pages[8])) == 50
    target.close()
    again = JsonlTarget(tmp_path / "out.jsonl")
    assert len(again.list_page(pages[7])) == 49
    assert sum(len(again.list_page(p)) for p in pages) == 4999


def test_a_derived_file_is_rebuilt_from_the_store(tmp_path: Path) -> None:
    target = WxrTarget(tmp_path / "out.wxr", rebuild_interval=3600)
    fill(target, 3, 2)
    target.close()
    assert (tmp_path / "out.wxr").read_text("utf-8").count("<wp:comment>") == 6
