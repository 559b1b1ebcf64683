"""The WordPress source's plugin: `path` (a WXR, plain or gzip) and `pingbacks`."""

from __future__ import annotations

from migrate.config import RunConfig, SectionConfig
from migrate.plugins import SourcePlugin
from migrate.systems.wordpress.source import WordPressSource


def _build(section: SectionConfig, run: RunConfig) -> WordPressSource:
    path = section.path("path")
    assert path is not None  # the plugin's schema requires it
    return WordPressSource(path, pingbacks=bool(section.get("pingbacks", False)))


PLUGIN = SourcePlugin(
    name="wordpress",
    build=_build,
    path_keys=("path",),
    schema={
        "required": ["path"],
        "properties": {
            "path": {
                "type": "string",
                "minLength": 1,
                "examples": ["example.WordPress.xml"],
                "description": "the WXR export, plain or gzip",
            },
            "pingbacks": {"type": "boolean", "description": "keep pingbacks and trackbacks"},
        },
    },
)
