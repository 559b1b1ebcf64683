"""Page atomicity of the file targets (jsonl, wxr, disqus, commento, remark42, artalk): a
page is in the file whole or not at all, whatever happens: abort, a torn write, SIGKILL at
any instant, concurrent workers."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from migrate.abilities import Target
from migrate.errors import TargetError
from migrate.files.base import PageAtomicFileTarget
from migrate.model import Page
from migrate.systems.artalk import ArtalkTarget
from migrate.systems.commento import CommentoTarget
from migrate.systems.disqus.target import DisqusTarget
from migrate.systems.jsonl.target import JsonlTarget
from migrate.systems.remark42 import Remark42Target
from migrate.systems.wordpress.wxr import WxrTarget
from tests.test_target_http import outgoing

ROOT = Path(__file__).resolve().parents[1]

Factory = Callable[[Path], PageAtomicFileTarget]
FACTORIES: dict[str, Factory] = {
    "jsonl": lambda d: JsonlTarget(d / "out.jsonl"),
    "wxr": lambda d: WxrTarget(d / "out.wxr", rebuild_interval=0),
    "disqus": lambda d: DisqusTarget(d / "out.xml", rebuild_interval=0),
    "commento": lambda d: CommentoTarget(d / "out.json.gz", rebuild_interval=0),
    "remark42": lambda d: Remark42Target(
        d / "out.gz", rebuild_interval=0, site_url="https://blog.example.org"
    ),
    "artalk": lambda d: ArtalkTarget(
        d / "out.json", rebuild_interval=0, settings={"site_name": "Blog"}
    ),
}


@pytest.fixture(params=sorted(FACTORIES))
def make(request: pytest.FixtureRequest) -> Factory:
    return FACTORIES[request.param]


def page(n: int) -> Page:
    return Page(id=f"p{n}", key=f"/p{n}/", title=f"Page {n}")


def write_page(target: PageAtomicFileTarget, n: int, count: int) -> list[str]:
    p = page(n)
    target.begin_page(p)
    ids: list[str] = []
    for k in range(count):
        parent = (f"$p{n}c0", ids[0]) if k else None
        ids.append(
            target.create(outgoing(f"$p{n}c{k}", f"text {n}/{k}", parent=parent, page=p)).target_id
        )
    target.finish_page(p)
    return ids


def test_protocol_and_ids(make: Factory, tmp_path: Path) -> None:
    target = make(tmp_path)
    assert isinstance(target, Target)
    assert target.capabilities.page_atomic and target.capabilities.can_delete
    assert write_page(target, 1, 3) == ["1", "2", "3"]
    listed = target.list_page(page(1))
    assert [(c.target_id, c.parent_target_id, c.source_id) for c in listed] == [
        ("1", None, "$p1c0"),
        ("2", "1", "$p1c1"),
        ("3", "1", "$p1c2"),
    ]
    assert listed[0].created_at is not None and listed[0].author_name == "alice"
    target.close()
    again = make(tmp_path)  # a restart continues the numbering
    assert write_page(again, 2, 2) == ["4", "5"]


def test_nothing_before_finish_and_abort_discards(make: Factory, tmp_path: Path) -> None:
    target = make(tmp_path)
    write_page(target, 1, 1)
    size = target.store.stat().st_size
    p = page(2)
    target.begin_page(p)
    target.create(outgoing("$x", page=p))
    assert target.list_page(p) == [] and target.store.stat().st_size == size
    target.abort_page(p)
    target.finish_page(p)  # a finish after an abort commits nothing
    target.close()
    reopened = make(tmp_path)
    assert reopened.list_page(p) == [] and reopened.store.stat().st_size == size


def test_reconcile_from_the_file(make: Factory, tmp_path: Path) -> None:
    target = make(tmp_path)
    ids = write_page(target, 1, 2)
    pending = [outgoing("$p1c1", page=page(1)), outgoing("$new", page=page(1))]
    assert make(tmp_path).reconcile(page(1), pending) == {"$p1c1": ids[1]}
    assert make(tmp_path).reconcile(page(2), pending) == {}


def test_a_page_finished_twice_is_merged(make: Factory, tmp_path: Path) -> None:
    target = make(tmp_path)
    write_page(target, 1, 1)
    p = page(1)  # crash after the commit, before the checkpoint: the page is sent again
    target.begin_page(p)
    target.create(outgoing("$late", page=p))
    target.finish_page(p)
    assert [c.source_id for c in make(tmp_path).list_page(p)] == ["$p1c0", "$late"]


def test_delete_is_durable(make: Factory, tmp_path: Path) -> None:
    target = make(tmp_path)
    ids = write_page(target, 1, 3)
    write_page(target, 2, 1)
    assert target.delete(ids[1], page(1)) is True
    assert target.delete(ids[1], page(1)) is False
    assert target.delete("4", page(1)) is False  # not on that page
    reopened = make(tmp_path)
    assert [c.target_id for c in reopened.list_page(page(1))] == [ids[0], ids[2]]
    assert [c.target_id for c in reopened.list_page(page(2))] == ["4"]
    assert write_page(reopened, 3, 1) == ["5"]


def test_a_torn_tail_is_cut_off(make: Factory, tmp_path: Path) -> None:
    target = make(tmp_path)
    write_page(target, 1, 2)
    target.close()
    good = target.store.read_bytes()
    other = make(tmp_path / "other")
    write_page(other, 1, 0)
    write_page(other, 2, 3)
    torn = other.store.read_bytes()
    with target.store.open("ab") as handle:  # half of a 3-comment page, cut mid-line
        handle.write(torn[: len(torn) * 2 // 3])
    reopened = make(tmp_path)
    assert reopened.list_page(page(2)) == []
    assert target.store.read_bytes() == good
    assert write_page(reopened, 3, 1) == ["3"]


def test_damage_before_the_tail_is_an_error(make: Factory, tmp_path: Path) -> None:
    target = make(tmp_path)
    write_page(target, 1, 1)
    write_page(target, 2, 1)
    lines = target.store.read_bytes().splitlines(keepends=True)
    target.store.write_bytes(lines[0][:10] + b"\n" + b"".join(lines[1:]))
    with pytest.raises(TargetError, match="restore a backup"):
        make(tmp_path).list_page(page(1))  # the store is read when first needed


def run_threads(work: Callable[[int], None], args: Iterable[int]) -> None:
    threads = [threading.Thread(target=work, args=(arg,)) for arg in args]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_concurrent_workers_commit_whole_pages(make: Factory, tmp_path: Path) -> None:
    target = make(tmp_path)

    def worker(first: int) -> None:
        for n in range(first, first + 10):
            write_page(target, n, n % 4 + 1)

    run_threads(worker, [k * 100 for k in range(4)])
    target.close()
    reopened = make(tmp_path)
    all_ids: list[str] = []
    for k in range(4):
        for n in range(k * 100, k * 100 + 10):
            listed = reopened.list_page(page(n))
            assert [c.source_id for c in listed] == [f"$p{n}c{i}" for i in range(n % 4 + 1)]
            assert {c.parent_target_id for c in listed[1:]} <= {listed[0].target_id}
            all_ids += [c.target_id for c in listed]
    assert len(set(all_ids)) == len(all_ids)


def test_threads_that_start_while_the_store_is_read_take_ids_after_it(
    make: Factory, tmp_path: Path
) -> None:
    """`create` takes ids without the store's lock: none may be taken before the store is
    read whole (it holds the ids already given), however the threads meet its first read."""
    first = make(tmp_path)
    for n in range(60):
        write_page(first, n, 30)
    first.close()
    for _ in range(3):
        target = make(tmp_path)  # not read yet: the threads below meet its first read
        start = threading.Barrier(6)

        def worker(
            k: int, into: PageAtomicFileTarget = target, start: threading.Barrier = start
        ) -> None:
            start.wait()
            write_page(into, 1000 + k, 3)

        run_threads(worker, range(6))
        target.close()
    reopened = make(tmp_path)
    ids = [
        c.target_id for n in [*range(60), *range(1000, 1006)] for c in reopened.list_page(page(n))
    ]
    assert len(ids) == 60 * 30 + 3 * 6 * 3 and len(set(ids)) == len(ids)


CHILD = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from tests.test_target_files import FACTORIES, page, write_page
    from tests.test_target_http import outgoing
    target = FACTORIES[sys.argv[1]](Path(sys.argv[2]))
    mode = sys.argv[3]
    if mode == "mid-page":
        write_page(target, 1, 2)
        p = page(2)
        target.begin_page(p)
        target.create(outgoing("$p2c0", page=p))
        target.create(outgoing("$p2c1", page=p))
        os.kill(os.getpid(), signal.SIGKILL)  # after create(), before finish_page()
    n = 0
    print("ready", flush=True)
    while True:
        n += 1
        write_page(target, n, n % 5 + 1)
""")


