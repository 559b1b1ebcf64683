"""The WordPress source's plugin: `path` (a WXR, plain or gzip) and `pingbacks`."""

from __future__ import annotations

from migrate.files.export_source import export_plugin
from migrate.systems.wordpress.source import WordPressSource

PLUGIN = export_plugin(
    "wordpress",
    lambda path, section: WordPressSource(path, pingbacks=bool(section.get("pingbacks", False))),
    "example.WordPress.xml",
    pingbacks={"type": "boolean", "description": "keep pingbacks and trackbacks"},
)
