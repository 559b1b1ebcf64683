"""Disqus: the XML file Disqus imports."""

from migrate.systems.disqus.target import PLUGIN as TARGET
from migrate.systems.disqus.target import DisqusTarget

__all__ = ["TARGET", "DisqusTarget"]
