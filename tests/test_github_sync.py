"""`sync` into GitHub Discussions (the STAND-IN for GitHub, checked against GitHub's
schema; tests/servers/github.py) from a real Synapse: what was posted since is added, an edit
rewrites the comment's body (attribution and marker kept), a redaction deletes the comment;
`verify` then agrees, and a second sync sends nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.migration_helpers import invoke, run_json, write_config
from tests.servers.github import GITHUB_STANDIN_TOKEN, GitHubStandIn
from tests.servers.synapse import SynapseServer
from tests.test_sync import _kinds, change_site, current, seed, sync_json
from tests.test_target_github import assert_discussions_hold, target_section

pytestmark = [pytest.mark.synapse, pytest.mark.github]


def test_sync_into_github_applies_news_edits_and_deletions(
    synapse: SynapseServer,
    github_standin: GitHubStandIn,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", GITHUB_STANDIN_TOKEN)
    site = seed(synapse, tmp_path, "syncgithub", synapse.url)
    config = write_config(
        tmp_path, source=site.source(synapse), target=target_section(github_standin)
    )
    assert run_json(config)[0] == 0
    change_site(synapse, site)
    code, summary, stderr = sync_json(config)
    assert code == 0, stderr
    assert summary["comments_imported"] == 4
    kinds = _kinds(summary)
    assert kinds and all(applied for _, applied in kinds.values()), summary["changes"]
    assert {kind for kind, _ in kinds.values()} == {"edit", "delete", "tombstone"}, kinds
    assert_discussions_hold(github_standin, current(synapse, site))
    assert invoke("verify", "-c", str(config)).exit_code == 0
    updates = github_standin.operations["updateDiscussionComment"]
    code, summary, _ = sync_json(config)
    assert code == 0 and summary["comments_imported"] == 0 and summary["changes"] == []
    assert github_standin.operations["updateDiscussionComment"] == updates
