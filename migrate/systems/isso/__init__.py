"""Isso: its comment API as a target (and the files its `isso import` reads, via wordpress),
and its SQLite database as a source."""

from migrate.systems.isso.source import PLUGIN as SOURCE
from migrate.systems.isso.source import IssoSource
from migrate.systems.isso.target import PLUGIN as TARGET
from migrate.systems.isso.target import IssoTarget

__all__ = ["SOURCE", "TARGET", "IssoSource", "IssoTarget"]
