"""The pytest fixtures of a real Waline; the server itself lives in migrate.testing.waline
(benchmarks use it too).

Fixtures (registered through tests/conftest.py):
- `waline_install` (session): `npm ci` of the pinned @waline/vercel into its cache folder,
  once; an install that fails fails the tests that need it (never a skip).
- `waline`: a started Waline with a fresh database, in Asia/Shanghai (its official image's
  zone: stored times are that zone's wall clock), with the administrator registered.
- `waline_factory`: `waline_factory(tz="UTC")` starts more; all are stopped after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from migrate.testing.waline import WalineServer, install

__all__ = ["WalineServer", "waline", "waline_factory", "waline_install"]


@pytest.fixture(scope="session")
def waline_install() -> Path:
    return install()


@pytest.fixture
def waline_factory(waline_install: Path, tmp_path: Path) -> Iterator[Callable[..., WalineServer]]:
    servers: list[WalineServer] = []

    def start(tz: str = "Asia/Shanghai") -> WalineServer:
        server = WalineServer(tmp_path / f"waline-{len(servers)}", tz=tz).start()
        servers.append(server)
        server.admin_token()
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def waline(waline_factory: Callable[..., WalineServer]) -> WalineServer:
    return waline_factory()
