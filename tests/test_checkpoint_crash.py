"""The checkpoint under crashes, other processes and threads.

Torn journal tails at every byte, SIGKILLed writers (also mid-compaction), the lock held by a
live process and left by a killed one, and worker threads sharing one manager.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_checkpoint import Clock, fingerprint
from utils.checkpoint_manager import (
    CheckpointLocked,
    CheckpointManager,
    MappingConflict,
    read_checkpoint,
    validate_checkpoint_file,
)
from utils.filelock import FileLock, LockHeld, read_holder_pid

REPO = Path(__file__).resolve().parents[1]
CHILD_ENV = {**os.environ, "PYTHONPATH": str(REPO)}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "cp.json"


def journal_of(path: Path) -> Path:
    return path.with_name(path.name + ".journal")


def record_history(
    path: Path, steps: list[Callable[[CheckpointManager], object]], compact_after: int | None = None
) -> list[dict[str, Any]]:
    """Run `steps` (one journal record each) and return the state after 0, 1, ... records."""
    history = []
    with CheckpointManager(path, clock=Clock()) as m:
        history.append(fingerprint(m))
        for number, step in enumerate(steps, 1):
            step(m)
            history.append(fingerprint(m))
            if number == compact_after:
                m.compact()
        m.close(compact=False)
    return history


def map_event(m: CheckpointManager, number: int) -> object:
    return m.add_id_mapping(f"$event{number}:example.org", f"c{number}", "p1")


def steps_ending_with(
    last: Callable[[CheckpointManager], object],
) -> list[Callable[[CheckpointManager], object]]:
    steps: list[Callable[[CheckpointManager], object]] = [lambda m: m.start_migration(3)]
    for i in range(6):
        steps.append(functools.partial(map_event, number=i))
    steps.append(lambda m: m.mark_page_complete("p1", 6, 6))
    steps.append(lambda m: m.mark_page_in_progress("p2"))
    steps.append(last)
    return steps


LAST_RECORDS: dict[str, Callable[[CheckpointManager], object]] = {
    "map": lambda m: m.add_id_mapping("$last:example.org", "c-last", "p2"),
    "page": lambda m: m.mark_page_failed("p2", "HTTP 502 from https://comments.example ünï"),
}


@pytest.mark.parametrize("kind", sorted(LAST_RECORDS))
def test_torn_last_record_at_every_byte(
    tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    source = tmp_path / "source" / "cp.json"
    source.parent.mkdir()
    history = record_history(source, steps_ending_with(LAST_RECORDS[kind]), compact_after=4)
    journal = journal_of(source).read_bytes()
    last_start = journal.rstrip(b"\n").rfind(b"\n") + 1
    assert len(journal) - last_start > 50
    for cut in range(last_start, len(journal) + 1):
        folder = tmp_path / f"cut{cut}"
        folder.mkdir()
        path = folder / "cp.json"
        shutil.copy(source, path)
        journal_of(path).write_bytes(journal[:cut])
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="comment_migrate"):
            m = CheckpointManager(path)
        complete = cut == len(journal)
        assert fingerprint(m) == history[-1 if complete else -2], f"cut at byte {cut}"
        torn = last_start < cut < len(journal)
        assert ("torn last record" in caplog.text) == torn, f"cut at byte {cut}"
        m.add_id_mapping("$after", "c-after")  # appended after the cut, not glued to it
        expected = fingerprint(m)
        m.close(compact=False)
        assert fingerprint(read_checkpoint(path)) == expected
        shutil.rmtree(folder)


@pytest.fixture(scope="module")
def journal_history(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, list[Any]]:
    path = tmp_path_factory.mktemp("history") / "cp.json"
    steps = [
        *steps_ending_with(LAST_RECORDS["page"]),
        lambda m: m.add_skipped("$skip", "p2", "empty"),
        lambda m: m.remove_id_mapping("$event3:example.org"),
        lambda m: m.set_metadata("rollback", {"done": 1}),
        lambda m: m.set_config("d1", {"target": "x"}),
    ]
    history = record_history(path, steps)
    return journal_of(path).read_bytes(), history


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(fraction=st.floats(0, 1), garbage=st.sampled_from([b"", b"\x00\x00\x00", b'{"seq']))
def test_torn_journal_at_random_offsets(
    journal_history: tuple[bytes, list[Any]], fraction: float, garbage: bytes
) -> None:
    journal, history = journal_history
    cut = round(fraction * len(journal))
    kept = journal[:cut]
    if kept.endswith(b"\n") and garbage:
        kept += garbage  # what a power cut can leave in place of a record's first bytes
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cp.json"
        journal_of(path).write_bytes(kept)
        state = read_checkpoint(path)
        # the first line is the journal's header (a torn one leaves the migration unnamed)
        expected = {**history[max(journal[:cut].count(b"\n") - 1, 0)], "migration_id": None}
        assert {**fingerprint(state), "migration_id": None} == expected
        with CheckpointManager(path) as m:
            assert {**fingerprint(m), "migration_id": None} == expected
            m.add_id_mapping("$after", "c-after")
            expected = fingerprint(m)
        assert fingerprint(read_checkpoint(path)) == expected


CHILD_WRITER = """
import sys
from utils.checkpoint_manager import CheckpointManager

