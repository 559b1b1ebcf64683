"""The pytest fixture of a real Synapse; the server itself lives in migrate.testing.synapse
(demos and benchmarks use it too), re-exported here.

Fixture (registered through tests/conftest.py): `synapse` (one server per session).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from migrate.testing.synapse import (
    AS_SENDER,
    SERVER_NAME,
    SynapseError,
    SynapseServer,
    free_port,
    running_synapse,
)

__all__ = [
    "AS_SENDER",
    "SERVER_NAME",
    "SynapseError",
    "SynapseServer",
    "free_port",
    "running_synapse",
    "synapse",
]


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    """One Synapse for the whole session (start ~2 s); tests make their own site names."""
    # The project's HTTP client honours proxy variables: keep loopback traffic direct.
    saved = {k: os.environ.get(k) for k in ("NO_PROXY", "no_proxy")}
    for key in saved:
        os.environ[key] = ",".join(filter(None, [os.environ.get(key), "127.0.0.1", "localhost"]))
    server = SynapseServer(tmp_path_factory.mktemp("synapse"))
    try:
        yield server.start()
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
