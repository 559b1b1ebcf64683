"""migration.toml: read, validate against the shipped JSON Schema, resolve secrets from env.

Errors name the file and the key. Secrets never live in the file: `token_env` names the
environment variable that holds them. The config digest covers what the migration *is*
(which source, which target), not how fast it runs (workers, timeouts), so tuning a rerun
never invalidates a checkpoint.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from migrate.errors import ConfigError, MissingToken
from migrate.pages import PageRule, page_rule
from utils.redact import InvalidSecret, read_token

DEFAULT_CONFIG = "migration.toml"
DEFAULT_CHECKPOINT = ".migration_checkpoint.json"
DEFAULT_URI = "/{page_id}/"


@cache
def config_schema() -> dict[str, Any]:
    text = resources.files("migrate").joinpath("schemas/config.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@dataclass(frozen=True)
class SectionConfig:
    """One plugin's table ([source] or [target]): its type and its own keys, validated by
    the plugin's schema, paths already resolved against the configuration file's folder."""

    type: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def text(self, key: str, default: str = "") -> str:
        value = self.values.get(key)
        return default if value is None else str(value)

    def path(self, key: str) -> Path | None:
        value = self.values.get(key)
        return None if value is None else Path(value)

    def token(self, default_env: str) -> str | None:
        """The secret named by `token_env` (or `default_env`), or None when the variable is
        unset or empty. Secrets never live in the file."""
        variable = self.text("token_env", default_env)
        try:
            return read_token(variable)
        except InvalidSecret as exc:
            raise ConfigError(str(exc)) from None

    def required_token(self, default_env: str, table: str) -> str | None:
        """The token, for a system that needs one: a `token_env` the file names must hold
        one (MissingToken, before any request); without `token_env`, `default_env` if set."""
        token = self.token(default_env)
        if token is None and self.get("token_env"):
            raise MissingToken(self.text("token_env"), table)
        return token


@dataclass(frozen=True)
class MediaConfig:
    """`[media]`: copies of the media comments link, served from `base_url`."""

    dir: Path
    base_url: str
    max_bytes: int = 50 * 1024 * 1024


@dataclass(frozen=True)
class RunConfig:
    checkpoint: Path = Path(DEFAULT_CHECKPOINT)
    workers: int = 4
    max_attempts: int = 6
    timeout: float = 30.0
    # a reply whose parent was removed from the target: "fail" its page, hang it under its
    # nearest ancestor still there ("root"), or skip it with its replies ("skip")
    orphans: str = "fail"


@dataclass(frozen=True)
class Config:
    source: SectionConfig
    target: SectionConfig
    run: RunConfig = field(default_factory=RunConfig)
    path: Path | None = None
    media: MediaConfig | None = None
    pages: PageRule = field(default_factory=PageRule)  # [pages]: where comments land

    @property
    def uri_template(self) -> str:
        """A page's URI on the site when the source gives none."""
        return str(
            self.source.get("uri_template") or self.target.get("uri_template") or DEFAULT_URI
        )

    @property
    def keep_ip(self) -> bool:
        return bool(self.source.get("keep_ip", False))

    @property
    def mention_parent(self) -> bool:
        return bool(self.target.get("mention_parent", True))


def _problems(error: jsonschema.ValidationError, prefix: str) -> list[str]:
    """What one schema error says, key by key: an unknown key with the known one it is
    closest to, a missing key, a value of the wrong form."""
    at = [str(p) for p in error.absolute_path]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        problems = []
        for extra in sorted(k for k in error.instance if k not in allowed):
            key = prefix + ".".join([*at, extra])
            near = difflib.get_close_matches(extra, allowed, n=1, cutoff=0.6)
            hint = f" (did you mean {prefix}{'.'.join([*at, near[0]])}?)" if near else ""
            problems.append(f"key {key} is not a known key{hint}")
        return problems
    if error.validator == "required" and isinstance(error.validator_value, list):
        instance = error.instance if isinstance(error.instance, dict) else {}
        missing = [k for k in error.validator_value if k not in instance]
        return [f"key {prefix}{'.'.join([*at, k])} is required" for k in missing]
    key = prefix + (".".join(at) or "(top level)")
    if error.validator == "enum":
        return [f"key {key} must be one of {', '.join(map(repr, error.validator_value))}"]
    if error.validator == "pattern" and isinstance(error.instance, str):
        return [f"key {key} {error.instance!r} does not have the expected form"]
    return [f"key {key} {error.message}"]


_URI_TEMPLATE = {
    "type": "string",
    # one placeholder, the page's id ({section_id}: Cactus's name for it), no other braces
    "pattern": "^[^{}]*\\{(page_id|section_id)\\}[^{}]*$",
    "examples": [DEFAULT_URI],
    "description": "a page's URI when the source gives none",
}
SHARED_KEYS: dict[str, dict[str, Any]] = {
    "source": {
        "type": {"type": "string"},
        "uri_template": _URI_TEMPLATE,
        # commenters' IP addresses reach the target only when asked for
        "keep_ip": {"type": "boolean", "description": "pass commenters' IP addresses on"},
    },
    "target": {
        "type": {"type": "string"},
        "uri_template": _URI_TEMPLATE,
        "mention_parent": {
            "type": "boolean",
            "examples": [True],
            "description": '"@Name: " on replies moved up by a depth limit',
        },
        "site_url": {
            "type": "string",
            "pattern": "^https?://[^\\s]+$",
            "examples": ["https://blog.example.org"],
            "description": "the site: absolute page links; `check` fetches each page",
        },
    },
}


