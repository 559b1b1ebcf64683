"""The pytest fixture of the HTTP contract server; the server itself lives in
migrate.testing.contract (demos and benchmarks use it too), re-exported here.

Fixture (registered through tests/conftest.py): `contract_server` (one per test, default
settings; tests needing others start their own `ContractServer(...)`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from migrate.testing.contract import Body, ContractServer, Fault, invalid_comment

__all__ = ["Body", "ContractServer", "Fault", "contract_server", "invalid_comment"]


@pytest.fixture
def contract_server() -> Iterator[ContractServer]:
    """A started contract server with default settings (no token, no faults)."""
    server = ContractServer().start()
    try:
        yield server
    finally:
        server.stop()
