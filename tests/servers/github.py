"""The GitHub STAND-IN (migrate.testing.github_standin): not GitHub, which cannot run here,
but a GraphQL server on 127.0.0.1 that validates and executes every query against GitHub's
published schema (npm `@octokit/graphql-schema`, installed once into a cache folder).

Fixtures (registered through tests/conftest.py): `github_schema` (the schema file; skips,
saying why, only when npm is missing and no cached copy exists), `github_standin` (one
stand-in per test, no secondary limit, token GITHUB_STANDIN_TOKEN).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from migrate.testing.github_standin import GitHubStandIn, default_cache, schema_path

__all__ = ["GITHUB_STANDIN_TOKEN", "GitHubStandIn", "github_schema", "github_standin"]

GITHUB_STANDIN_TOKEN = "ghp_standin0123456789abcdef"


@pytest.fixture(scope="session")
def github_schema() -> Path:
    cached = default_cache() / "node_modules" / "@octokit" / "graphql-schema" / "schema.graphql"
    if not cached.is_file() and shutil.which("npm") is None:
        pytest.skip("npm is needed once to install GitHub's schema (@octokit/graphql-schema)")
    return schema_path()


@pytest.fixture
def github_standin(github_schema: Path) -> Iterator[GitHubStandIn]:
    server = GitHubStandIn(token=GITHUB_STANDIN_TOKEN, schema=github_schema).start()
    try:
        yield server
        assert server.invalid == [], f"queries GitHub's schema refuses: {server.invalid}"
    finally:
        server.stop()
