"""Sources and targets by name, built from the configuration.

The built-in ones are registered through the same entry-point groups a third party uses
(`comment_migrate.sources`, `comment_migrate.targets` in pyproject.toml): a factory takes the
section's config and the run config and returns a Source or a Target.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from migrate.config import RunConfig, SourceConfig, TargetConfig
from migrate.errors import ConfigError
from migrate.model import Capabilities, Source, Target
from utils.retry import RetryPolicy

SOURCE_GROUP = "comment_migrate.sources"
TARGET_GROUP = "comment_migrate.targets"


def retry_policy(run: RunConfig) -> RetryPolicy:
    return RetryPolicy(max_attempts=run.max_attempts)


def matrix_source(config: SourceConfig, run: RunConfig) -> Source:
    from migrate.media import MediaMirror
    from migrate.sources.matrix import MatrixCommentExtractor

    mirror = None
    if config.media is not None:
        mirror = MediaMirror(
            config.media.dir,
            config.media.base_url,
            homeserver=config.homeserver,
            max_bytes=config.media.max_bytes,
            timeout=run.timeout,
            policy=retry_policy(run),
        )
    return MatrixCommentExtractor(
        homeserver=config.homeserver,
        site=config.site,
        server_name=config.server_name or None,
        prefix=config.prefix,
        token=config.token(),
        discover=config.discover,
        pages_file=config.pages_file,
        uri_template=config.uri_template,
        timeout=run.timeout,
        policy=retry_policy(run),
        mirror=mirror,
    )


def archive_source(config: SourceConfig, run: RunConfig) -> Source:
    from migrate.sources.archive import ArchiveSource

    assert config.path is not None  # the schema requires it for type = "archive"
    return ArchiveSource(config.path)


def http_target(config: TargetConfig, run: RunConfig) -> Target:
    from migrate.targets.http import HttpTarget

    return HttpTarget(
        config.url, token=config.token(), timeout=run.timeout, policy=retry_policy(run)
    )


def isso_target(config: TargetConfig, run: RunConfig) -> Target:
    from migrate.targets.isso import IssoTarget

    return IssoTarget(
        config.url, timeout=run.timeout, policy=retry_policy(run), db_path=config.db_path
    )


def wxr_target(config: TargetConfig, run: RunConfig) -> Target:
    from migrate.targets.wxr import WxrTarget

    assert config.output is not None  # the schema requires it for file targets
    return WxrTarget(config.output, site_url=config.site_url)


def jsonl_target(config: TargetConfig, run: RunConfig) -> Target:
    from migrate.targets.jsonl import JsonlTarget

    assert config.output is not None
    return JsonlTarget(config.output)


def _factories(group: str) -> dict[str, Callable[..., Any]]:
    found: dict[str, Callable[..., Any]] = {}
    for ep in entry_points(group=group):
        found[ep.name] = ep.load
    return found


_BUILTIN_SOURCES: dict[str, Callable[[SourceConfig, RunConfig], Source]] = {
    "matrix": matrix_source,
    "archive": archive_source,
}
_BUILTIN_TARGETS: dict[str, Callable[[TargetConfig, RunConfig], Target]] = {
    "http": http_target,
    "isso": isso_target,
    "wxr": wxr_target,
    "jsonl": jsonl_target,
}


def _resolve(kind: str, name: str, builtin: dict[str, Any], group: str) -> Callable[..., Any]:
    if name in builtin:
        return builtin[name]  # type: ignore[no-any-return]
    loaders = _factories(group)
    if name not in loaders:
        known = ", ".join(sorted(set(builtin) | set(loaders)))
        raise ConfigError(f"unknown {kind} type {name!r} (known: {known})")
    factory = loaders[name]()
    if not callable(factory):
        raise ConfigError(f"{kind} plugin {name!r} ({group}) is not callable")
    return factory  # type: ignore[no-any-return]


def build_source(config: SourceConfig, run: RunConfig) -> Source:
    return _resolve("source", config.type, _BUILTIN_SOURCES, SOURCE_GROUP)(config, run)  # type: ignore[no-any-return]


def target_capabilities(config: TargetConfig, run: RunConfig) -> tuple[str, Capabilities]:
    """A target's name and rules without opening its files (a dry run must not touch
    them); network targets open nothing until they are used."""
    if config.type == "wxr":
        from migrate.targets.wxr import WxrTarget

        return WxrTarget.name, WxrTarget.capabilities
    if config.type == "jsonl":
        from migrate.targets.jsonl import DEFAULT_CAPABILITIES

        return "jsonl", DEFAULT_CAPABILITIES
    target = build_target(config, run)
    try:
        return target.name, target.capabilities
    finally:
        target.close()


def build_target(config: TargetConfig, run: RunConfig) -> Target:
    return _resolve("target", config.type, _BUILTIN_TARGETS, TARGET_GROUP)(config, run)  # type: ignore[no-any-return]
