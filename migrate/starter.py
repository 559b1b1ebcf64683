"""`init --source TYPE --target TYPE`: a configuration with just the keys that pair needs.

Written from each plugin's own schema (migrate.plugins): the keys it requires, with the
first of their `examples`, then the ones it may take, commented out. A third-party plugin's
configuration is written the same way as a built-in one's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from migrate.config import DEFAULT_CHECKPOINT, SHARED_KEYS
from migrate.errors import ConfigError
from migrate.plugins import Schema, source_plugin, source_types, target_plugin

HEADER = """\
# comment-migrate configuration: {source} -> {target}. Secrets never go in this file: each
# token_env key names the environment variable that holds one.
"""
RUN = f"""
[run]
checkpoint = "{DEFAULT_CHECKPOINT}"
workers = 4                         # requests in flight over the whole run
"""


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(str(value), ensure_ascii=False)  # a TOML basic string is JSON's


def _example(spec: Mapping[str, Any]) -> Any:
    if spec.get("examples"):
        return spec["examples"][0]
    if spec.get("enum"):
        return spec["enum"][0]
    return {"boolean": False, "integer": 0}.get(str(spec.get("type")), "")


def _required(schema: Schema) -> list[str]:
    """Required keys, and those a default branch requires (matrix: `discover` defaults to
    the pages file, which then must be named)."""
    keys = list(schema.get("required", []))
    keys += [k for k in schema.get("then", {}).get("required", []) if k not in keys]
    return keys


def _table(name: str, kind: str, schema: Schema, shared: Mapping[str, Any]) -> str:
    properties: dict[str, Any] = dict(schema.get("properties", {}))
    required = _required(schema)
    lines = [f"[{name}]", f"type = {_toml(kind)}"]
    optional = [k for k in properties if k not in required]
    optional += [k for k in shared if k not in properties]
    for key in required + optional:
        spec = properties.get(key) or shared[key]
        line = f"{key} = {_toml(_example(spec))}"
        if key not in required:
            line = "# " + line
        note = spec.get("description")
        lines.append(f"{line:<35} # {note}" if note else line)
    return "\n".join(lines) + "\n"


def starter_config(source: str, target: str) -> str:
    """The configuration of a `source` -> `target` migration; unknown types raise
    ConfigError naming the installed ones."""
    try:
        splugin = source_plugin(source)
        tplugin = target_plugin(target)
    except ConfigError as exc:
        side = "--target" if source in source_types() else "--source"
        raise ConfigError(f"{side} {exc}") from None
    site_url = {"site_url": SHARED_KEYS["target"]["site_url"]}
    return (
        "\n".join(
            [
                HEADER.format(source=source, target=target),
                _table("source", splugin.name, splugin.schema, {}),
                _table("target", tplugin.name, tplugin.schema, site_url),
            ]
        )
        + RUN
    )
