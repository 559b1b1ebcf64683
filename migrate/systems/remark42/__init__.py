"""Remark42: its native backup in, the backup `remark42 restore` reads out."""

from migrate.systems.remark42.plugin import SOURCE, TARGET
from migrate.systems.remark42.source import Remark42Source
from migrate.systems.remark42.target import Remark42Target

__all__ = ["SOURCE", "TARGET", "Remark42Source", "Remark42Target"]
