"""Isso: its comment API as a target (and the files its `isso import` reads, via wordpress)."""

from migrate.systems.isso.target import PLUGIN as TARGET
from migrate.systems.isso.target import IssoTarget

__all__ = ["TARGET", "IssoTarget"]