def _problems_of(data: Any, schema: Mapping[str, Any], prefix: str = "") -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    found: list[str] = []
    for error in validator.iter_errors(data):
        found.extend(p for p in _problems(error, prefix) if p not in found)
    return found


def _raise_all(where: str, problems: list[str]) -> None:
    """Every problem at once, one line each, naming the file: one round of editing."""
    if problems:
        raise ConfigError("\n".join(f"{where}: {p}" for p in problems))


def _section(
    problems: list[str],
    side: str,
    table: Mapping[str, Any],
    plugin_schema: Mapping[str, Any],
    path_keys: tuple[str, ...],
    base: Path,
) -> SectionConfig:
    schema = {
        "type": "object",
        "additionalProperties": False,
        **{k: v for k, v in plugin_schema.items() if k != "properties"},
        "properties": {**SHARED_KEYS[side], **plugin_schema.get("properties", {})},
    }
    problems.extend(_problems_of(dict(table), schema, prefix=f"{side}."))
    values = dict(table)
    for key in path_keys:
        if values.get(key) is not None:
            p = Path(values[key]).expanduser()
            values[key] = p if p.is_absolute() else base / p
    return SectionConfig(type=str(table["type"]), values=values)


def parse_config(data: dict[str, Any], path: Path | None = None) -> Config:
    from migrate.plugins import source_plugin, target_plugin

    where = str(path) if path else "configuration"
    problems = _problems_of(data, config_schema())
    if any(p.startswith(("key source ", "key target ")) for p in problems):
        _raise_all(where, problems)  # no table to look into
    base = path.parent if path else Path()
    sections: dict[str, SectionConfig] = {}
    for side, find in (("source", source_plugin), ("target", target_plugin)):
        table = data.get(side, {})
        if not isinstance(table, dict) or not isinstance(table.get("type"), str):
            continue  # the shared schema said why
        try:
            plugin = find(table["type"])
        except ConfigError as exc:
            problems.append(f"key {side}.type {exc}")
            continue
        sections[side] = _section(problems, side, table, plugin.schema, plugin.path_keys, base)
    _raise_all(where, problems)
    source, target = sections["source"], sections["target"]
    run_data: dict[str, Any] = dict(data.get("run", {}))
    checkpoint = Path(run_data.get("checkpoint") or DEFAULT_CHECKPOINT).expanduser()
    run = RunConfig(
        checkpoint=checkpoint if checkpoint.is_absolute() else base / checkpoint,
        workers=run_data.get("workers", 4),
        max_attempts=run_data.get("max_attempts", 6),
        timeout=float(run_data.get("timeout", 30.0)),
        orphans=str(run_data.get("orphans", "fail")),
    )
    media = None
    if data.get("media") is not None:
        media_dir = Path(data["media"]["dir"]).expanduser()
        media = MediaConfig(
            dir=media_dir if media_dir.is_absolute() else base / media_dir,
            base_url=data["media"]["base_url"],
            max_bytes=data["media"].get("max_bytes", MediaConfig.max_bytes),
        )
    pages = page_rule(data.get("pages"), base, where)
    return Config(source=source, target=target, run=run, path=path, media=media, pages=pages)


def load_config(path: Path | str = DEFAULT_CONFIG) -> Config:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such configuration file (create one with `comment-migrate init {path}`)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return parse_config(data, path)


TEMPLATE = """\
# comment-migrate configuration. Secrets never go in this file: each *_env key names the
# environment variable that holds one.

[source]
type = "matrix"                     # "matrix" (a live homeserver), "archive", or an export:
                                    # "disqus", "wordpress" (with `path`)
homeserver = "https://matrix.example.org"
# server_name = "example.org"       # alias server part; default: the homeserver's host
site = "myblog"                     # your Cactus site name
prefix = "comments_"                # Cactus namespace prefix (self-hosters may have changed it)
token_env = "MATRIX_ACCESS_TOKEN"   # unset or empty: read as a guest
discover = "pages_file"             # "pages_file" | "admin" | "joined_rooms"
pages_file = "pages.csv"            # columns: section_id[,uri[,title]]
# uri_template = "/{page_id}/"      # page URI when the pages file gives none
# path = "site.archive.jsonl"       # with type = "archive": made by `comment-migrate extract`
                                    # disqus, wordpress: the export, plain or gzip

[target]
type = "http"                       # "http" | "isso" | "wxr" | "disqus" | "jsonl"
url = "https://comments.example.org"
token_env = "TARGET_TOKEN"          # bearer token for the http target
# output = "comments.wxr"           # for the file targets (wxr, disqus, jsonl)
# importer = "isso"                 # wxr, disqus: "isso" | "wordpress" | "remark42" | "disqus"
# allow_images = false              # importer "isso": true if Isso allows <img>
# site_url = "https://blog.example.org"   # the site; page links in files, `check` fetches pages
# mention_parent = true             # "@Name: " when a reply is flattened under another comment

[run]
checkpoint = ".migration_checkpoint.json"
workers = 4
max_attempts = 6                    # per request, for connection errors, timeouts, 429 and 5xx
timeout = 30                        # seconds per request
# orphans = "fail"                  # a reply whose parent was removed in the new system:
                                    #   "fail" its page, "root" (hang it under the nearest
                                    #   ancestor still there), "skip" (with the reason)

# [pages]                           # where each page's comments land (docs/pages.md)
# rewrite = [["^/blog/(.*)$", "/posts/\\\\1"]]
# map = "pages.csv"                 # source URL or key, target key

# [media]                           # copy images, files and avatars off the homeserver
# dir = "media"                     # where the copies go (publish this folder)
# base_url = "https://example.org/comment-media/"   # where readers will find them
"""
