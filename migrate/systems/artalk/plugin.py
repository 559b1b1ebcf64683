"""The artalk plugins: `[source] path = "artrans.json"` (keep_ip, timezone),
`[target] output = "artrans.json"` (site_name, or site_url's host)."""

from __future__ import annotations

from migrate.files.derived import export_file_plugin
from migrate.files.export_source import export_source_plugin
from migrate.systems.artalk.source import ArtalkSource
from migrate.systems.artalk.target import ArtalkTarget

SOURCE = export_source_plugin(
    "artalk", ArtalkSource, {"timezone": {"type": "string"}}, example="artalk-export.artrans"
)
TARGET = export_file_plugin(ArtalkTarget, {"site_name": {"type": "string", "minLength": 1}})
