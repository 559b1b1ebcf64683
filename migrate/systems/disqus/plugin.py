"""The Disqus source's plugin: `path` (plain or gzip), and `uri_template` for threads that
have no link."""

from __future__ import annotations

from migrate.config import DEFAULT_URI, RunConfig, SectionConfig
from migrate.plugins import SourcePlugin
from migrate.systems.disqus.source import DisqusSource


def _build(section: SectionConfig, run: RunConfig) -> DisqusSource:
    path = section.path("path")
    assert path is not None  # the plugin's schema requires it
    return DisqusSource(path, uri_template=section.text("uri_template", DEFAULT_URI))


PLUGIN = SourcePlugin(
    name="disqus",
    build=_build,
    path_keys=("path",),
    schema={
        "required": ["path"],
        "properties": {
            "path": {
                "type": "string",
                "minLength": 1,
                "examples": ["disqus-export.xml.gz"],
                "description": "the Disqus export, plain or gzip",
            }
        },
    },
)
