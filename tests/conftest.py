"""Shared fixtures. Each real server has its own module under tests/servers/."""

from collections.abc import Iterator

import pytest

from utils.redact import forget_secrets

pytest_plugins = [
    "tests.servers.synapse",
    "tests.servers.isso",
    "tests.servers.contract",
    "tests.servers.workerd",
    "tests.servers.faulty",
    "tests.servers.waline",
    "tests.servers.github",
]


@pytest.fixture(autouse=True)
def _no_secret_outlives_its_test() -> Iterator[None]:
    """The registry of secrets is process-wide; a test's tokens must not redact the next
    test's output."""
    yield
    forget_secrets()
