"""The Matrix source's plugin: its configuration keys and how to build it."""

from __future__ import annotations

import urllib.parse

from migrate.config import DEFAULT_URI, RunConfig, SectionConfig
from migrate.plugins import SourcePlugin, retry_policy
from migrate.systems.matrix.discovery import DISCOVERY_MODES
from migrate.systems.matrix.extractor import MatrixCommentExtractor


def _server_name(section: SectionConfig) -> str:
    homeserver = section.text("homeserver").rstrip("/")
    return section.text("server_name") or (urllib.parse.urlsplit(homeserver).hostname or "")


def _build(section: SectionConfig, run: RunConfig) -> MatrixCommentExtractor:
    return MatrixCommentExtractor(
        homeserver=section.text("homeserver"),
        site=section.text("site"),
        server_name=_server_name(section) or None,
        prefix=section.text("prefix", "comments_"),
        token=section.token("MATRIX_ACCESS_TOKEN"),
        token_env=section.text("token_env", "MATRIX_ACCESS_TOKEN"),
        discover=section.text("discover", "pages_file"),
        pages_file=section.path("pages_file"),
        uri_template=section.text("uri_template", DEFAULT_URI),
        timeout=run.timeout,
        policy=retry_policy(run),
    )


PLUGIN = SourcePlugin(
    name="matrix",
    build=_build,
    path_keys=("pages_file",),
    schema={
        "required": ["homeserver", "site"],
        "properties": {
            "homeserver": {
                "type": "string",
                "pattern": "^https?://[^\\s]+$",
                "examples": ["https://matrix.example.org"],
            },
            "server_name": {
                "type": "string",
                "minLength": 1,
                "examples": ["example.org"],
                "description": "alias server part; default: the homeserver's host",
            },
            "site": {
                "type": "string",
                "pattern": "^[^_\\s]+$",
                "examples": ["myblog"],
                "description": "your Cactus site name",
            },
            "prefix": {"type": "string", "examples": ["comments_"]},
            "token_env": {
                "type": "string",
                "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
                "examples": ["MATRIX_ACCESS_TOKEN"],
                "description": "unset or empty: read as a guest",
            },
            "discover": {"enum": list(DISCOVERY_MODES)},
            "pages_file": {
                "type": "string",
                "minLength": 1,
                "examples": ["pages.csv"],
                "description": "columns: section_id[,uri[,title]]",
            },
        },
        # discover defaults to pages_file, which needs the file
        "if": {"properties": {"discover": {"const": "pages_file"}}},
        "then": {"required": ["pages_file"]},
    },
)
