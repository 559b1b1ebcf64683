"""The archive source's plugin: one key, `path`."""

from __future__ import annotations

from migrate.config import RunConfig, SectionConfig
from migrate.plugins import SourcePlugin
from migrate.systems.archive.reader import ArchiveSource


def _build(section: SectionConfig, run: RunConfig) -> ArchiveSource:
    path = section.path("path")
    assert path is not None  # the plugin's schema requires it
    return ArchiveSource(path)


PLUGIN = SourcePlugin(
    name="archive",
    build=_build,
    path_keys=("path",),
    schema={
        "required": ["path"],
        "properties": {
            "path": {
                "type": "string",
                "minLength": 1,
                "examples": ["site.archive.jsonl"],
                "description": "made by `comment-migrate extract`",
            }
        },
    },
)
