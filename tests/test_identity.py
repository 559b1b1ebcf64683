"""One identity: a checkpoint made through the Python API continues under the CLI with the
same source and target, and the other way round, with nothing sent again."""

from __future__ import annotations

from pathlib import Path

from migrate.commands.demo import run_demo
from migrate.migration import Migration
from migrate.systems.archive import ArchiveSource
from migrate.systems.jsonl import JsonlTarget
from migrate.testing.factories import make_archive, threaded_site
from tests.migration_helpers import run_json, write_config


def test_the_demos_checkpoint_continues_under_the_cli(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert run_demo(out, quiet=True, echo=lambda line: None) == 0
    config = write_config(
        tmp_path,
        archive=out / "site.archive.jsonl",  # the demo migrates its copy of the sample
        target={
            "type": "wxr",
            "output": "demo/comments.wxr",
            "site_url": "https://blog.example.org",
        },
        run={"checkpoint": "demo/wxr.checkpoint.json"},
    )
    code, summary, stderr = run_json(config)
    assert code == 0, stderr
    assert summary["comments_imported"] == 0 and summary["pages_failed"] == 0
    assert summary["pages_skipped"] == summary["pages_total"] > 0


def test_a_cli_checkpoint_continues_under_the_api(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "site.jsonl", threaded_site(pages=2, per_page=4))
    config = write_config(
        tmp_path, archive=archive, target={"type": "jsonl", "output": "out.jsonl"}
    )
    code, first, stderr = run_json(config)
    assert code == 0 and first["comments_imported"] == 8, stderr
    migration = Migration(
        ArchiveSource(archive),
        JsonlTarget(tmp_path / "out.jsonl"),
        checkpoint=tmp_path / "checkpoint.json",
    )
    with migration:
        summary = migration.run()
    assert summary.comments_imported == 0 and not summary.failed_pages
