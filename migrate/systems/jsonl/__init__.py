"""JSON Lines: one page per line, for scripts and any importer of one's own."""

from migrate.systems.jsonl.target import PLUGIN as TARGET
from migrate.systems.jsonl.target import JsonlTarget

__all__ = ["TARGET", "JsonlTarget"]
