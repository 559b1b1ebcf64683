"""Every built-in source and target passes its contract kit (migrate/testing/*_contract.py),
the same kits a plugin author runs on their own."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest

from migrate.abilities import Target
from migrate.config import load_config
from migrate.plugins import target_plugin
from migrate.systems.archive import ArchiveSource
from migrate.systems.http import HttpTarget
from migrate.systems.isso import IssoTarget
from migrate.testing.factories import comment, make_archive, page
from migrate.testing.source_contract import check_source
from migrate.testing.target_contract import check_target
from tests.migration_helpers import fast_policy, write_config
from tests.servers.contract import ContractServer
from tests.servers.isso import IssoServer


def test_the_bundled_sample_passes_the_source_contract() -> None:
    sample = resources.files("migrate").joinpath("sample/site.archive.jsonl")
    with resources.as_file(sample) as path:
        report = check_source(lambda: ArchiveSource(path))
    assert report.pages >= 10 and report.comments > 400
    assert report.replies > 0 and report.statuses["approved"] == report.comments


def test_an_archive_with_every_state_passes_the_source_contract(tmp_path: Path) -> None:
    comments = [
        comment("$a", text="top", page="p1"),
        dataclasses.replace(comment("$gone", "$a", minute=1, page="p1"), deleted=True),
        comment("$r", "$gone", minute=2, text="reply under a tombstone", page="p1"),
        dataclasses.replace(comment("$s", minute=3, page="p1"), status="spam"),
        dataclasses.replace(comment("$w", minute=4, page="p1"), status="pending"),
    ]
    archive = make_archive(tmp_path / "a.jsonl", {page("p1"): comments, page("p2"): []})
    report = check_source(lambda: ArchiveSource(archive))
    assert report.statuses == {"approved": 3, "spam": 1, "pending": 1}
    assert report.tombstones == 1 and report.pages == 2


@pytest.mark.parametrize("name", ["jsonl", "wxr", "disqus"])
def test_file_targets_pass_the_target_contract(tmp_path: Path, name: str) -> None:
    config = load_config(
        write_config(tmp_path, archive=tmp_path / "a.jsonl", target={"type": name, "output": "out"})
    )
    plugin = target_plugin(name)

    def open_target() -> Target:
        return plugin.build(config.target, config.run)

    report = check_target(open_target, plugin=plugin, section=config.target)
    assert {"page-atomic", "list", "reconcile", "delete"} <= set(report.abilities)
    assert report.crash_window is None


def test_the_http_target_passes_the_target_contract(contract_server: ContractServer) -> None:
    def open_target() -> Target:
        return HttpTarget(contract_server.url, policy=fast_policy())

    report = check_target(open_target)
    assert {"list", "reconcile", "key", "delete"} <= set(report.abilities)
    assert len(contract_server.comments) == 4 - 1  # one deleted; the resend made no copy


def test_the_isso_target_passes_the_target_contract(isso: IssoServer) -> None:
    open_target: Callable[[], Target] = lambda: IssoTarget(  # noqa: E731
        isso.url, policy=fast_policy(), db_path=isso.db_path
    )
    report = check_target(open_target)
    assert {"list", "reconcile", "delete"} <= set(report.abilities)
    assert report.crash_window is None
