"""Commento and Comentario: their JSON exports in (versions 1 and 3), the Commento JSON they
import out."""

from migrate.systems.commento.plugin import SOURCE, TARGET
from migrate.systems.commento.source import CommentoSource
from migrate.systems.commento.target import CommentoTarget

__all__ = ["SOURCE", "TARGET", "CommentoSource", "CommentoTarget"]
