"""Sources and targets as plugins: cheap factories found by name.

A plugin says who it is without opening anything: its `name`, the JSON Schema of its own
configuration keys, and, for a target, its `capabilities` and identity (no network, no
credentials, no files). Only `build` makes the object that does the work; a source's
identity is asked of the built source. The built-in ones are registered through the same
entry-point groups a third party uses (`comment_migrate.sources`, `comment_migrate.targets`),
each declared by its system's package as `SOURCE` / `TARGET`.

A target needs only `create`, `begin_page`, `finish_page`, `abort_page`, `check` and
`close` (migrate.abilities.Target); reading back (`list_page`), reconciling, deleting and
batches are abilities it may have, asked of the object, never of its name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrate.abilities import Source, Target
from migrate.errors import ConfigError
from migrate.model import Capabilities
from utils.retry import RetryPolicy

if TYPE_CHECKING:
    from migrate.config import RunConfig, SectionConfig

SOURCE_GROUP = "comment_migrate.sources"
TARGET_GROUP = "comment_migrate.targets"

Schema = Mapping[str, Any]


@dataclass(frozen=True)
class SourcePlugin:
    name: str
    build: Callable[[SectionConfig, RunConfig], Source]
    # JSON Schema of the plugin's own keys in [source]: {"properties": ..., "required": [...]}
    schema: Schema = field(default_factory=dict)
    path_keys: tuple[str, ...] = ()  # resolved relative to the configuration file


@dataclass(frozen=True)
class TargetPlugin:
    name: str
    build: Callable[[SectionConfig, RunConfig], Target]
    capabilities: Callable[[SectionConfig], Capabilities]
    schema: Schema = field(default_factory=dict)
    # what identifies the target, known without opening it: equal to the opened target's
    # identity() (migrate/identity.py; the target contract kit checks it)
    identity: Callable[[SectionConfig], dict[str, str]] = lambda section: {}
    path_keys: tuple[str, ...] = ()
    # where its output goes, for the summary (file targets)
    output: Callable[[SectionConfig], str | None] = lambda section: None
    # file targets: is an existing file at the output one this target writes? (`check`
    # asks without opening the target: opening one may repair, i.e. write, its file)
    recognizes: Callable[[Path], bool] | None = None


def retry_policy(run: RunConfig) -> RetryPolicy:
    return RetryPolicy(max_attempts=run.max_attempts)


@cache
def _registered(group: str) -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=group)}


def _find(kind: str, group: str, name: str, expected: type) -> Any:
    found = _registered(group)
    if name not in found:
        known = ", ".join(map(repr, sorted(found)))
        raise ConfigError(
            f"must be one of {known} ({name!r} is no installed {kind}; a plugin adds one "
            f"through the {group!r} entry point)"
        )
    try:
        plugin = found[name].load()
    except Exception as exc:  # a broken third-party package must not be a traceback
        raise ConfigError(f"{kind} plugin {name!r} ({group}) cannot be loaded: {exc}") from exc
    if not isinstance(plugin, expected):
        raise ConfigError(
            f"{kind} plugin {name!r} ({group}) is not a {expected.__name__} (see migrate.plugins)"
        )
    return plugin


def source_plugin(name: str) -> SourcePlugin:
    plugin: SourcePlugin = _find("source", SOURCE_GROUP, name, SourcePlugin)
    return plugin


def target_plugin(name: str) -> TargetPlugin:
    plugin: TargetPlugin = _find("target", TARGET_GROUP, name, TargetPlugin)
    return plugin


def source_types() -> list[str]:
    return sorted(_registered(SOURCE_GROUP))


def target_types() -> list[str]:
    return sorted(_registered(TARGET_GROUP))


def build_source(section: SectionConfig, run: RunConfig) -> Source:
    return source_plugin(section.type).build(section, run)


def build_target(section: SectionConfig, run: RunConfig) -> Target:
    return target_plugin(section.type).build(section, run)
