"""Any HTTP comment API that follows the contract in docs/, the bundled Worker among them."""

from migrate.systems.http.target import PLUGIN as TARGET
from migrate.systems.http.target import HttpTarget

__all__ = ["TARGET", "HttpTarget"]