def run_child(kind: str, directory: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, kind, str(directory), mode],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_killed_after_create_before_finish(make: Factory, tmp_path: Path) -> None:
    kind = next(k for k, f in FACTORIES.items() if f is make)
    child = run_child(kind, tmp_path, "mid-page")
    assert child.wait(30) == -signal.SIGKILL
    target = make(tmp_path)
    assert [c.source_id for c in target.list_page(page(1))] == ["$p1c0", "$p1c1"]
    assert target.list_page(page(2)) == []
    assert target.reconcile(page(2), [outgoing("$p2c0", page=page(2))]) == {}


def test_sigkill_at_any_instant_leaves_whole_pages(make: Factory, tmp_path: Path) -> None:
    kind = next(k for k, f in FACTORIES.items() if f is make)
    rng = random.Random(5)
    for round_ in range(4):
        child = run_child(kind, tmp_path, "loop")
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.02, 0.3))
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        target = make(tmp_path)  # the next run: loads, cuts a torn tail if any
        seen = 0
        for n in range(1, 5000):
            listed = target.list_page(page(n))
            if not listed:
                continue
            seen += 1
            # every round restarts at page 1: a page is one or more whole commits
            size = n % 5 + 1
            assert len(listed) % size == 0, f"round {round_}: page {n} has {len(listed)}"
        assert seen > 0
        if kind in ("wxr", "disqus"):
            target.close()
            assert json.loads(target.store.read_text().splitlines()[-1])["page"]
