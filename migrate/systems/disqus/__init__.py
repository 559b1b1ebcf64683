"""Disqus: its XML export read as a source, and the XML file Disqus imports written."""

from migrate.systems.disqus.plugin import PLUGIN as SOURCE
from migrate.systems.disqus.source import DisqusSource
from migrate.systems.disqus.target import PLUGIN as TARGET
from migrate.systems.disqus.target import DisqusTarget

__all__ = ["SOURCE", "TARGET", "DisqusSource", "DisqusTarget"]
