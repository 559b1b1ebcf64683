"""The pytest fixtures of a real Isso; the server itself lives in migrate.testing.isso (demos
and benchmarks use it too), re-exported here.

Fixtures (registered through tests/conftest.py):
- `isso`: a started server with a fresh database, one per test.
- `isso_factory`: `isso_factory(**overrides)` starts more servers (or other settings);
  all are stopped after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from migrate.testing.isso import IssoServer, child_env, free_port, isso_executable

__all__ = ["IssoServer", "child_env", "free_port", "isso", "isso_executable", "isso_factory"]


@pytest.fixture
def isso(tmp_path: Path) -> Iterator[IssoServer]:
    """A started Isso with a fresh database, for one test."""
    server = IssoServer(tmp_path / "isso").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def isso_factory(tmp_path: Path) -> Iterator[Callable[..., IssoServer]]:
    """Start Isso servers with overrides: `isso_factory(general__max_age="1s")`."""
    servers: list[IssoServer] = []

    def start(**config: str) -> IssoServer:
        server = IssoServer(tmp_path / f"isso-{len(servers)}", port=None, **config).start()
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()
