"""No command tramples another: the lock comes before any file is touched, readers never
write, a journal without a snapshot is a checkpoint, a dry run creates only its own file, and
nothing a comment or a server says can drive the terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from migrate.reporter import Reporter, RunSummary
from tests.factories import comment, make_archive, page, threaded_site
from tests.migration_helpers import REPO, invoke, run_json, subprocess_env, write_config
from utils.checkpoint_manager import journal_path
from utils.terminal import printable

HOLD_LOCK = (
    "import sys, time\n"
    "from utils.checkpoint_manager import CheckpointManager\n"
    "cp = CheckpointManager(checkpoint_file=sys.argv[1])\n"
    "print('locked', flush=True)\n"
    "time.sleep(60)\n"
)


def hold_lock(checkpoint: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(checkpoint)],
        stdout=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
        cwd=REPO,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def jsonl_config(tmp_path: Path, pages: int = 2) -> Path:
    archive = make_archive(tmp_path / "site.jsonl", threaded_site(pages=pages, per_page=4))
    return write_config(
        tmp_path, archive=archive, target={"type": "jsonl", "output": "comments.jsonl"}
    )


def test_reset_takes_the_lock_before_it_moves_a_running_migrations_checkpoint(
    tmp_path: Path,
) -> None:
    config = jsonl_config(tmp_path)
    assert run_json(config)[0] == 0
    checkpoint = tmp_path / "checkpoint.json"
    before = {p.name for p in tmp_path.iterdir()}
    holder = hold_lock(checkpoint)
    try:
        result = invoke("run", "-c", str(config), "--reset")
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 4
    assert str(holder.pid) in result.stderr
    assert checkpoint.exists()
    assert {p.name for p in tmp_path.iterdir()} == before  # nothing moved aside


def test_verify_waits_for_no_one_and_writes_nothing(tmp_path: Path) -> None:
    """While a run holds the checkpoint, verify refuses (it would read a file target halfway
    through an append); on its own it leaves every file as it found it."""
    archive = make_archive(tmp_path / "site.jsonl", threaded_site(pages=2, per_page=4))
    config = write_config(
        tmp_path, archive=archive, target={"type": "wxr", "output": "comments.wxr"}
    )
    assert run_json(config)[0] == 0
    files = sorted(p for p in tmp_path.iterdir() if p.is_file())
    stamps = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
    holder = hold_lock(tmp_path / "checkpoint.json")
    try:
        locked = invoke("verify", "-c", str(config))
    finally:
        holder.kill()
        holder.wait()
    assert locked.exit_code == 4
    ok = invoke("verify", "-c", str(config))
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    after = sorted(p for p in tmp_path.iterdir() if p.is_file() and not p.name.endswith(".lock"))
    assert after == [p for p in files if not p.name.endswith(".lock")]
    for path in after:
        assert (path.stat().st_mtime_ns, path.read_bytes()) == stamps[path], path


def test_a_journal_without_a_snapshot_is_a_checkpoint_for_every_command(tmp_path: Path) -> None:
    config = jsonl_config(tmp_path)
    assert run_json(config)[0] == 0
    checkpoint = tmp_path / "checkpoint.json"
    # a crash before the first compaction: build the journal-only form from the child's writes
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, os\n"
            "from utils.checkpoint_manager import CheckpointManager\n"
            "cp = CheckpointManager(checkpoint_file=sys.argv[1])\n"
            "cp.add_id_mapping('$x', '999', 'elsewhere')\n"
            "os._exit(0)\n",
            str(tmp_path / "other.json"),
        ],
        env=subprocess_env(),
        cwd=REPO,
        check=True,
    )
    assert child.returncode == 0
    assert journal_path(tmp_path / "other.json").exists()
    assert not (tmp_path / "other.json").exists()
    assert invoke("checkpoint", "compact", str(tmp_path / "other.json")).exit_code == 0
    assert (tmp_path / "other.json").exists()
    # rollback of a journal-only checkpoint of this migration
    checkpoint.unlink()  # the run compacted on close; keep only a journal again
    assert run_json(config, "--reset")[0] == 0  # a new one, compacted
    result = invoke("rollback", "-c", str(config), "--yes")
    assert result.exit_code == 0, result.stderr


def test_a_dry_run_never_overwrites_a_file_it_did_not_create(tmp_path: Path) -> None:
    config = jsonl_config(tmp_path)
    precious = tmp_path / "comments-final.jsonl"
    precious.write_text("the real output of a finished migration\n", encoding="utf-8")
    result = invoke("run", "-c", str(config), "--dry-run", "--dry-run-output", str(precious))
    assert result.exit_code == 2
    assert str(precious) in result.stderr and "exists" in result.stderr
    assert precious.read_text(encoding="utf-8") == "the real output of a finished migration\n"
    fresh = tmp_path / "plan.jsonl"
    assert (
        invoke("run", "-c", str(config), "--dry-run", "--dry-run-output", str(fresh)).exit_code == 0
    )
    assert fresh.read_text(encoding="utf-8").count("\n") == 8


def test_what_a_comment_says_cannot_drive_the_terminal() -> None:
    assert printable("\x1b[2J\x1b]0;pwned\x07ok\u202eevil") == (
        "\\x1b[2J\\x1b]0;pwned\\x07ok\\u202eevil"
    )
    out: list[str] = []

    class Stream:
        def write(self, text: str) -> None:
            out.append(text)

        def isatty(self) -> bool:
            return False

    summary = RunSummary(target="x")
    summary.skipped_comments.append(
        {
            "page_id": "p1",
            "source_id": "$1",
            "reason": "too short \x1b[31m",
            "author": "\x1b[2Jmallory",
            "created_at": "2021",
            "excerpt": "hi\x07",
        }
    )
    Reporter(stream=Stream()).summary(summary)  # type: ignore[arg-type]
    printed = "".join(out)
    assert "\x1b" not in printed and "\x07" not in printed
    assert "\\x1b[2Jmallory" in printed


def test_an_ansi_escape_in_a_page_error_is_shown_not_obeyed(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "a.jsonl", {page("p1"): [comment("$a", page="p1")]})
    config = write_config(tmp_path, archive=archive, target={"type": "jsonl", "output": "o.jsonl"})
    (tmp_path / "o.jsonl").write_text("\x1b[2J not json\n{}\n", encoding="utf-8")
    result = invoke("run", "-c", str(config))
    assert result.exit_code != 0
    assert "\x1b" not in result.stderr


def test_files_holding_comments_are_private_unless_the_configuration_asks(
    tmp_path: Path,
) -> None:
    import os
    import stat

    archive = make_archive(tmp_path / "site.jsonl", threaded_site(pages=1, per_page=3))
    old = os.umask(0o022)
    try:
        private = write_config(
            tmp_path,
            archive=archive,
            name="private.toml",
            target={"type": "wxr", "output": "private.wxr"},
            run={"checkpoint": str(tmp_path / "p.json")},
        )
        shared = write_config(
            tmp_path,
            archive=archive,
            name="shared.toml",
            target={"type": "wxr", "output": "shared.wxr", "file_mode": "0644"},
            run={"checkpoint": str(tmp_path / "s.json")},
        )
        assert run_json(private)[0] == 0 and run_json(shared)[0] == 0
    finally:
        os.umask(old)
    for name in ("private.wxr", "private.wxr.pages.jsonl", "p.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    for name in ("shared.wxr", "shared.wxr.pages.jsonl"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
