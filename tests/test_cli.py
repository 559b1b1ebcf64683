"""The command line: help, init, checkpoint commands, exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from migrate import __version__
from migrate.cli import cli
from migrate.config import load_config
from migrate.errors import ConfigChanged, ConfigError, ExitStatus, exit_status_for
from tests.factories import make_archive, threaded_site
from tests.migration_helpers import REPO, invoke, subprocess_env, write_config
from tests.servers.contract import ContractServer
from utils.checkpoint_manager import CheckpointError, CheckpointManager


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in sorted(group.commands.items()):
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found.extend(all_commands(command, (*prefix, name)))
    return found


COMMANDS = all_commands(cli)


def test_the_documented_commands_are_all_there() -> None:
    names = {" ".join(c) for c in COMMANDS}
    assert {
        "init",
        "run",
        "status",
        "extract",
        "verify",
        "rollback",
        "demo",
        "checkpoint",
        "checkpoint validate",
        "checkpoint show",
        "checkpoint compact",
    } <= names


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(command: tuple[str, ...]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output and "comment-migrate " in result.output


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and __version__ in result.output


def test_python_dash_m_works() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "migrate", "--version"],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0 and __version__ in done.stdout


def test_init_writes_a_valid_template_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "migration.toml"
    result = invoke("init", str(path))
    assert result.exit_code == 0 and path.exists()
    assert load_config(path).source.type == "matrix"
    path.write_text("# my edits\n")
    result = invoke("init", str(path))
    assert result.exit_code == 2
    assert "already exists" in result.stderr
    assert path.read_text() == "# my edits\n"


@pytest.mark.parametrize("source", ["archive", "matrix"])
@pytest.mark.parametrize("target", ["http", "isso", "wxr", "disqus", "jsonl"])
def test_init_writes_just_the_keys_a_source_and_a_target_need(
    tmp_path: Path, source: str, target: str
) -> None:
    import tomllib

    from migrate.plugins import source_plugin, target_plugin

    path = tmp_path / "migration.toml"
    result = invoke("init", str(path), "--source", source, "--target", target)
    assert result.exit_code == 0, result.output
    config = load_config(path)  # valid as written: every required key has a usable value
    assert (config.source.type, config.target.type) == (source, target)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    for side, plugin in (("source", source_plugin(source)), ("target", target_plugin(target))):
        own = set(plugin.schema.get("properties", {}))
        assert set(data[side]) - {"type"} <= own  # no key of another system
        written = path.read_text(encoding="utf-8").split(f"[{side}]", 1)[1].split("\n[", 1)[0]
        for key in own:  # the optional ones, commented, so a reader sees what exists
            assert f"{key} = " in written


def test_init_names_an_unknown_type_and_what_exists(tmp_path: Path) -> None:
    result = invoke("init", str(tmp_path / "m.toml"), "--source", "archiv", "--target", "jsonl")
    assert result.exit_code == 2
    assert "--source must be one of 'archive'" in result.stderr
    assert not (tmp_path / "m.toml").exists()


def make_checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "cp.json"
    with CheckpointManager(checkpoint_file=path) as cp:
        cp.start_migration(2)
        cp.mark_page_in_progress("a")
        cp.add_id_mapping("$1", "t1", "a")
        cp.mark_page_complete("a", extracted=1, imported=1)
        cp.mark_page_failed("b", "HTTP 400: no")
    return path


def test_checkpoint_validate_show_and_compact(tmp_path: Path) -> None:
    path = make_checkpoint(tmp_path)
    result = invoke("checkpoint", "validate", str(path))
    assert result.exit_code == 0
    assert "valid (version 2, " in result.output and "1 mappings" in result.output

    shown = json.loads(invoke("checkpoint", "show", str(path)).output)
    assert shown["version"] == 2 and shown["mapping_count"] == 1
    assert "mappings" not in shown
    full = json.loads(invoke("checkpoint", "show", str(path), "--mappings").output)
    assert full["mappings"][0]["source_ids"] == ["$1"]

    # grow the journal, compact, and nothing changes but the files' shape
    with CheckpointManager(checkpoint_file=path) as cp:
        cp.add_id_mapping("$2", "t2", "a")
        cp.close(compact=False)
    assert invoke("checkpoint", "compact", str(path)).exit_code == 0
    assert json.loads(invoke("checkpoint", "show", str(path)).output)["mapping_count"] == 2


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "cp.json"),
        ('{"version": 1, "pages": {', "cp.json"),
        ('{"format": "comment-migrate-checkpoint", "version": 99}', "99"),
        ('{"format": "comment-migrate-checkpoint", "version": 1, "pages": 7}', "cp.json"),
    ],
    ids=["empty", "truncated", "newer-version", "schema-violation"],
)
def test_checkpoint_validate_refuses_bad_files_with_exit_4(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "cp.json"
    path.write_text(content)
    result = invoke("checkpoint", "validate", str(path))
    assert result.exit_code == 4
    assert result.stderr.startswith("Error: ") and expected in result.stderr


def test_checkpoint_validate_of_a_missing_file_is_exit_4(tmp_path: Path) -> None:
    result = invoke("checkpoint", "validate", str(tmp_path / "none.json"))
    assert result.exit_code == 4 and "none.json" in result.stderr


def test_status_before_any_run_says_so_and_is_no_error(tmp_path: Path) -> None:
    """Exit 4 is a damaged or locked checkpoint; none at all is just a migration not begun."""
    result = invoke("status", "--checkpoint", str(tmp_path / "none.json"))
    assert result.exit_code == 0, result.output
    assert "No migration yet" in result.stdout and "none.json" in result.stdout
    as_json = invoke("status", "--checkpoint", str(tmp_path / "none.json"), "--json")
    assert json.loads(as_json.stdout) == {
        "checkpoint": str(tmp_path / "none.json"),
        "migration": None,
    }
    assert not (tmp_path / "none.json").exists()


@pytest.mark.parametrize("verb", ["validate", "show", "compact"])
def test_checkpoint_commands_use_the_configurations_checkpoint(tmp_path: Path, verb: str) -> None:
    path = make_checkpoint(tmp_path)
    config = write_config(
        tmp_path,
        archive=tmp_path / "a.jsonl",
        target={"type": "jsonl", "output": "o.jsonl"},
        run={"checkpoint": str(path)},
    )
    result = invoke("checkpoint", verb, "-c", str(config))
    assert result.exit_code == 0, result.output
    assert "cp.json" in result.output or '"mapping_count": 1' in result.output


def test_workers_are_requests_in_flight_in_the_help() -> None:
    for command in ("run", "sync"):
        text = " ".join(invoke(command, "--help").output.split())
        assert "Requests in flight over the whole run" in text
        assert "in parallel" not in text


def test_a_locked_checkpoint_is_exit_4_naming_the_holder(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "a.jsonl", threaded_site(pages=1, per_page=2))
    with ContractServer() as server:
        config = write_config(tmp_path, archive=archive, target={"type": "http", "url": server.url})
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys, time\n"
                "from utils.checkpoint_manager import CheckpointManager\n"
                f"cp = CheckpointManager(checkpoint_file={str(tmp_path / 'checkpoint.json')!r})\n"
                "print('locked', flush=True)\n"
                "time.sleep(60)\n",
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=subprocess_env(),
            cwd=REPO,
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            result = invoke("run", "-c", str(config))
            assert result.exit_code == 4
            assert str(holder.pid) in result.stderr
            assert server.requests == 0
        finally:
            holder.kill()
            holder.wait()


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ConfigError("x"), ExitStatus.USAGE),
        (ConfigChanged("x"), ExitStatus.CHECKPOINT),
        (CheckpointError("x"), ExitStatus.CHECKPOINT),
        (KeyboardInterrupt(), ExitStatus.INTERRUPTED),
        (RuntimeError("x"), ExitStatus.ERROR),
    ],
)
def test_one_mapping_from_errors_to_exit_statuses(error: BaseException, status: int) -> None:
    assert exit_status_for(error) == status


def test_exit_1_for_an_unreachable_source_with_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "pages.csv").write_text("post1\n")
    with ContractServer() as server:
        config = write_config(
            tmp_path,
            source={
                "type": "matrix",
                "homeserver": "http://127.0.0.1:9",
                "site": "blog",
                "pages_file": "pages.csv",
            },
            target={"type": "http", "url": server.url},
            run={"max_attempts": 1, "timeout": 2},
        )
        result = invoke("run", "-c", str(config))
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: ") and "127.0.0.1:9" in result.stderr
        assert "Traceback" not in result.stderr
        assert server.requests == 0


def test_exit_2_for_a_usage_error() -> None:
    result = invoke("run", "--workers", "0")
    assert result.exit_code == 2
