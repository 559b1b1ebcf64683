"""Shared fixtures. Each real server has its own module under tests/servers/."""

pytest_plugins = [
    "tests.servers.synapse",
    "tests.servers.isso",
    "tests.servers.contract",
    "tests.servers.workerd",
]
