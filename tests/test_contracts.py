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
from migrate.pages import keyed_source
from migrate.plugins import target_plugin
from migrate.systems.archive import ArchiveSource
from migrate.systems.disqus.source import DisqusSource
from migrate.systems.http import HttpTarget
from migrate.systems.isso import IssoSource, IssoTarget
from migrate.systems.waline import WalineSource, WalineTarget
from migrate.systems.wordpress.source import WordPressSource
from migrate.testing.factories import comment, make_archive, page
from migrate.testing.source_contract import check_source
from migrate.testing.target_contract import check_target
from migrate.testing.waline import WalineServer
from tests.isso_site import seed_isso
from tests.migration_helpers import fast_policy, write_config
from tests.servers.contract import ContractServer
from tests.servers.github import GITHUB_STANDIN_TOKEN, GitHubStandIn
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


@pytest.mark.isso
def test_the_isso_source_passes_the_source_contract(
    isso_factory: Callable[..., IssoServer],
) -> None:
    site = seed_isso(isso_factory(moderation__enabled="true"))
    report = check_source(lambda: IssoSource(site.server.db_path))
    assert report.statuses["pending"] >= 1 and report.tombstones >= 1 and report.replies > 0


def test_waline_passes_the_source_and_target_contracts(waline: WalineServer) -> None:
    token = waline.admin_token()
    report = check_target(lambda: WalineTarget(waline.url, token=token, policy=fast_policy()))
    assert {"list", "reconcile", "delete"} <= set(report.abilities)
    read = check_source(lambda: WalineSource(url=waline.url, token=token))
    assert read.comments == 3 and read.replies == 2  # one deleted by the target kit


@pytest.mark.github
def test_the_github_target_passes_the_target_contract(
    tmp_path: Path, github_standin: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against the stand-in for GitHub, checked against GitHub's published schema."""
    monkeypatch.setenv("GITHUB_TOKEN", GITHUB_STANDIN_TOKEN)
    section = {
        "type": "github",
        "repo": "owner/site",
        "category": "Comments",
        "api_url": github_standin.url,
        "per_minute": 100000,
        "per_hour": 1000000,
    }
    config = load_config(write_config(tmp_path, archive=tmp_path / "a.jsonl", target=section))
    plugin = target_plugin("github")

    def open_target() -> Target:
        return plugin.build(config.target, config.run)

    report = check_target(open_target, plugin=plugin, section=config.target)
    assert {"list", "reconcile", "delete"} <= set(report.abilities)


FIXTURES = Path(__file__).parent / "fixtures" / "exports"


def test_the_disqus_and_wordpress_sources_pass_the_source_contract() -> None:
    """Read as every run reads them: with the page-key rule applied (twins one page)."""
    disqus = check_source(lambda: keyed_source(DisqusSource(FIXTURES / "disqus.xml")))
    assert disqus.statuses["approved"] > 0 and disqus.replies > 0 and disqus.tombstones >= 1
    wordpress = check_source(lambda: keyed_source(WordPressSource(FIXTURES / "wordpress.xml")))
    assert wordpress.statuses["pending"] >= 1 and wordpress.replies > 0


def test_the_waline_export_file_passes_the_target_contract(tmp_path: Path) -> None:
    config = load_config(
        write_config(
            tmp_path,
            archive=tmp_path / "a.jsonl",
            target={"type": "waline", "output": "waline.json"},
        )
    )
    plugin = target_plugin("waline")

    def open_target() -> Target:
        return plugin.build(config.target, config.run)

    report = check_target(open_target, plugin=plugin, section=config.target)
    assert {"page-atomic", "list", "delete"} <= set(report.abilities)
