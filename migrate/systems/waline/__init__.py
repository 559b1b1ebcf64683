"""Waline (https://waline.js.org): its server as a source (the administrator's export) and a
target (the administrator's import endpoint), and its export file both ways."""

from migrate.systems.waline.export import WalineFileTarget
from migrate.systems.waline.plugin import SOURCE, TARGET
from migrate.systems.waline.source import WalineSource
from migrate.systems.waline.target import WalineTarget

__all__ = ["SOURCE", "TARGET", "WalineFileTarget", "WalineSource", "WalineTarget"]
