"""migration.toml: read, validate against the shipped JSON Schema, resolve secrets from env.

Errors name the file and the key. Secrets never live in the file: `token_env` names the
environment variable that holds them. The config digest covers what the migration *is*
(which source, which target), not how fast it runs (workers, timeouts), so tuning a rerun
never invalidates a checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from migrate.errors import ConfigError

DEFAULT_CONFIG = "migration.toml"
DEFAULT_CHECKPOINT = ".migration_checkpoint.json"


@cache
def config_schema() -> dict[str, Any]:
    text = resources.files("migrate").joinpath("schemas/config.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@dataclass(frozen=True)
class MediaConfig:
    """`[media]`: copies of the media comments link, served from `base_url`."""

    dir: Path
    base_url: str
    max_bytes: int = 50 * 1024 * 1024


@dataclass(frozen=True)
class SourceConfig:
    type: str
    homeserver: str = ""
    server_name: str = ""
    site: str = ""
    prefix: str = "comments_"
    token_env: str = "MATRIX_ACCESS_TOKEN"  # noqa: S105  (a variable name, not a secret)
    discover: str = "pages_file"
    pages_file: Path | None = None
    uri_template: str = "/{section_id}/"
    path: Path | None = None  # archive
    media: MediaConfig | None = None  # the [media] section, for sources that link media

    def token(self) -> str | None:
        """The access token, or None: an unset or empty variable means 'read as a guest'."""
        return os.environ.get(self.token_env) or None


@dataclass(frozen=True)
class TargetConfig:
    type: str
    url: str = ""
    token_env: str = "TARGET_TOKEN"  # noqa: S105  (a variable name, not a secret)
    output: Path | None = None
    site_url: str = ""
    db_path: Path | None = None
    mention_parent: bool = True

    def token(self) -> str | None:
        return os.environ.get(self.token_env) or None


@dataclass(frozen=True)
class RunConfig:
    checkpoint: Path = Path(DEFAULT_CHECKPOINT)
    workers: int = 4
    max_attempts: int = 6
    timeout: float = 30.0


@dataclass(frozen=True)
class Config:
    source: SourceConfig
    target: TargetConfig
    run: RunConfig = field(default_factory=RunConfig)
    path: Path | None = None
    media: MediaConfig | None = None

    def identity(self) -> dict[str, str]:
        """What makes this migration this migration (compared against the checkpoint)."""
        s, t = self.source, self.target
        ident = {"source.type": s.type, "target.type": t.type}
        if s.type == "matrix":
            ident.update({
                "source.homeserver": s.homeserver.rstrip("/"),
                "source.server_name": s.server_name,
                "source.site": s.site,
                "source.prefix": s.prefix,
            })
        else:
            ident["source.path"] = str(s.path)
        if t.type in ("http", "isso"):
            ident["target.url"] = t.url.rstrip("/")
        else:
            ident["target.output"] = str(t.output)
        return ident

    def digest(self) -> str:
        return identity_digest(self.identity())


def identity_digest(identity: dict[str, str]) -> str:
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def describe_identity_change(old: dict[str, str], new: dict[str, str]) -> str:
    changes = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            changes.append(f"{key}: {old.get(key, '(unset)')!r} -> {new.get(key, '(unset)')!r}")
    return "; ".join(changes) or "(identity unknown)"


def _key_path(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    if error.validator == "required" and isinstance(error.validator_value, list):
        instance = error.instance if isinstance(error.instance, dict) else {}
        missing = [k for k in error.validator_value if k not in instance]
        if missing:
            parts.append(missing[0])
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)
        if extra:
            parts.append(extra[0])
    return ".".join(parts) or "(top level)"


def _explain(error: jsonschema.ValidationError) -> str:
    if error.validator == "required":
        return "is required"
    if error.validator == "additionalProperties":
        return "is not a known key"
    if error.validator == "enum":
        return f"must be one of {', '.join(map(repr, error.validator_value))}"
    if error.validator == "pattern" and isinstance(error.instance, str):
        return f"{error.instance!r} does not have the expected form"
    return str(error.message)


def parse_config(data: dict[str, Any], path: Path | None = None) -> Config:
    where = str(path) if path else "configuration"
    validator = jsonschema.Draft202012Validator(config_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), e.path))
    if errors:
        # the deepest specific error says most; if/then branches report "required" on a table
        error = max(errors, key=lambda e: len(list(e.absolute_path)))
        raise ConfigError(f"{where}: key {_key_path(error)} {_explain(error)}")

    base = path.parent if path else Path()

    def rel(value: str | None) -> Path | None:
        if value is None:
            return None
        p = Path(value).expanduser()
        return p if p.is_absolute() else base / p

    src: dict[str, Any] = dict(data["source"])
    tgt: dict[str, Any] = dict(data["target"])
    media_data: dict[str, Any] | None = data.get("media")
    media = None
    if media_data is not None:
        media_dir = rel(media_data["dir"])
        assert media_dir is not None  # the schema requires it
        media = MediaConfig(
            dir=media_dir,
            base_url=media_data["base_url"],
            max_bytes=media_data.get("max_bytes", MediaConfig.max_bytes),
        )
    homeserver = str(src.get("homeserver", "")).rstrip("/")
    server_name = src.get("server_name") or _host_of(homeserver)
    source = SourceConfig(
        type=src["type"],
        homeserver=homeserver,
        server_name=server_name,
        site=src.get("site", ""),
        prefix=src.get("prefix", "comments_"),
        token_env=src.get("token_env", "MATRIX_ACCESS_TOKEN"),
        discover=src.get("discover", "pages_file"),
        pages_file=rel(src.get("pages_file")),
        uri_template=src.get("uri_template") or tgt.get("uri_template") or "/{section_id}/",
        path=rel(src.get("path")),
        media=media,
    )
    if source.type == "matrix" and source.discover == "pages_file" and source.pages_file is None:
        raise ConfigError(
            f"{where}: key source.pages_file is required when discover = 'pages_file'"
        )
    target = TargetConfig(
        type=tgt["type"],
        url=str(tgt.get("url", "")).rstrip("/"),
        token_env=tgt.get("token_env", "TARGET_TOKEN"),
        output=rel(tgt.get("output")),
        site_url=tgt.get("site_url", ""),
        db_path=rel(tgt.get("db_path")),
        mention_parent=tgt.get("mention_parent", True),
    )
    run_data: dict[str, Any] = dict(data.get("run", {}))
    run = RunConfig(
        checkpoint=rel(run_data.get("checkpoint")) or base / DEFAULT_CHECKPOINT,
        workers=run_data.get("workers", 4),
        max_attempts=run_data.get("max_attempts", 6),
        timeout=float(run_data.get("timeout", 30.0)),
    )
    return Config(source=source, target=target, run=run, path=path, media=media)


def _host_of(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or ""


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
type = "matrix"                     # "matrix" (a live homeserver) or "archive"
homeserver = "https://matrix.example.org"
# server_name = "example.org"       # alias server part; default: the homeserver's host
site = "myblog"                     # your Cactus site name
prefix = "comments_"                # Cactus namespace prefix (self-hosters may have changed it)
token_env = "MATRIX_ACCESS_TOKEN"   # unset or empty: read as a guest
discover = "pages_file"             # "pages_file" | "admin" | "joined_rooms"
pages_file = "pages.csv"            # columns: section_id[,uri[,title]]
# uri_template = "/{section_id}/"   # page URI when the pages file gives none
# path = "site.archive.jsonl"       # with type = "archive": made by `comment-migrate extract`

[target]
type = "http"                       # "http" | "isso" | "wxr" | "jsonl"
url = "https://comments.example.org"
token_env = "TARGET_TOKEN"          # bearer token for the http target
# output = "comments.wxr"           # for the file targets (wxr, jsonl)
# mention_parent = true             # "@Name: " when a reply is flattened under another comment

# [media]                           # copy images, files and avatars off the homeserver
# dir = "media"                     # where the copies go (publish this folder)
# base_url = "https://example.org/comment-media/"   # where readers will find them
# max_bytes = 52428800              # larger files keep their homeserver link

[run]
checkpoint = ".migration_checkpoint.json"
workers = 4
max_attempts = 6                    # per request, for connection errors, timeouts, 429 and 5xx
timeout = 30                        # seconds per request
"""
