"""Twikoo: its comment export in (a source only: Twikoo imports through its own admin)."""

from migrate.files.export_source import export_source_plugin
from migrate.systems.twikoo.source import TwikooSource

SOURCE = export_source_plugin("twikoo", TwikooSource, example="twikoo-comments.json")

__all__ = ["SOURCE", "TwikooSource"]
