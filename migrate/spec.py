"""A target known by its plugin before it is opened: its name, capabilities and identity,
and how to open it (for writing, or read-only). The facade (migrate/migration.py) and the
verbs both use it, so it sits below them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from migrate.abilities import Target
from migrate.config import Config
from migrate.model import Capabilities
from migrate.plugins import target_plugin


@dataclass(frozen=True)
class TargetSpec:
    """A target known by its rules before it is opened: a dry run plans with the rules and
    never opens the real target (a file target would read, and could repair, its file)."""

    name: str
    capabilities: Capabilities
    identity: Mapping[str, str]
    build: Callable[[], Target]
    output: str | None = None
    recognizes: Callable[[Path], bool] | None = None  # file targets: see TargetPlugin
    # the target opened for reading only (verify); None: `build`
    read: Callable[[], Target] | None = None

    def open_read_only(self) -> Target:
        """The target as a read-only command opens it: nothing written, nothing repaired."""
        return (self.read or self.build)()

    @classmethod
    def from_config(cls, config: Config) -> TargetSpec:
        """The target a migration.toml describes, known by its plugin, not yet opened."""
        plugin = target_plugin(config.target.type)
        section, run = config.target, config.run
        read = plugin.read
        return cls(
            name=plugin.name,
            capabilities=plugin.capabilities(section),
            identity=plugin.identity(section),
            build=lambda: plugin.build(section, run),
            output=plugin.output(section),
            recognizes=plugin.recognizes,
            read=(lambda: read(section, run)) if read is not None else None,
        )

    @classmethod
    def of(cls, target: Target) -> TargetSpec:
        output = getattr(target, "output", None)
        return cls(
            name=target.name,
            capabilities=target.capabilities,
            identity=dict(target.identity()),
            build=lambda: target,
            output=str(output) if output is not None else None,
        )