path, start, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
m = CheckpointManager(path, compact_threshold=40)
print("ready", flush=True)
i = start
while True:
    page = f"page{i // 10}"
    m.add_id_mapping(f"$s{i}", f"t{i}", page)
    print(f"map {i}", flush=True)
    if i % 10 == 9:
        m.mark_page_complete(page, 10, 10)
        print(f"page {page}", flush=True)
    if mode == "compact" and i % 25 == 24:
        print("compacting", flush=True)
        m.compact()
    i += 1
"""


def test_sigkilled_writer_loses_no_acknowledged_record(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    script = tmp_path / "writer.py"
    script.write_text(CHILD_WRITER)
    with CheckpointManager(path) as m:  # big enough that a compaction takes a while
        for i in range(20_000):
            m.add_id_mapping(f"$pre{i}", f"p{i}", f"old{i // 100}")
    rng = random.Random(7)
    acked_maps: set[int] = set()
    acked_pages: set[str] = set()
    runs = [("plain", n) for n in (1, 37, 150, 400)] + [("compact", d) for d in (0, 2, 5, 9, 15)]
    for mode, moment in runs:
        start = max(acked_maps, default=-1) + 1
        child = subprocess.Popen(
            [sys.executable, str(script), str(path), str(start), mode],
            stdout=subprocess.PIPE,
            text=True,
            env=CHILD_ENV,
        )
        assert child.stdout is not None
        assert child.stdout.readline() == "ready\n"
        for seen, line in enumerate(child.stdout, 1):
            parse_ack(line, acked_maps, acked_pages)
            if mode == "plain" and seen >= moment:
                break
            if mode == "compact" and line == "compacting\n" and rng.random() < 0.7:
                time.sleep(moment / 1000)
                break
        child.send_signal(signal.SIGKILL)
        for line in child.stdout:  # acknowledged before the kill, still in the pipe
            parse_ack(line, acked_maps, acked_pages)
        child.wait()
        assert child.returncode == -signal.SIGKILL
        state = read_checkpoint(path)
        missing = [i for i in acked_maps if state.get_new_comment_id(f"$s{i}") != f"t{i}"]
        assert not missing, f"acknowledged mappings lost after a kill ({mode}, {moment})"
        assert all(state.is_page_completed(p) for p in acked_pages)
        assert state.mapping_count() - 20_000 <= max(acked_maps) + 2  # at most one unacknowledged
        assert state.get_new_comment_id("$pre19999") == "p19999"
    with CheckpointManager(path) as m:
        for i in sorted(acked_maps)[-5:]:
            assert (f"$s{i}", f"t{i}") in m.state.get_page_mappings(f"page{i // 10}")
    assert len(acked_maps) > 100


def parse_ack(line: str, maps: set[int], pages: set[str]) -> None:
    kind, _, value = line.strip().partition(" ")
    if kind == "map":
        maps.add(int(value))
    elif kind == "page":
        pages.add(value)


CHILD_HOLDER = """
import sys
from utils.checkpoint_manager import CheckpointManager

