"""The commento plugins: `[source] path = "commento-export.json.gz"` (keep_ip),
`[target] output = "commento.json.gz"` (site_url gives the domain)."""

from __future__ import annotations

from migrate.files.derived import export_file_plugin
from migrate.files.export_source import export_source_plugin
from migrate.systems.commento.source import CommentoSource
from migrate.systems.commento.target import CommentoTarget

SOURCE = export_source_plugin("commento", CommentoSource, example="commento-export.json.gz")
TARGET = export_file_plugin(CommentoTarget, {})
