"""Waline's plugins: one `type = "waline"` for its server and its export file.

Source: `url` (+ `token_env`, default WALINE_TOKEN: the administrator's JWT) reads the server's
export endpoint; `path` reads an export file (`timezone`: the zone its times without one were
written in). Target: `url` (+ `token_env`) writes through the server's import endpoint;
`output` writes the export file its admin Import reads.
"""

from __future__ import annotations

from pathlib import Path

from migrate.abilities import Target
from migrate.config import RunConfig, SectionConfig
from migrate.errors import ConfigError
from migrate.model import Capabilities
from migrate.plugins import SourcePlugin, TargetPlugin, retry_policy
from migrate.systems.waline.export import WalineFileTarget
from migrate.systems.waline.source import WalineSource
from migrate.systems.waline.target import CAPABILITIES, WalineTarget

TOKEN_ENV = "WALINE_TOKEN"  # noqa: S105 - the name of a variable, not a secret
_URL = {"type": "string", "pattern": "^https?://[^\\s]+$"}
_TOKEN_ENV = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}


def _url_unless(key: str) -> dict[str, object]:
    """Without the file key, `url` is required (the error then names `url`)."""
    return {"if": {"not": {"required": [key]}}, "then": {"required": ["url"]}}


def _one_place(section: SectionConfig, side: str, key: str) -> None:
    if section.get("url") is not None and section.get(key) is not None:
        raise ConfigError(
            f"[{side}] has both url and {key}: a Waline {side} is a server (url) or a file "
            f"({key}), one of the two"
        )


def _source(section: SectionConfig, run: RunConfig) -> WalineSource:
    _one_place(section, "source", "path")
    return WalineSource(
        path=section.path("path"),
        url=section.get("url"),
        token=section.token(TOKEN_ENV) if section.get("url") else None,
        zone=section.get("timezone"),
        timeout=run.timeout,
        policy=retry_policy(run),
    )


SOURCE = SourcePlugin(
    name="waline",
    build=_source,
    path_keys=("path",),
    schema={
        **_url_unless("path"),
        "properties": {
            "url": _URL,
            "path": {"type": "string", "minLength": 1},
            "token_env": _TOKEN_ENV,
            "timezone": {"type": "string", "minLength": 1},
        },
    },
)


def _output(section: SectionConfig) -> Path | None:
    return section.path("output")


def _target(section: SectionConfig, run: RunConfig) -> Target:
    _one_place(section, "target", "output")
    output = _output(section)
    if output is not None:
        return WalineFileTarget(output, file_mode=None)
    return WalineTarget(
        section.text("url"),
        token=section.token(TOKEN_ENV),
        token_env=section.text("token_env", TOKEN_ENV),
        timeout=run.timeout,
        policy=retry_policy(run),
    )


def _capabilities(section: SectionConfig) -> Capabilities:
    return WalineFileTarget.capabilities if section.get("output") else CAPABILITIES


def _target_identity(section: SectionConfig) -> dict[str, str]:
    output = _output(section)
    if output is not None:
        return {"output": str(output.resolve())}
    return {"url": section.text("url").rstrip("/")}


def _recognizes(path: Path) -> bool:
    return WalineFileTarget.recognizes(path)


TARGET = TargetPlugin(
    name="waline",
    build=_target,
    capabilities=_capabilities,
    identity=_target_identity,
    output=lambda section: None if _output(section) is None else str(_output(section)),
    recognizes=_recognizes,
    path_keys=("output",),
    schema={
        **_url_unless("output"),
        "properties": {
            "url": _URL,
            "output": {"type": "string", "minLength": 1},
            "token_env": _TOKEN_ENV,
        },
    },
)