m = CheckpointManager(sys.argv[1])
m.add_id_mapping("$from-child", "1")
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def holder(path: Path) -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=CHILD_ENV,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "ready\n"
    yield child
    if child.poll() is None:
        child.kill()
    child.wait()


def open_in_thread(path: Path) -> BaseException | CheckpointManager:
    """Open the checkpoint in a thread, so that a blocking open fails the test, not hangs it."""
    outcome: list[BaseException | CheckpointManager] = []

    def attempt() -> None:
        try:
            outcome.append(CheckpointManager(path))
        except BaseException as error:
            outcome.append(error)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(30)
    assert outcome, "opening a locked checkpoint must fail at once, not wait"
    return outcome[0]


def test_lock_held_by_a_live_process(path: Path, holder: subprocess.Popen[str]) -> None:
    error = open_in_thread(path)
    assert isinstance(error, CheckpointLocked)
    assert error.pid == holder.pid
    assert f"process {holder.pid}" in str(error) and str(path) in str(error)
    assert read_holder_pid(path.with_name(path.name + ".lock")) == holder.pid
    # readers need no lock
    assert read_checkpoint(path).get_new_comment_id("$from-child") == "1"
    assert validate_checkpoint_file(path)["mappings"] == 1


def test_lock_of_a_killed_process_is_taken_over(path: Path, holder: subprocess.Popen[str]) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    lock = path.with_name(path.name + ".lock")
    assert read_holder_pid(lock) == holder.pid  # the stale PID is still written there
    manager = open_in_thread(path)
    assert isinstance(manager, CheckpointManager)
    with manager:
        assert read_holder_pid(lock) == os.getpid()
        assert manager.get_new_comment_id("$from-child") == "1"


def test_file_lock(tmp_path: Path) -> None:
    lock_file = tmp_path / "x.lock"
    with FileLock(lock_file) as first:
        assert first.locked and read_holder_pid(lock_file) == os.getpid()
        with pytest.raises(LockHeld) as caught:
            FileLock(lock_file).acquire()
        assert caught.value.pid == os.getpid()
        first.acquire()  # re-acquiring a held lock is a no-op
    assert not first.locked and read_holder_pid(lock_file) is None
    second = FileLock(lock_file)
    second.acquire()
    second.release()
    second.release()


def test_threads_share_one_manager(path: Path) -> None:
    errors: list[BaseException] = []
    with CheckpointManager(path, compact_threshold=50) as m:

        def worker(number: int) -> None:
            try:
                for page in range(10):
                    page_id = f"w{number}-p{page}"
                    m.mark_page_in_progress(page_id)
                    for comment in range(20):
                        m.add_id_mapping(
                            f"$w{number}-{page}-{comment}", f"t{number}.{page}.{comment}", page_id
                        )
                        m.has_id_mapping(f"$w{number}-{page}-0")
                    m.mark_page_complete(page_id, 20, 20)
                    m.get_progress_summary()
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        assert m.state.mapping_count() == 8 * 10 * 20
        assert len(m.get_completed_page_ids()) == 80
        assert m.state.get_page_mappings("w3-p7")[:2] == [
            ("$w3-7-0", "t3.7.0"),
            ("$w3-7-1", "t3.7.1"),
        ]
        live = fingerprint(m)
        m.close(compact=False)
    assert fingerprint(read_checkpoint(path)) == live
    with CheckpointManager(path) as m:
        assert fingerprint(m) == live


def test_racing_threads_map_each_comment_once(path: Path) -> None:
    results: dict[str, list[str]] = {"won": [], "lost": []}
    barrier = threading.Barrier(4)
    with CheckpointManager(path, compact_threshold=100) as m:

        def worker(name: str) -> None:
            barrier.wait()
            for i in range(300):
                try:
                    if m.add_id_mapping(f"$race{i}", name):
                        results["won"].append(f"$race{i}")
                except MappingConflict:
                    results["lost"].append(f"$race{i}")

        threads = [threading.Thread(target=worker, args=(f"worker{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results["won"]) == sorted(f"$race{i}" for i in range(300))
        assert len(results["lost"]) == 3 * 300
        live = fingerprint(m)
    assert fingerprint(read_checkpoint(path)) == live
