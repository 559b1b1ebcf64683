"""A problem with the user's own files is exit 2, saying what is wrong and how to fix it;
never an "unexpected" error (exit 1) with a temp file's name."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from migrate.cli import cli
from tests.factories import make_archive, threaded_site
from tests.migration_helpers import invoke, write_config


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return make_archive(tmp_path / "site.archive.jsonl", threaded_site(pages=3, per_page=4))


def run(config: Path, *extra: str) -> tuple[int, str]:
    result = invoke("run", "-c", str(config), *extra)
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("side", "key", "target"),
    [("source", "path", "jsonl"), ("target", "output", "jsonl"), ("target", "output", "wxr")],
)
def test_a_folder_as_the_archive_or_the_output_is_a_usage_error(
    tmp_path: Path, archive: Path, side: str, key: str, target: str
) -> None:
    folder = tmp_path / "adir"
    folder.mkdir()
    tables = {
        "source": {"type": "archive", "path": str(archive)},
        "target": {"type": target, "output": "o.out"},
    }
    tables[side][key] = str(folder)
    config = write_config(tmp_path, source=tables["source"], target=tables["target"])
    code, stderr = run(config)
    assert code == 2, stderr
    assert f"{folder} is a folder" in stderr and f"[{side}] {key}" in stderr
    assert "unexpected" not in stderr
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("cut", ["mid-line", "whole lines"])
def test_a_truncated_archive_says_to_extract_again(tmp_path: Path, archive: Path, cut: str) -> None:
    data = archive.read_bytes()
    if cut == "mid-line":
        archive.write_bytes(data[: len(data) // 2])
    else:
        archive.write_bytes(b"".join(data.splitlines(keepends=True)[:-2]))
    config = write_config(tmp_path, archive=archive, target={"type": "jsonl", "output": "o.jsonl"})
    code, stderr = run(config)
    assert code == 2, stderr
    assert "run `comment-migrate extract` again" in stderr
    assert "at at" not in stderr


def test_extract_into_a_folder_is_a_usage_error(tmp_path: Path, archive: Path) -> None:
    (tmp_path / "somedir").mkdir()
    config = write_config(tmp_path, archive=archive, target={"type": "jsonl", "output": "o.jsonl"})
    result = invoke("extract", "-c", str(config), "-o", str(tmp_path / "somedir"))
    assert result.exit_code == 2, result.output
    assert "is a folder" in result.stderr and ".tmp" not in result.stderr
    assert list((tmp_path / "somedir").iterdir()) == []


def test_declining_a_rollback_writes_nothing_and_is_exit_2(tmp_path: Path, archive: Path) -> None:
    config = write_config(tmp_path, archive=archive, target={"type": "jsonl", "output": "o.jsonl"})
    assert run(config)[0] == 0
    before = sorted(p.name for p in tmp_path.iterdir())
    result = CliRunner().invoke(cli, ["rollback", "-c", str(config)], input="n\n")
    assert result.exit_code == 2, result.output
    assert "nothing was deleted and nothing was written" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no backup left behind
    asked = result.stderr.index("Delete ")
    assert "Saved" not in result.stderr[:asked]
