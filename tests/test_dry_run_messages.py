"""A dry run plans on a temporary copy of the checkpoint, but what it says names the user's
own file: a checkpoint made for another migration, or a damaged one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import make_archive, threaded_site
from tests.migration_helpers import invoke, run_json, write_config


@pytest.mark.parametrize("verb", ["run", "sync"])
def test_a_dry_run_with_the_wrong_config_names_the_users_checkpoint(
    tmp_path: Path, verb: str
) -> None:
    archive = make_archive(tmp_path / "site.jsonl", threaded_site(pages=1, per_page=3))
    first = write_config(
        tmp_path, archive=archive, target={"type": "jsonl", "output": str(tmp_path / "a.jsonl")}
    )
    assert run_json(first)[0] == 0
    other = write_config(
        tmp_path,
        archive=archive,
        target={"type": "jsonl", "output": str(tmp_path / "b.jsonl")},
        name="other.toml",
    )
    result = invoke(verb, "-c", str(other), "--dry-run")
    assert result.exit_code == 4
    checkpoint = tmp_path / "checkpoint.json"
    assert f"checkpoint {checkpoint} was made for another migration" in result.stderr
    assert "dry-run" not in result.stderr.replace("--dry-run", "")


@pytest.mark.parametrize("verb", ["run", "sync"])
def test_a_dry_run_on_a_damaged_checkpoint_names_the_users_file(tmp_path: Path, verb: str) -> None:
    archive = make_archive(tmp_path / "site.jsonl", threaded_site(pages=1, per_page=3))
    config = write_config(
        tmp_path, archive=archive, target={"type": "jsonl", "output": str(tmp_path / "a.jsonl")}
    )
    (tmp_path / "checkpoint.json").write_text("{not json", encoding="utf-8")
    result = invoke(verb, "-c", str(config), "--dry-run")
    assert result.exit_code == 4
    assert str(tmp_path / "checkpoint.json") in result.stderr
    assert "dry-run" not in result.stderr.replace("--dry-run", "")
