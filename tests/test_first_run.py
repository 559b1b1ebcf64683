"""What a new user meets first: `comment-migrate demo`, and what it leaves to go on with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.migration_helpers import invoke


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    result = invoke("demo")
    assert result.exit_code == 0, result.output
    return tmp_path / "comment-migrate-demo"


def test_every_demo_comment_reaches_json_with_html(demo: Path) -> None:
    """The Worker and JSONL serve `html`: a comment without it shows as nothing."""
    text = (demo / "comments.jsonl").read_text(encoding="utf-8")
    assert '"html":null' not in text.replace(" ", "")
    comments = [json.loads(line) for line in text.splitlines()]
    assert len(comments) == 448 and all(c["html"] for c in comments)


def test_the_demo_leaves_a_configuration_that_works_where_it_is(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (demo / "site.archive.jsonl").exists()
    monkeypatch.chdir(demo)
    status = invoke("status")
    assert status.exit_code == 0, status.output
    assert "15/15 complete" in status.output
    verify = invoke("verify")
    assert verify.exit_code == 0, verify.output
    assert "source and target agree" in verify.output
    rerun = invoke("run")
    assert rerun.exit_code == 0 and "(15 already complete)" in rerun.output


def test_the_demo_names_what_reads_each_file_truthfully(demo: Path) -> None:
    result = invoke("demo", "--output", str(demo))
    last = result.stdout.strip().splitlines()[-1]
    assert "Remark42" not in last and "Disqus" not in last
    assert "written for Isso" in last


def test_a_second_demo_starts_over_and_a_foreign_configuration_is_left_alone(
    demo: Path,
) -> None:
    again = invoke("demo", "--output", str(demo))
    assert again.exit_code == 0 and "0 failed" in again.output
    (demo / "migration.toml").write_text("# mine\n", encoding="utf-8")
    refused = invoke("demo", "--output", str(demo))
    assert refused.exit_code == 2 and "not the demo's" in refused.stderr
    assert (demo / "migration.toml").read_text(encoding="utf-8") == "# mine\n"


def test_demo_quiet_prints_nothing_when_all_is_well(tmp_path: Path) -> None:
    result = invoke("demo", "-q", "--output", str(tmp_path / "d"))
    assert result.exit_code == 0
    assert result.output == ""
    assert (tmp_path / "d" / "comments.jsonl").exists()


def test_run_quiet_prints_no_summary_but_the_failures(tmp_path: Path) -> None:
    from tests.factories import make_archive, threaded_site
    from tests.migration_helpers import write_config

    archive = make_archive(tmp_path / "a.jsonl", threaded_site(pages=2, per_page=3))
    config = write_config(tmp_path, archive=archive, target={"type": "jsonl", "output": "o.jsonl"})
    quiet = invoke("run", "-q", "-c", str(config))
    assert quiet.exit_code == 0 and quiet.output == ""
    loud = invoke("run", "-c", str(config))
    assert "Migration finished" in loud.stderr
