"""Artalk: Artrans JSON in, the Artrans `artalk import` reads out."""

from migrate.systems.artalk.plugin import SOURCE, TARGET
from migrate.systems.artalk.source import ArtalkSource
from migrate.systems.artalk.target import ArtalkTarget

__all__ = ["SOURCE", "TARGET", "ArtalkSource", "ArtalkTarget"]
