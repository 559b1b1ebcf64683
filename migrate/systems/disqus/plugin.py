"""The Disqus source's plugin: `path` (plain or gzip), and `uri_template` for threads that
have no link."""

from __future__ import annotations

from migrate.config import DEFAULT_URI
from migrate.files.export_source import export_plugin
from migrate.systems.disqus.source import DisqusSource

PLUGIN = export_plugin(
    "disqus",
    lambda path, section: DisqusSource(
        path, uri_template=section.text("uri_template", DEFAULT_URI)
    ),
    "disqus-export.xml.gz",
)
