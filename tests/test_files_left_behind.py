"""What the tool leaves behind: a dry run's plan goes beside the checkpoint under a new name
(the last few kept) or to stdout; a folder given as the checkpoint leaves no lock file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.factories import make_archive, threaded_site
from tests.migration_helpers import invoke, write_config


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    archive = make_archive(tmp_path / "site.archive.jsonl", threaded_site(pages=2, per_page=3))
    (tmp_path / "state").mkdir()
    return write_config(
        tmp_path,
        archive=archive,
        target={"type": "jsonl", "output": "o.jsonl"},
        run={"checkpoint": str(tmp_path / "state" / "cp.json")},
    )


def test_each_dry_run_writes_a_new_plan_beside_the_checkpoint_keeping_the_last_five(
    tmp_path: Path, config: Path
) -> None:
    before = set(tmp_path.iterdir())
    for _ in range(7):
        result = invoke("run", "-c", str(config), "--dry-run")
        assert result.exit_code == 0, result.output
    assert set(tmp_path.iterdir()) == before  # nothing in the current folder
    plans = sorted((tmp_path / "state").glob("cp.json.dry-run-*.jsonl"))
    assert len(plans) == 5
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == [p.name for p in plans]
    assert f"written:  {plans[-1]}" in result.stderr
    assert len(plans[-1].read_text(encoding="utf-8").splitlines()) == 6


def test_a_dry_run_plan_on_stdout(tmp_path: Path, config: Path) -> None:
    result = invoke("run", "-c", str(config), "--dry-run", "--output", "-")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 6 and {r["page"]["id"] for r in records} == {"post0", "post1"}
    assert list((tmp_path / "state").iterdir()) == []


@pytest.mark.parametrize("given", ["option", "config"])
def test_a_folder_as_the_checkpoint_leaves_no_lock_file(
    tmp_path: Path, config: Path, given: str
) -> None:
    folder = tmp_path / "somedir"
    folder.mkdir()
    if given == "option":
        result = invoke("run", "-c", str(config), "--checkpoint", str(folder))
    else:
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace(str(tmp_path / "state" / "cp.json"), str(folder)))
        result = invoke("run", "-c", str(config))
    assert result.exit_code == 2, result.output
    assert "is a folder" in result.stderr
    assert not (tmp_path / "somedir.lock").exists()
    assert list(folder.iterdir()) == []
