"""Durable files under real faults: a full disk (RLIMIT_FSIZE makes writes past the limit fail
with EFBIG, in a child process), symbolic links planted where the tool writes, and modes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from migrate.systems.jsonl.target import JsonlTarget
from tests.migration_helpers import REPO, subprocess_env
from tests.test_target_files import page, write_page
from utils.checkpoint_manager import CheckpointError, CheckpointManager, read_checkpoint
from utils.errors import DiskFull, ToolError, UnsafeFile
from utils.fileio import append_durably, atomic_write_text, atomic_writer, open_append

PRECIOUS = b"the only copy of something that matters\n"

# the child starts with this prelude: writes past the limit then fail with EFBIG, not a signal
PRELUDE = """
import resource, signal, sys
from pathlib import Path
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
_, HARD = resource.getrlimit(resource.RLIMIT_FSIZE)

def limit(size):
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, HARD))

def unlimit():
    resource.setrlimit(resource.RLIMIT_FSIZE, (HARD, HARD))
"""


def run_child(script: str, *args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(script), *args],
        capture_output=True, text=True, env=subprocess_env(), cwd=REPO, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_a_failed_page_append_is_undone_and_the_next_page_lands_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    lines = run_child(
        """
        from migrate.systems.jsonl.target import JsonlTarget
        from tests.test_target_files import write_page
        from utils.errors import DiskFull
        out = Path(sys.argv[1])
        target = JsonlTarget(out)
        write_page(target, 1, 3)
        before = out.stat().st_size
        limit(before + 120)  # room for part of page 2 only
        try:
            write_page(target, 2, 6)
            print("written")
        except DiskFull as exc:
            print("full", out.stat().st_size == before, exc.message)
        unlimit()  # space freed while the run goes on
        write_page(target, 3, 2)
        """,
        str(out),
    )
    assert lines[0].startswith("full True "), lines
    assert str(out) in lines[0] and "disk is full" in lines[0]
    reloaded = JsonlTarget(out)  # a later run loads it: no torn line in the middle
    assert [len(reloaded.list_page(page(n))) for n in (1, 2, 3)] == [3, 0, 2]
    assert all(json.loads(line) for line in out.read_text().splitlines())
    write_page(reloaded, 4, 1)
    assert len(JsonlTarget(out).list_page(page(4))) == 1


def test_a_torn_tail_of_the_store_is_repaired_on_load(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    write_page(JsonlTarget(out), 1, 2)
    whole = out.read_bytes()
    with out.open("ab") as handle:
        handle.write(b'{"batch":2,"size":3,"page":{"id":"p2"')  # a crash mid-append
    target = JsonlTarget(out)  # the store is read, and repaired, when first needed
    assert len(target.list_page(page(1))) == 2
    assert out.read_bytes() == whole
    write_page(target, 2, 1)
    assert len(JsonlTarget(out).list_page(page(2))) == 1


def test_a_failed_journal_append_is_undone(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    lines = run_child(
        """
        from utils.checkpoint_manager import CheckpointManager
        from utils.errors import DiskFull
        path = Path(sys.argv[1])
        journal = path.with_name(path.name + ".journal")
        m = CheckpointManager(path)
        m.add_id_mapping("$first", "1", "p")
        before = journal.stat().st_size
        limit(before + 50)
        try:
            m.add_id_mappings([(f"$b{i}", f"b{i}", "p", None) for i in range(20)])
            print("written")
        except DiskFull as exc:
            print("full", journal.stat().st_size == before, exc.message)
        unlimit()
        m.add_id_mapping("$last", "2", "p")
        m.close(compact=False)
        """,
        str(path),
    )
    assert lines[0].startswith("full True "), lines
    assert "disk is full" in lines[0] and "cp.json.journal" in lines[0]
    state = read_checkpoint(path)
    assert state.get_page_mappings("p") == [("$first", "1"), ("$last", "2")]


def test_a_full_disk_during_a_replace_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.wxr"
    target.write_bytes(PRECIOUS)
    lines = run_child(
        """
        from utils.errors import DiskFull
        from utils.fileio import atomic_write_text
        limit(4096)
        try:
            atomic_write_text(Path(sys.argv[1]), "x" * 100_000)
        except DiskFull as exc:
            print(exc.message)
        """,
        str(target),
    )
    assert lines and lines[0].startswith(f"{target}: the disk is full")
    assert target.read_bytes() == PRECIOUS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wxr"], "no temp file left"
    assert issubclass(DiskFull, ToolError)


@pytest.fixture
def precious(tmp_path: Path) -> Path:
    file = tmp_path / "elsewhere" / "precious.txt"
    file.parent.mkdir()
    file.write_bytes(PRECIOUS)
    return file


@pytest.mark.parametrize("suffix", [".lock", ".journal", ""])
def test_checkpoint_files_never_follow_a_symlink(
    tmp_path: Path, precious: Path, suffix: str
) -> None:
    path = tmp_path / "cp.json"
    if suffix == ".journal":
        with CheckpointManager(path) as m:  # a snapshot, so that the journal is opened to append
            m.add_id_mapping("$a", "1")
    (tmp_path / f"cp.json{suffix}").unlink(missing_ok=True)
    (tmp_path / f"cp.json{suffix}").symlink_to(precious)
    with pytest.raises(CheckpointError, match="symbolic link") as caught:  # noqa: SIM117
        # the error may come from opening or from the first append: both are under test
        with CheckpointManager(path) as m:
            m.add_id_mapping("$b", "2")
    assert str(tmp_path / f"cp.json{suffix}") in str(caught.value)
    assert precious.read_bytes() == PRECIOUS


def test_a_foreign_file_where_the_lock_goes_is_not_truncated(tmp_path: Path) -> None:
    path = tmp_path / "notes"
    lock = tmp_path / "notes.lock"
    lock.write_bytes(PRECIOUS)
    with pytest.raises(CheckpointError, match="not a lock file"):
        CheckpointManager(path)
    assert lock.read_bytes() == PRECIOUS
    lock.write_text("12345\n")  # a lock file left by a killed run is taken over
    CheckpointManager(path).close()


def test_durable_writers_refuse_symlinks(tmp_path: Path, precious: Path) -> None:
    link = tmp_path / "out.jsonl"
    link.symlink_to(precious)
    with pytest.raises(UnsafeFile, match="symbolic link"):
        append_durably(link, b"{}\n")
    with pytest.raises(UnsafeFile):
        open_append(link)
    with pytest.raises(UnsafeFile):
        JsonlTarget(link)
    assert precious.read_bytes() == PRECIOUS


@pytest.fixture(params=[0o077, 0o022])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_are_created_private_unless_asked(tmp_path: Path, umask: int) -> None:
    atomic_write_text(tmp_path / "a.txt", "comments")
    with atomic_writer(tmp_path / "b.txt", mode=0o644) as out:
        out.write("a template")
    append_durably(tmp_path / "c.jsonl", b"{}\n")
    write_page(JsonlTarget(tmp_path / "out.jsonl"), 1, 1)
    with CheckpointManager(tmp_path / "cp.json") as m:
        m.add_id_mapping("$a", "1")
        journal = m.journal_file
        assert mode_of(journal) == 0o600
    assert mode_of(tmp_path / "a.txt") == 0o600
    assert mode_of(tmp_path / "c.jsonl") == 0o600
    assert mode_of(tmp_path / "out.jsonl") == 0o600
    assert mode_of(tmp_path / "cp.json") == 0o600
    # an explicit mode is honoured as open(2) would: less the umask
    assert mode_of(tmp_path / "b.txt") == 0o644 & ~umask


def _limit_file_size(size: int) -> None:  # runs in the child before exec
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))


def test_a_full_disk_stops_the_run_with_exit_5_and_the_rerun_finishes_it(tmp_path: Path) -> None:
    from tests.factories import make_archive, threaded_site
    from tests.migration_helpers import write_config

    site = threaded_site(pages=6, per_page=10)
    archive = make_archive(tmp_path / "site.jsonl", site)
    config = write_config(
        tmp_path,
        archive=archive,
        target={"type": "jsonl", "output": "comments.jsonl"},
        run={"workers": 1},
    )
    full = subprocess.run(
        [sys.executable, "-m", "migrate", "-q", "run", "-c", str(config)],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd=tmp_path,
        timeout=120,
        preexec_fn=lambda: _limit_file_size(6000),
    )
    assert full.returncode == 5, full.stderr
    assert "the disk is full" in full.stderr
    assert str(tmp_path) in full.stderr  # names the file
    again = subprocess.run(
        [sys.executable, "-m", "migrate", "-q", "run", "-c", str(config)],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd=tmp_path,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    records = [json.loads(line) for line in (tmp_path / "comments.jsonl").read_text().splitlines()]
    sources = [r["source"]["id"] for r in records]
    assert sorted(sources) == sorted(c.id for comments in site.values() for c in comments)
